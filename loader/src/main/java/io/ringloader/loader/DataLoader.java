package io.ringloader.loader;

import io.ringloader.batch.BatchLayout;
import io.ringloader.batch.BatchReader;
import io.ringloader.batch.ColumnLayout;
import io.ringloader.batch.RecordHeader;
import io.ringloader.batch.SchemaLayout;
import io.ringloader.data.Dataset;
import io.ringloader.data.IterableDataset;
import io.ringloader.data.MapDataset;
import io.ringloader.os.JvmFlags;
import io.ringloader.os.SharedMemory;
import io.ringloader.ring.PeerDiedException;
import io.ringloader.ring.RingClosedException;
import io.ringloader.ring.RingDescriptor;
import io.ringloader.ring.RingException;
import io.ringloader.ring.RingRecord;
import io.ringloader.sampler.BatchSampler;
import io.ringloader.sampler.Sampler;
import io.ringloader.worker.Recipe;
import io.ringloader.worker.ProcessWorker;
import io.ringloader.worker.Worker;
import io.ringloader.worker.WorkerFailure;
import io.ringloader.worker.WorkerMode;
import io.ringloader.worker.WorkerPool;
import io.ringloader.worker.WorkerSpec;
import io.ringloader.worker.WorkerTmpDir;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Batches of a dataset, built by worker processes (or threads) straight into shared memory, handed to
 * the trainer without a copy. Each {@link #iterator()} is one epoch.
 *
 * <pre>{@code
 * try (var loader = DataLoader.builder(dataset).batchSize(256).shuffle(true).seed(42).numWorkers(4).build()) {
 *     for (int epoch = 0; epoch < 3; epoch++)
 *         for (Batch batch : loader)
 *             try (batch) { VectorSchemaRoot root = batch.root(); ... }
 * }
 * }</pre>
 *
 * <h2>Shutdown</h2>
 * Workers stop when the loader is closed, at the end of an epoch unless {@code persistentWorkers}, when
 * an epoch is abandoned for a new one (ditto), after a worker fails, and when the JVM exits (a shutdown
 * hook closes every open loader). Closing the loader first runs its {@link #onClose} hooks, outside its
 * lock: what reads the loader on a thread of its own (a {@code DjlDataset}'s prefetch thread) stops and
 * hands back the batches it prepared before the rings close under it. Stopping a worker then goes:
 * <ol>
 *   <li>Close both of its rings. The worker wakes wherever it waits (for a request, or for space in a
 *       ring the trainer still fills) and sees the closed ring: no further batch is started.</li>
 *   <li>Give it a grace period to leave its loop and run its dataset's {@code close()}: its connections
 *       and runtimes end cleanly, as the dataset wrote them to.</li>
 *   <li>Then SIGKILL it and every process it started: a worker stuck in native code, or a dataset's
 *       helper process that ignores SIGTERM, cannot outlive the loader.</li>
 *   <li>Unmap its shared memory only when the trainer has closed every batch of it: the batches'
 *       Arrow buffers point into it, and unmapping under them would crash the JVM.</li>
 * </ol>
 * If the trainer's process itself dies, even by SIGKILL, each worker gets SIGKILL from the kernel
 * ({@code PR_SET_PDEATHSIG}), and its shared memory goes with the last mapping: the name was unlinked
 * as soon as the worker had mapped it.
 */
public final class DataLoader implements Iterable<Batch>, AutoCloseable {

    /** How long a worker may take to deliver a batch when {@link Builder#timeout} is not set. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(5);
    /** How long a stopping worker gets to close its dataset before it is killed. */
    static final long STOP_GRACE_MILLIS = 2000;
    private static final long POLL_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private static final Set<DataLoader> OPEN = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> List.copyOf(OPEN).forEach(DataLoader::close), "ringloader-shutdown"));
        SharedMemory.removeStale();
    }

    private final Dataset dataset;
    private final Recipe recipe;
    private final Schema schema;
    private final List<ColumnLayout> columns;
    private final BatchSampler batchSampler;
    private final int batchSize;
    private final long seed;
    private final WorkerMode mode;
    private final int numWorkers;
    private final int prefetch;
    private final boolean inOrder;
    private final boolean persistent;
    private final Duration timeout;
    private final List<String> jvmOptions;
    private final long batchRingBytes;
    private final long requestRingBytes;
    private final int rank;
    private final int worldSize;
    private final boolean pinWorkers;

    private final BufferAllocator allocator = new RootAllocator();
    private final BatchReader reader;
    private final AtomicInteger liveBatches = new AtomicInteger();
    private List<Worker> workers;
    /** The workers' java.io.tmpdir, removed at close(). */
    private Path tmpDir;
    private final boolean warmWorkers;
    private Iterator<Batch> current;
    private int nextEpoch;
    private volatile boolean closed;
    private DataLoaderException failure;
    /** What is built on this loader and must stop before it does (see {@link #onClose}). */
    private final List<Runnable> closeHooks = new CopyOnWriteArrayList<>();

    // statistics
    private final AtomicLong batches = new AtomicLong(), samples = new AtomicLong(), waitNanos = new AtomicLong();
    private long firstNext, lastNext;
    private final AtomicLongArray workerBatches, workerBusy;

    private DataLoader(Builder b) {
        this.dataset = b.dataset;
        this.schema = dataset.sampleSchema();
        this.columns = SchemaLayout.of(schema); // fails early on an unsupported column
        BatchLayout layout = new BatchLayout(columns);
        this.recipe = Recipe.of(dataset);
        this.batchSize = b.batchSize;
        this.seed = b.seed;
        this.mode = b.numWorkers == 0 ? WorkerMode.INLINE : b.mode;
        this.numWorkers = mode == WorkerMode.INLINE ? 1 : b.numWorkers;
        this.inOrder = b.inOrder;
        this.persistent = b.persistentWorkers;
        this.timeout = b.timeout;
        this.jvmOptions = List.copyOf(b.jvmOptions);
        this.rank = b.rank;
        this.worldSize = b.worldSize;
        this.pinWorkers = b.pinWorkers && mode != WorkerMode.INLINE;
        this.warmWorkers = b.warmWorkers && mode == WorkerMode.PROCESS;
        if (dataset instanceof MapDataset) {
            Sampler sampler = b.sampler != null ? b.sampler
                    : b.worldSize > 1 ? Sampler.distributed(b.rank, b.worldSize, b.shuffle)
                    : b.shuffle ? Sampler.shuffled() : Sampler.sequential();
            this.batchSampler = b.batchSampler != null ? b.batchSampler : BatchSampler.of(sampler, b.batchSize, b.dropLast);
        } else {
            if (b.sampler != null || b.batchSampler != null || b.shuffle) {
                throw new IllegalArgumentException("a streaming (iterable) dataset has no sampler: its workers read their shards in order."
                        + " Drop shuffle/sampler/batchSampler, or make it a MapDataset.");
            }
            this.batchSampler = null;
        }
        long estimate = RecordHeader.LENGTH + layout.metaReserve() + layout.fixedBodyBytes(b.batchSize)
                + layout.columns().stream().filter(c -> c.kind() == ColumnLayout.Kind.VARIABLE)
                .mapToLong(c -> 256L * b.batchSize + 4096).sum();
        this.prefetch = mode == WorkerMode.INLINE ? 1 : b.prefetchFactor > 0 ? b.prefetchFactor : defaultPrefetch(estimate);
        // Room for the batches in flight plus two the trainer may hold; a batch can never be larger than its ring.
        this.batchRingBytes = b.ringBytes > 0 ? b.ringBytes
                : Math.max(4L << 20, RingDescriptor.capacityFor((prefetch + 2L) * RingDescriptor.frameLength(estimate)));
        if (RingDescriptor.frameLength(estimate) > RingDescriptor.capacityFor(batchRingBytes)) {
            throw new IllegalArgumentException("a batch of " + b.batchSize + " samples takes about " + estimate
                    + " bytes, more than ringBytes(" + b.ringBytes + "): raise ringBytes or lower batchSize");
        }
        this.requestRingBytes = Math.max(64L << 10, (prefetch + 2L) * RingDescriptor.frameLength(RecordHeader.LENGTH + 8L * b.batchSize));
        this.reader = new BatchReader(schema, allocator);
        this.workerBatches = new AtomicLongArray(numWorkers);
        this.workerBusy = new AtomicLongArray(numWorkers);
        OPEN.add(this);
    }

    /** Bytes of batches the default prefetch keeps in flight per worker. */
    static final long PREFETCH_BYTES = 4L << 20;

    /**
     * PyTorch's 2 batches ahead, or more for small batches: a round trip between trainer and worker costs
     * tens of microseconds, longer than a worker takes to build a small batch, so a worker 2 batches ahead
     * would spend its time waiting for requests. Up to 32 batches, {@link #PREFETCH_BYTES} in all.
     */
    static int defaultPrefetch(long batchBytes) {
        return (int) Math.clamp(PREFETCH_BYTES / Math.max(1, batchBytes), 2, 32);
    }

    /** Batches requested ahead per worker. */
    public int prefetchFactor() {
        return prefetch;
    }

    public static Builder builder(Dataset dataset) {
        return new Builder(dataset);
    }

    /** The Arrow schema of a batch: the dataset's sample schema. */
    public Schema schema() {
        return schema;
    }

    public int numWorkers() {
        return mode == WorkerMode.INLINE ? 0 : numWorkers;
    }

    public WorkerMode mode() {
        return mode;
    }

    /** The pids of the current worker processes (empty for thread and inline workers, or when none run). */
    public synchronized List<Long> workerPids() {
        if (workers == null || mode != WorkerMode.PROCESS) return List.of();
        return workers.stream().map(Worker::pid).toList();
    }

    /** Starts the next epoch; an unfinished previous epoch is abandoned. */
    @Override
    public synchronized Iterator<Batch> iterator() {
        checkUsable();
        if (current instanceof Epoch e && !e.done) e.abandon();
        int epoch = nextEpoch++;
        if (workers == null) workers = startWorkers();
        current = dataset instanceof MapDataset map ? new MapEpoch(map, epoch) : new StreamEpoch(epoch);
        return current;
    }

    private void checkUsable() {
        if (failure != null) throw new IllegalStateException("this DataLoader shut down after an error: " + failure.getMessage(), failure);
        if (closed) throw new IllegalStateException("this DataLoader is closed");
    }

    private List<Worker> startWorkers() {
        return startWorkers(List.of());
    }

    /** Starts the workers; process workers whose JVMs were {@code launched} already just get their segments. */
    private List<Worker> startWorkers(List<ProcessWorker.Launch> launched) {
        if (mode == WorkerMode.PROCESS && tmpDir == null) tmpDir = WorkerTmpDir.create();
        List<Worker> started = new ArrayList<>();
        int[] cpus = pinWorkers ? io.ringloader.os.Posix.allowedCpus() : new int[0];
        try {
            for (int w = 0; w < numWorkers; w++) {
                int cpu = pinWorkers ? cpus[w % cpus.length] : -1;
                WorkerSpec spec = new WorkerSpec(w, numWorkers, seed, rank * numWorkers + w, worldSize * numWorkers,
                        recipe, columns, requestRingBytes, batchRingBytes, jvmOptions, cpu, tmpDir);
                started.add(w < launched.size() ? ProcessWorker.start(spec, launched.get(w)) : Worker.start(mode, spec));
            }
        } catch (RuntimeException e) {
            stop(started);
            throw e;
        }
        return started;
    }

    private static void stop(List<Worker> ws) {
        ws.forEach(Worker::signalStop); // all rings first: the workers wind down in parallel
        for (Worker w : ws) w.stop(STOP_GRACE_MILLIS);
    }

    private synchronized void stopWorkers() {
        if (workers == null) return;
        stop(workers);
        workers = null;
    }

    /**
     * Runs {@code hook} when this loader closes, before its workers stop: for what is built on the loader
     * and must not outlive it, such as {@code DjlDataset}'s prefetch thread. A hook runs on the thread that
     * closes the loader, which can be one of the loader's own users after a failure; it must not wait for
     * that thread.
     */
    public void onClose(Runnable hook) {
        closeHooks.add(hook);
    }

    /** Stops every worker and frees what the loader holds (shared memory once the trainer closed its batches). */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) return;
            closed = true;
            OPEN.remove(this);
        }
        // Outside the lock: a hook waits for a thread of its own, which may be on its way into fail().
        for (Runnable hook : closeHooks) {
            try {
                hook.run();
            } catch (RuntimeException e) {
                System.err.println("ringloader: a close hook of a DataLoader failed: " + e);
            }
        }
        synchronized (this) {
            stopWorkers();
            deleteTmpDir();
            if (liveBatches.get() == 0) allocator.close();
        }
    }

    private void deleteTmpDir() {
        if (tmpDir == null) return;
        WorkerTmpDir.delete(tmpDir);
        tmpDir = null;
    }

    private DataLoaderException fail(DataLoaderException e) {
        synchronized (this) {
            if (failure == null) failure = e;
        }
        close();
        return e;
    }

    /** Counters of what the loader has done; see {@link LoaderStats}. */
    public LoaderStats stats() {
        List<Worker> ws;
        synchronized (this) {
            ws = workers;
        }
        List<LoaderStats.WorkerStats> per = new ArrayList<>();
        for (int w = 0; w < numWorkers; w++) {
            Worker worker = ws == null ? null : ws.get(w);
            per.add(new LoaderStats.WorkerStats(w, worker == null ? -1 : worker.pid(), workerBatches.get(w),
                    Duration.ofNanos(workerBusy.get(w)), worker == null ? 0 : worker.batches().occupancy(),
                    worker == null ? batchRingBytes : worker.batches().capacity()));
        }
        return new LoaderStats(batches.get(), samples.get(), Duration.ofNanos(waitNanos.get()),
                Duration.ofNanos(lastNext - firstNext), List.copyOf(per));
    }

    // ------------------------------------------------------------------------------------ epochs

    /** What both kinds of epoch share: receiving records from a worker, and turning them into batches. */
    private abstract class Epoch implements Iterator<Batch> {
        final int epoch;
        final List<Worker> ws;
        boolean done;
        boolean abandoned;

        Epoch(int epoch) {
            this.epoch = epoch;
            this.ws = workers;
        }

        /** The trainer moved on to a new epoch before this one ended. */
        void abandon() {
            done = true;
            abandoned = true;
            if (!persistent) stopWorkers();
            // Persistent workers finish the requests already sent; their records are skipped by epoch.
        }

        void finish() {
            done = true;
            if (!persistent) stopWorkers();
        }

        /** For next(): an abandoned epoch or a failed loader is an error, not just the end. */
        void checkLive() {
            if (abandoned) throw new IllegalStateException("epoch " + epoch + " was abandoned when a newer epoch started");
            checkUsable();
        }

        /**
         * The next record of this epoch from {@code w}, waiting up to {@code waitNanos}; null on timeout.
         * READY records are noted and skipped, records of an abandoned epoch are released and skipped,
         * and failures become exceptions.
         */
        RingRecord poll(Worker w, long waitNanos, Supplier<String> what) {
            long deadline = System.nanoTime() + waitNanos;
            while (true) {
                RingRecord r;
                try {
                    w.beforeRead();
                    r = w.batches().read(Math.max(0, deadline - System.nanoTime()));
                } catch (RingClosedException | PeerDiedException e) {
                    if (closed) throw new IllegalStateException("the DataLoader was closed while waiting for " + what.get());
                    throw fail(died(w, what.get()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for " + what.get(), e);
                }
                if (r == null) {
                    if (!w.isAlive()) throw fail(died(w, what.get()));
                    return null;
                }
                int kind = r.payload().get(JAVA_INT, RecordHeader.KIND);
                int recordEpoch = r.payload().get(JAVA_INT, RecordHeader.EPOCH);
                if (kind == RecordHeader.READY) {
                    w.markReady();
                    w.release(r, false);
                    continue;
                }
                if (kind == RecordHeader.ERROR) {
                    WorkerFailure f = WorkerFailure.of(r.payload());
                    w.release(r, false);
                    if (f.phase().equals("open")) {
                        throw fail(new WorkerStartException(w.describe() + " could not start: " + f.summary(), w.id(), w.pid(),
                                f.cause(w.classLoader())));
                    }
                    if (recordEpoch != epoch) continue; // a failure in an abandoned epoch: nobody waits for it
                    throw fail(new SampleReadException("sample " + f.sampleIndex() + " failed in " + w.describe() + ", in " + what.get()
                            + ": " + f.summary(), w.id(), w.pid(), f.sampleIndex(), f.cause(w.classLoader())));
                }
                if (recordEpoch != epoch) {
                    w.release(r, false);
                    continue;
                }
                return r;
            }
        }

        /** Waits for {@code w}'s next record, however long, until the loader's timeout declares it hung. */
        RingRecord await(Worker w, Supplier<String> what, long startedNanos) {
            while (true) {
                RingRecord r = poll(w, POLL_SLICE_NANOS, what);
                if (r != null) return r;
                if (System.nanoTime() - startedNanos > timeout.toNanos()) throw fail(hung(w, what.get()));
            }
        }

        /** A worker that died: before it was ready (it could not start) or while we waited for {@code what}. */
        DataLoaderException died(Worker w, String what) {
            String tail = String.join("\n  ", w.stderrTail());
            String phase = w.isReady() ? "while the trainer waited for " + what : "before it was ready (while starting or opening the dataset)";
            // A JVM that cannot start (two collectors, a heap it cannot reserve) says why on stdout.
            String out = w.isReady() ? "" : String.join("\n  ", w.stdoutTail());
            String message = w.describe() + " " + w.exitDescription() + " " + phase
                    + (tail.isEmpty() ? "" : ". The last lines of its stderr:\n  " + tail)
                    + (out.isEmpty() ? "" : (tail.isEmpty() ? "." : "\n") + " The last lines of its stdout:\n  " + out);
            return w.isReady() ? new WorkerDiedException(message, w.id(), w.pid()) : new WorkerStartException(message, w.id(), w.pid(), null);
        }

        WorkerHungException hung(Worker w, String what) {
            // A worker also "hangs" when the trainer keeps its batches: its ring fills and it waits for space.
            int held = w.held();
            String holding = held == 0 ? "" : " Note that the trainer still holds " + held + (held == 1 ? " batch" : " batches")
                    + " of this worker, taking " + w.batches().occupancy() + " of its " + w.batches().capacity()
                    + " ring bytes: if the dump shows the worker waiting in claim(), close batches when done with them,"
                    + " or raise ringBytes.";
            String dump = w.threadDump();
            w.kill();
            return new WorkerHungException(w.describe() + " did not deliver " + what + " within the timeout of " + timeout.toSeconds()
                    + " s (DataLoader.Builder.timeout; default " + DEFAULT_TIMEOUT.toMinutes() + " min), so it was killed."
                    + holding + " Its thread dump follows.", w.id(), w.pid(), dump);
        }

        Batch toBatch(Worker w, RingRecord r, long index, long[] indices) {
            var record = r.payload();
            workerBatches.incrementAndGet(w.id());
            workerBusy.addAndGet(w.id(), record.get(JAVA_LONG, RecordHeader.BUSY_NANOS));
            w.hold();
            liveBatches.incrementAndGet();
            VectorSchemaRoot root;
            try {
                root = reader.read(record, () -> released(w, r));
            } catch (RuntimeException e) {
                released(w, r);
                throw e;
            }
            if (batches.incrementAndGet() == 1 && warmWorkers) {
                // Workers are up and delivering: now boot spares for the next loader, not while ours boot.
                WorkerPool.keep(jvmOptions, numWorkers);
            }
            samples.addAndGet(root.getRowCount());
            return new Batch(root, reader, epoch, index, indices, w.id());
        }

        void timed(long startedNanos) {
            long now = System.nanoTime();
            if (firstNext == 0) firstNext = startedNanos;
            lastNext = now;
            waitNanos.addAndGet(now - startedNanos);
        }
    }

    /** Runs on whatever thread closes a batch. */
    private void released(Worker w, RingRecord r) {
        w.release(r, true);
        if (liveBatches.decrementAndGet() == 0 && closed) {
            synchronized (this) {
                allocator.close();
            }
        }
    }

    static String describe(long[] indices) {
        if (indices == null) return "";
        String first = Arrays.stream(indices).limit(8).mapToObj(Long::toString).collect(Collectors.joining(", "));
        return " (samples " + first + (indices.length > 8 ? ", ... " + indices.length + " in all" : "") + ")";
    }

    /** An epoch of a map-style dataset: batch k goes to worker k % numWorkers, prefetchFactor ahead per worker. */
    private final class MapEpoch extends Epoch {
        private final List<long[]> plan;
        private final int window;
        private int delivered;
        private int sent;
        /** Per worker, the batches asked of it and not yet delivered, oldest first: it is building the first. */
        private final ArrayDeque<Integer>[] pending;
        private int rotor;

        MapEpoch(MapDataset map, int epoch) {
            super(epoch);
            this.plan = batchSampler.batches(map.size(), seed, epoch);
            this.window = ws.size() * prefetch;
            @SuppressWarnings("unchecked")
            ArrayDeque<Integer>[] p = new ArrayDeque[ws.size()];
            for (int w = 0; w < p.length; w++) p[w] = new ArrayDeque<>();
            this.pending = p;
            refill();
            if (plan.isEmpty()) finish();
        }

        private void send(int k, int w) {
            try {
                ws.get(w).requestBatch(epoch, k, plan.get(k));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while sending a request", e);
            } catch (IllegalStateException | RingException e) {
                // Its rings closed when it exited: report how, and the batch it was building.
                int building = pending[w].isEmpty() ? k : pending[w].peek();
                throw fail(died(ws.get(w), what(building)));
            }
            pending[w].add(k);
            sent++;
        }

        @Override
        public boolean hasNext() {
            return !done && delivered < plan.size();
        }

        @Override
        public Batch next() {
            checkLive();
            if (!hasNext()) throw new NoSuchElementException("epoch " + epoch + " has no more batches");
            long t0 = System.nanoTime();
            Batch b = inOrder ? nextInOrder(t0) : nextInArrivalOrder(t0);
            timed(t0);
            if (++delivered == plan.size()) finish();
            else refill();
            return b;
        }

        /**
         * Tops the requests in flight back up to the window, but only once half of it has been delivered:
         * a worker that is ahead and waits for requests is then woken once per half window, not once per
         * batch (each wake-up costs the 2-core machine more than building a small batch).
         */
        private void refill() {
            if (sent - delivered > window / 2) return;
            while (sent < plan.size() && sent - delivered < window) send(sent, inOrder ? sent % ws.size() : leastBusy());
        }

        private int leastBusy() {
            int best = 0;
            for (int w = 1; w < pending.length; w++) if (pending[w].size() < pending[best].size()) best = w;
            return best;
        }

        private String what(int k) {
            return "batch " + k + " of epoch " + epoch + describe(plan.get(k));
        }

        private Batch nextInOrder(long t0) {
            int k = delivered, w = k % ws.size();
            RingRecord r = await(ws.get(w), () -> what(k), t0);
            long seq = r.payload().get(JAVA_LONG, RecordHeader.SEQ);
            if (seq != k) {
                ws.get(w).release(r, false);
                throw new IllegalStateException(ws.get(w).describe() + " sent batch " + seq + " where batch " + k + " was due");
            }
            pending[w].poll();
            return toBatch(ws.get(w), r, k, plan.get(k));
        }

        private Batch nextInArrivalOrder(long t0) {
            int n = ws.size();
            while (true) {
                for (int i = 0; i < n; i++) {
                    int w = (rotor + i) % n;
                    if (pending[w].isEmpty()) continue;
                    int due = pending[w].peek();
                    RingRecord r = poll(ws.get(w), 0, () -> what(due));
                    if (r != null) return deliver(w, r);
                }
                // Nothing yet: sleep on the first busy worker's ring for a moment, then look at all again.
                int w = rotor % n;
                while (pending[w].isEmpty()) w = (w + 1) % n;
                int due = pending[w].peek();
                RingRecord r = poll(ws.get(w), TimeUnit.MILLISECONDS.toNanos(1), () -> what(due));
                if (r != null) return deliver(w, r);
                if (System.nanoTime() - t0 > timeout.toNanos()) throw fail(hung(ws.get(w), what(pending[w].peek())));
            }
        }

        private Batch deliver(int w, RingRecord r) {
            int k = (int) r.payload().get(JAVA_LONG, RecordHeader.SEQ);
            pending[w].remove(k);
            rotor = w + 1;
            return toBatch(ws.get(w), r, k, plan.get(k));
        }
    }

    /**
     * An epoch of a streaming dataset: each worker streams its own shard; batches are taken from the
     * workers in turn (as PyTorch does), skipping a worker once its shard is exhausted.
     */
    private final class StreamEpoch extends Epoch {
        private final boolean[] exhausted;
        private final long[] requested;
        private final long[] received;
        private int rotor;
        private Batch pending;

        StreamEpoch(int epoch) {
            super(epoch);
            int n = ws.size();
            exhausted = new boolean[n];
            requested = new long[n];
            received = new long[n];
            for (int w = 0; w < n; w++) refill(w);
        }

        private void request(int w) {
            try {
                ws.get(w).requestStream(epoch, requested[w]++, batchSize);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while sending a request", e);
            } catch (IllegalStateException | RingException e) {
                throw fail(died(ws.get(w), "batch " + requested[w] + " of worker " + w + "'s shard in epoch " + epoch));
            }
        }

        /** Tops worker {@code w}'s requests up to prefetchFactor once half are answered (see MapEpoch.refill). */
        private void refill(int w) {
            if (requested[w] - received[w] > prefetch / 2) return;
            while (requested[w] - received[w] < prefetch) request(w);
        }

        @Override
        public boolean hasNext() {
            if (pending != null) return true;
            if (done) return false;
            long t0 = System.nanoTime();
            pending = advance(t0);
            timed(t0);
            return pending != null;
        }

        @Override
        public Batch next() {
            if (pending == null) checkLive();
            if (!hasNext()) throw new NoSuchElementException("epoch " + epoch + " has no more batches");
            Batch b = pending;
            pending = null;
            return b;
        }

        private Batch advance(long t0) {
            checkUsable();
            int n = ws.size();
            for (int tries = 0; tries < n; tries++) {
                int w = (rotor + tries) % n;
                if (exhausted[w]) continue;
                Worker worker = ws.get(w);
                long due = received[w];
                int shardOf = w;
                RingRecord r = await(worker, () -> "batch " + due + " of worker " + shardOf + "'s shard in epoch " + epoch, System.nanoTime());
                long index = received[w]++;
                if (r.payload().get(JAVA_INT, RecordHeader.KIND) == RecordHeader.END) {
                    worker.release(r, false);
                    exhausted[w] = true; // its other requests answer END too; they are skipped next epoch
                    tries = -1; // look at every worker again, starting after this one
                    rotor = w + 1;
                    if (allExhausted()) break;
                    continue;
                }
                rotor = w + 1;
                Batch b = toBatch(worker, r, index, null);
                refill(w);
                return b;
            }
            finish();
            return null;
        }

        private boolean allExhausted() {
            for (boolean e : exhausted) if (!e) return false;
            return true;
        }
    }

    // ------------------------------------------------------------------------------------ builder

    /** Settings of a {@link DataLoader}; {@link #build()} checks them and the dataset. */
    public static final class Builder {
        private final Dataset dataset;
        private int batchSize = 1;
        private boolean shuffle;
        private long seed = 0;
        private boolean dropLast;
        private Sampler sampler;
        private BatchSampler batchSampler;
        private int rank = 0, worldSize = 1;
        private int numWorkers = 0;
        private WorkerMode mode = WorkerMode.PROCESS;
        private int prefetchFactor; // 0: DataLoader.defaultPrefetch
        private boolean inOrder = true;
        private boolean persistentWorkers;
        private Duration timeout = DEFAULT_TIMEOUT;
        private final List<String> jvmOptions = new ArrayList<>();
        private long ringBytes;
        private boolean warmWorkers;
        private boolean pinWorkers;

        private Builder(Dataset dataset) {
            if (dataset == null) throw new IllegalArgumentException("dataset is null");
            this.dataset = dataset;
        }

        /** Samples per batch (default 1). */
        public Builder batchSize(int batchSize) {
            if (batchSize < 1) throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
            this.batchSize = batchSize;
            return this;
        }

        /** A new random order every epoch, from the seed (map-style datasets). */
        public Builder shuffle(boolean shuffle) {
            this.shuffle = shuffle;
            return this;
        }

        /** The seed of the sample order and of every random stream a dataset draws (default 0). */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Drop the last batch of an epoch when it is short. */
        public Builder dropLast(boolean dropLast) {
            this.dropLast = dropLast;
            return this;
        }

        /** A sampler of your own (instead of shuffle). */
        public Builder sampler(Sampler sampler) {
            this.sampler = sampler;
            return this;
        }

        /** A batch sampler of your own (instead of batchSize, shuffle, sampler and dropLast). */
        public Builder batchSampler(BatchSampler batchSampler) {
            this.batchSampler = batchSampler;
            return this;
        }

        /** This trainer is {@code rank} of {@code worldSize}: it reads only its own part of the data. */
        public Builder distributed(int rank, int worldSize) {
            if (worldSize < 1 || rank < 0 || rank >= worldSize) {
                throw new IllegalArgumentException("distributed(rank, worldSize) needs 0 <= rank < worldSize, got " + rank + ", " + worldSize);
            }
            this.rank = rank;
            this.worldSize = worldSize;
            return this;
        }

        /** Worker count; 0 (the default) builds batches on the calling thread. */
        public Builder numWorkers(int numWorkers) {
            if (numWorkers < 0) throw new IllegalArgumentException("numWorkers cannot be negative, got " + numWorkers);
            this.numWorkers = numWorkers;
            return this;
        }

        /** Processes (the default) or threads, when numWorkers > 0. */
        public Builder mode(WorkerMode mode) {
            if (mode == WorkerMode.INLINE) {
                this.numWorkers = 0;
            }
            this.mode = mode;
            return this;
        }

        /** Batches requested ahead per worker (default: 2, or up to 32 for batches under 2 MiB; see the README). */
        public Builder prefetchFactor(int prefetchFactor) {
            if (prefetchFactor < 1) throw new IllegalArgumentException("prefetchFactor must be at least 1, got " + prefetchFactor);
            this.prefetchFactor = prefetchFactor;
            return this;
        }

        /** Deliver batches in sampler order (default), or as they arrive. */
        public Builder inOrder(boolean inOrder) {
            this.inOrder = inOrder;
            return this;
        }

        /** Keep workers across epochs (default: they stop at the end of each epoch). */
        public Builder persistentWorkers(boolean persistentWorkers) {
            this.persistentWorkers = persistentWorkers;
            return this;
        }

        /** The longest a worker may take to deliver a batch before it is declared hung (default 5 minutes). */
        public Builder timeout(Duration timeout) {
            if (timeout.isNegative() || timeout.isZero()) throw new IllegalArgumentException("timeout must be positive, got " + timeout);
            this.timeout = timeout;
            return this;
        }

        /** Extra JVM options for process workers, e.g. {@code -Xmx4g} (the default heap is 1 GiB). */
        public Builder workerJvmOptions(String... options) {
            jvmOptions.addAll(List.of(options));
            return this;
        }

        /**
         * Pin worker i to the i-th CPU this process may use (round robin), leaving the trainer free to run
         * anywhere. Worth it on a machine of your own with CPU-bound datasets: Linux otherwise moves busy
         * workers around as the trainer wakes, and two can share a core for a while. Off by default, as in
         * PyTorch: two pinned loaders on one machine would share the same CPUs.
         */
        public Builder pinWorkers(boolean pinWorkers) {
            this.pinWorkers = pinWorkers;
            return this;
        }

        /**
         * Keeps as many spare worker JVMs booted as this loader has workers, for the next loader of this
         * JVM with the same worker JVM options: that loader's workers start in a fraction of the time (a
         * notebook that builds a loader per cell, say). Spares are fresh JVMs that never served a loader;
         * they are started once this loader delivers its first batch, and end with this JVM (or
         * {@link io.ringloader.worker.WorkerPool#shutdown()}). Off by default: spares hold memory (a JVM
         * each) while they wait.
         */
        public Builder warmWorkers(boolean warmWorkers) {
            this.warmWorkers = warmWorkers;
            return this;
        }

        /** Bytes of each worker's batch ring (default: room for prefetchFactor + 2 batches). */
        public Builder ringBytes(long ringBytes) {
            this.ringBytes = ringBytes;
            return this;
        }

        /**
         * Checks the settings, the JVM flags, and the dataset (it must be serializable and hold no live
         * resource in a non-transient field), starts the workers (they boot while you build your model),
         * and returns the loader.
         */
        public DataLoader build() {
            JvmFlags.require("the DataLoader");
            // Process workers' JVMs are started first: they boot while this thread works out the dataset's
            // schema and lays out their segments (on a fresh trainer JVM, loading Arrow's schema classes
            // alone takes a few hundred milliseconds), and while the trainer builds its model.
            List<ProcessWorker.Launch> early = new ArrayList<>();
            Path tmp = null;
            DataLoader loader = null;
            try {
                if (numWorkers > 0 && mode == WorkerMode.PROCESS) {
                    tmp = WorkerTmpDir.create();
                    for (int w = 0; w < numWorkers; w++) early.add(ProcessWorker.launch(w, List.copyOf(jvmOptions), tmp));
                }
                loader = new DataLoader(this);
                synchronized (loader) {
                    loader.tmpDir = tmp;
                    loader.workers = loader.startWorkers(early);
                }
                return loader;
            } catch (RuntimeException e) {
                early.forEach(ProcessWorker.Launch::abandon); // those that became workers are stopped by close()
                if (loader != null) loader.close();
                else if (tmp != null) WorkerTmpDir.delete(tmp);
                throw e;
            }
        }
    }
}
