package io.ringloader.loader;

import io.ringloader.batch.BatchLayout;
import io.ringloader.batch.BatchReader;
import io.ringloader.batch.ColumnLayout;
import io.ringloader.batch.RecordHeader;
import io.ringloader.batch.SchemaLayout;
import io.ringloader.data.Dataset;
import io.ringloader.data.MapDataset;
import io.ringloader.data.Padding;
import io.ringloader.os.JvmFlags;
import io.ringloader.os.SharedMemory;
import io.ringloader.ring.RingRecord;
import io.ringloader.sampler.BatchSampler;
import io.ringloader.sampler.LengthAwareBatchSampler;
import io.ringloader.sampler.Sampler;
import io.ringloader.worker.ProcessWorker;
import io.ringloader.worker.Recipe;
import io.ringloader.worker.Worker;
import io.ringloader.worker.WorkerMode;
import io.ringloader.worker.WorkerPool;
import io.ringloader.worker.WorkerTmpDir;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.types.pojo.Schema;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

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
    /** Replacements of lost workers a loader may make when {@link Builder#maxWorkerRestarts} is not set. */
    public static final int DEFAULT_MAX_WORKER_RESTARTS = 3;
    /**
     * For {@link Builder#numWorkers} and {@link Builder#prefetchFactor}: let the loader choose, and change
     * its choice as it measures (see {@link Builder#numWorkers}).
     */
    public static final int AUTO = -1;
    /** The shards a streaming dataset is cut into (per rank) unless {@link Builder#shards} says otherwise. */
    public static final int DEFAULT_SHARDS = 8;
    /** The share of an epoch's samples that may be skipped with {@code onSampleError(SKIP)} unless set. */
    public static final double DEFAULT_MAX_SKIPPED_FRACTION = 0.01;

    static final Logger LOG = LoggerFactory.getLogger(DataLoader.class);

    private static final Set<DataLoader> OPEN = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> List.copyOf(OPEN).forEach(DataLoader::close), "ringloader-shutdown"));
        SharedMemory.removeStale();
    }

    private final Dataset dataset;
    private final Recipe recipe;
    private final Schema schema;
    private final List<ColumnLayout> columns;
    /** Positions of the padded sequence columns in a batch, for the padding figures of stats(). */
    private final int[] paddedColumns;
    /** Every sample's length, for a length-aware batch sampler; null otherwise. */
    private final int[] lengths;
    private final LoaderSettings settings;
    private final Sizing sizing;

    private final BufferAllocator allocator = new RootAllocator();
    private final BatchReader reader;
    private final AtomicInteger liveBatches = new AtomicInteger();
    private WorkerSet workers;
    /** The workers' java.io.tmpdir, removed at close(). */
    private Path tmpDir;
    private Epoch current;
    private int nextEpoch;
    private volatile boolean closed;
    private DataLoaderException failure;
    /** Set by the first close(): a second close() on another thread waits for it. */
    private CompletableFuture<Void> closing;
    private Thread closingThread;
    /** Stops the workers a failure left behind (see fail()). */
    private Thread reaper;
    /** What is built on this loader and must stop before it does (see {@link #onClose}). */
    private final List<Runnable> closeHooks = new CopyOnWriteArrayList<>();
    private final LoaderCounters counters;
    /** Null unless numWorkers or prefetchFactor is AUTO. */
    private final Autotuner tuner;

    /** With RINGLOADER_TRACE set, the trainer prints its start-up steps too, timed from build(), on stderr. */
    private static final boolean TRACE = System.getenv("RINGLOADER_TRACE") != null;
    /** When build() began (System.nanoTime, the workers' clock too), for the trace; 0 once the first batch is out. */
    private volatile long builtAt;

    static void trace(long since, String step) {
        if (TRACE && since != 0) LOG.info("ringloader trainer start-up: {} at {} ms after build()", step, (System.nanoTime() - since) / 1_000_000);
    }

    /** The first batch reached the caller: the last step of the start-up trace. */
    void firstBatchOut() {
        long since = builtAt;
        if (since == 0) return;
        builtAt = 0;
        trace(since, "first batch delivered");
    }
    /** What the state fingerprints of the order besides the settings: the sampler's and the batch sampler's descriptions. */
    private final String samplerDescription, batchSamplerDescription;
    private final boolean dropLast;
    /** The state the first epoch resumes from, if any; cleared once that epoch starts. */
    private LoaderState resume;
    /** The last epoch's plan, kept: state() at an epoch's end fingerprints the next one, which then uses it. */
    private Plan planned;

    /**
     * The batches of one epoch of a map-style dataset, from the batch sampler alone, and a digest of them
     * for the state's fingerprint.
     */
    record Plan(int epoch, List<long[]> batches, String digest) {
        static Plan of(int epoch, List<long[]> batches) {
            long h = 0x9E3779B97F4A7C15L ^ batches.size();
            for (long[] batch : batches) {
                h = io.ringloader.data.WorkerContext.mix(h + batch.length);
                for (long i : batch) h = io.ringloader.data.WorkerContext.mix(h ^ i) + 0x632BE59BD9B4E019L;
            }
            return new Plan(epoch, batches, String.format("%016x", h));
        }
    }

    private DataLoader(Builder b) {
        this.dataset = b.dataset;
        Schema sampleSchema = dataset.sampleSchema();
        this.columns = SchemaLayout.of(sampleSchema, b.padding); // fails early on an unsupported column
        this.schema = SchemaLayout.batchSchema(sampleSchema, b.padding);
        this.paddedColumns = java.util.stream.IntStream.range(0, columns.size())
                .filter(i -> columns.get(i).padding() != null && columns.get(i).isSampleColumn()).toArray();
        BatchLayout layout = new BatchLayout(columns);
        this.recipe = Recipe.of(dataset);
        List<io.ringloader.remote.RemoteHost> remote = remoteSlots(b);
        // With worker hosts, numWorkers(0) means no local worker (not batches on the calling thread).
        WorkerMode mode = !remote.isEmpty() ? (b.mode == WorkerMode.INLINE ? WorkerMode.PROCESS : b.mode)
                : b.numWorkers == 0 ? WorkerMode.INLINE : b.mode;
        int numWorkers = mode == WorkerMode.INLINE ? 1 : b.numWorkers;
        BatchSampler batchSampler;
        this.dropLast = b.dropLast;
        if (dataset instanceof MapDataset) {
            Sampler sampler = b.sampler != null ? b.sampler
                    : b.worldSize > 1 ? Sampler.distributed(b.rank, b.worldSize, b.shuffle)
                    : b.shuffle ? Sampler.shuffled() : Sampler.sequential();
            batchSampler = b.batchSampler != null ? b.batchSampler : BatchSampler.of(sampler, b.batchSize, b.dropLast);
            this.samplerDescription = b.batchSampler != null ? "(none: a batch sampler of your own)" : describe(sampler);
            this.batchSamplerDescription = describe(batchSampler);
        } else {
            this.samplerDescription = this.batchSamplerDescription = "(none: a streaming dataset)";
            if (b.sampler != null || b.batchSampler != null || b.shuffle) {
                throw new IllegalArgumentException("a streaming (iterable) dataset has no sampler: its workers read their shards in order."
                        + " Drop shuffle/sampler/batchSampler, or make it a MapDataset.");
            }
            batchSampler = null;
        }
        // A length-aware sampler's batches come from the samples' lengths, read once here, in the trainer.
        this.lengths = batchSampler instanceof LengthAwareBatchSampler ? ((MapDataset) dataset).lengths() : null;
        int rows = lengths == null ? b.batchSize : Math.max(1, ((LengthAwareBatchSampler) batchSampler).maxBatchSize(lengths));
        long estimate = RecordHeader.LENGTH + layout.metaReserve() + layout.fixedBodyBytes(rows)
                + layout.columns().stream().filter(c -> c.kind() == ColumnLayout.Kind.VARIABLE || c.kind() == ColumnLayout.Kind.SEQUENCE)
                .mapToLong(c -> (c.padding() != null ? 2 : 1) * (256L * rows + 4096)).sum();
        this.sizing = Sizing.of(mode, numWorkers, b.prefetchFactor, b.ringBytes, b.memoryBudget, estimate, rows, Sizing.cores());
        this.settings = new LoaderSettings(batchSampler, b.batchSize, b.seed, mode, sizing, b.inOrder, b.persistentWorkers,
                b.timeout, List.copyOf(b.jvmOptions), b.rank, b.worldSize,
                b.pinWorkers && mode != WorkerMode.INLINE, b.warmWorkers && mode == WorkerMode.PROCESS,
                b.maxWorkerRestarts, b.onSampleError == SampleErrorPolicy.SKIP, b.maxSkipped, b.maxSkippedFraction, b.shards, remote);
        if (b.resumeFrom != null) {
            checkResumable(b.resumeFrom);
            this.resume = b.resumeFrom;
            this.nextEpoch = b.resumeFrom.epoch();
        }
        this.reader = new BatchReader(schema, allocator);
        this.counters = new LoaderCounters(settings.slots(), sizing.startWorkers(), sizing.batchRingBytes(), settings::hostOf);
        this.tuner = settings.autotuned() ? new Autotuner(settings, counters) : null;
        OPEN.add(this);
    }

    /**
     * A slot per worker of each worker host of {@code remoteWorkers}, each host asked now how many it runs:
     * an unreachable host, or one that refuses the token, fails build() naming it.
     */
    private static List<io.ringloader.remote.RemoteHost> remoteSlots(Builder b) {
        if (b.remoteWorkers.isEmpty()) return List.of();
        io.ringloader.remote.Token token = b.remoteToken != null ? b.remoteToken : io.ringloader.remote.Token.fromEnvironment();
        List<io.ringloader.remote.RemoteHost> slots = new ArrayList<>();
        for (String uri : b.remoteWorkers) {
            io.ringloader.remote.RemoteHost host = io.ringloader.remote.RemoteHost.of(uri, token, b.remoteTrust);
            int n = host.workers(Duration.ofSeconds(10));
            for (int i = 0; i < n; i++) slots.add(host);
        }
        return List.copyOf(slots);
    }

    /**
     * A sampler's type and parameters: a record says both in its toString(); of anything else, the class
     * (a lambda's without the address part of its name, which changes from run to run). A long one (a
     * subset's indices, say) is cut, with a digest of the whole, so that the state stays small.
     */
    static String describe(Object o) {
        String s = o instanceof Record ? o.toString() : o.getClass().getName();
        s = s.replaceAll("\\$\\$Lambda[/0-9a-fx]*", "\\$\\$Lambda").replaceAll("@[0-9a-f]{4,16}\\b", "");
        if (s.length() <= 160) return s;
        long h = 0xcbf29ce484222325L; // FNV-1a
        for (int i = 0; i < s.length(); i++) h = (h ^ s.charAt(i)) * 0x100000001b3L;
        return s.substring(0, 120) + "... (" + s.length() + " chars, digest " + String.format("%016x", h) + ")";
    }

    // ------------------------------------------------------------------------------------ state

    /** Refuses, at build(), a state this loader's order does not match, naming the field and both values. */
    private void checkResumable(LoaderState state) {
        if (!(dataset instanceof MapDataset)) {
            String difference = state.fingerprint().firstDifference(streamFingerprint());
            if (difference != null) {
                throw new IllegalArgumentException("resumeFrom: the state does not match this loader (" + difference + ")."
                        + " A stream's state resumes a loader built with the same batch size, seed, shards, rank and world size"
                        + " (the number of workers and the mode may differ); build the loader as the run that saved it did, or drop resumeFrom.");
            }
            if (state.shards().size() != settings.shards() || state.shardsEnded().stream().anyMatch(s -> s < 0 || s >= settings.shards())) {
                throw new IllegalArgumentException("resumeFrom: the state holds " + state.shards().size() + " shard positions and ends "
                        + state.shardsEnded() + ", for a loader of " + settings.shards() + " shards");
            }
            return;
        }
        Plan p = plan(state.epoch());
        String difference = state.fingerprint().firstDifference(fingerprint(p));
        if (difference != null) {
            throw new IllegalArgumentException("resumeFrom: the state does not match this loader (" + difference + ")."
                    + " A state resumes a loader built with the same dataset, sampler, batch size, dropLast, seed, rank and world size"
                    + " (the number of workers and the mode may differ); build the loader as the run that saved it did, or drop resumeFrom.");
        }
        if (state.batches() > p.batches().size()) {
            throw new IllegalArgumentException("resumeFrom: the state says " + state.batches() + " batches of epoch " + state.epoch()
                    + " were delivered, and the epoch has " + p.batches().size());
        }
        for (long k : state.alsoDelivered()) {
            if (k <= state.batches() || k >= p.batches().size()) {
                throw new IllegalArgumentException("resumeFrom: the state's alsoDelivered holds batch " + k + ", outside ("
                        + state.batches() + ", " + p.batches().size() + ")");
            }
        }
    }

    private LoaderState.Fingerprint fingerprint(Plan p) {
        return new LoaderState.Fingerprint(((MapDataset) dataset).size(), settings.batchSize(), dropLast, settings.seed(), settings.rank(),
                settings.worldSize(), samplerDescription, batchSamplerDescription, p.digest());
    }

    /** The plan of {@code epoch}, from the batch sampler (kept for the next call of the same epoch). */
    private synchronized Plan plan(int epoch) {
        if (planned == null || planned.epoch() != epoch) {
            planned = Plan.of(epoch, lengths != null ? ((LengthAwareBatchSampler) settings.batchSampler()).batches(lengths, settings.seed(), epoch)
                    : settings.batchSampler().batches(((MapDataset) dataset).size(), settings.seed(), epoch));
        }
        return planned;
    }

    LoaderState stateOf(Plan p, long batches, List<Long> alsoDelivered) {
        return new LoaderState(p.epoch(), batches, alsoDelivered, fingerprint(p), List.of(), List.of());
    }

    /** A stream's fingerprint: no size or sampler, its shard count in place of the order's digest. */
    private LoaderState.Fingerprint streamFingerprint() {
        return new LoaderState.Fingerprint(-1, settings.batchSize(), false, settings.seed(), settings.rank(), settings.worldSize(),
                samplerDescription, batchSamplerDescription, "shards=" + settings.shards());
    }

    LoaderState streamStateOf(int epoch, long batches, List<Long> positions, List<Long> ended) {
        return new LoaderState(epoch, batches, List.of(), streamFingerprint(), positions, ended);
    }

    LoaderState streamStartOf(int epoch) {
        return streamStateOf(epoch, 0, java.util.Collections.nCopies(settings.shards(), 0L), List.of());
    }

    LoaderState startOf(int epoch) {
        return stateOf(plan(epoch), 0, List.of());
    }

    /**
     * Where this loader is: after the last batch it handed out (not those prefetched or in flight). Give it
     * to {@link Builder#resumeFrom} to carry on from there, with any number of workers in any mode. Cheap:
     * no worker is asked. After an epoch's last batch, it is the start of the next epoch.
     */
    public LoaderState state() {
        Epoch e;
        synchronized (this) {
            e = current;
        }
        return e == null ? idleState() : e.stateAfter(e.taken());
    }

    /**
     * The state after the first {@code delivered} batches the current epoch handed out: for a reader that
     * hands batches on and has passed only some of them on so far (a {@code DjlDataset}'s prefetch thread).
     */
    public LoaderState state(int delivered) {
        Epoch e;
        synchronized (this) {
            e = current;
        }
        return e == null ? idleState() : e.stateAfter(delivered);
    }

    /** Before the first epoch: the state resumed from, or the start of the first epoch. */
    private synchronized LoaderState idleState() {
        if (resume != null) return resume;
        return dataset instanceof MapDataset ? startOf(nextEpoch) : streamStartOf(nextEpoch);
    }

    // ------------------------------------------------------------------------------------ lost workers

    /** Null if a lost worker may be replaced now, else why not, as a sentence for the error. */
    synchronized String refusedReplacement() {
        if (closed) return " The loader was closed.";
        if (settings.mode() == WorkerMode.INLINE) return "";
        long used = counters.restarts();
        if (used >= settings.maxWorkerRestarts()) {
            return " It was not replaced: the loader has made " + used + " of the " + settings.maxWorkerRestarts()
                    + " replacements that DataLoader.Builder.maxWorkerRestarts allows.";
        }
        return null;
    }

    /** Starts a successor in slot {@code slot} for a worker that was lost; one log line says what happened. */
    synchronized Worker replaceWorker(int slot, Epoch.WorkerLost lost, String building) {
        Worker dead = lost.worker;
        String how = dead.isAlive() ? "hung" : dead.exitDescription();
        long t0 = System.nanoTime();
        Worker fresh = workers.replace(slot);
        counters.restarted();
        LOG.warn("ringloader: {} {} while building {}; replaced by {}, started in {} ms (restart {} of {}, maxWorkerRestarts)",
                dead.describe(), lost.error instanceof WorkerHungException ? "hung and was killed" : how, building, fresh.describe(),
                java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0), counters.restarts(), settings.maxWorkerRestarts());
        return fresh;
    }

    /** Batches requested ahead per worker (now: an autotuned loader's changes as it goes). */
    public int prefetchFactor() {
        return prefetch();
    }

    int prefetch() {
        return tuner != null ? tuner.prefetch() : settings.prefetch();
    }

    /** The autotuner of a loader built with numWorkers(AUTO) or prefetchFactor(AUTO), else null. */
    Autotuner tuner() {
        return tuner;
    }

    int[] paddedColumns() {
        return paddedColumns;
    }

    public static Builder builder(Dataset dataset) {
        return new Builder(dataset);
    }

    /**
     * The Arrow schema of a batch: the dataset's sample schema, with each padded sequence column marked
     * ({@code ringloader.padded}) and followed by the columns its padding adds ({@link Padding}).
     */
    public Schema schema() {
        return schema;
    }

    /** Workers (now: an autotuned loader's changes as it goes); 0 when batches are built on the calling thread. */
    public int numWorkers() {
        if (settings.mode() == WorkerMode.INLINE) return 0;
        return (tuner != null ? tuner.workers() : settings.numWorkers()) + settings.remote().size();
    }

    public WorkerMode mode() {
        return settings.mode();
    }

    /**
     * The pids of the current worker processes on this machine (empty for thread and inline workers, or
     * when none run). Workers on worker hosts are not among them, as their pids are another machine's:
     * {@link #stats()} names them with their host.
     */
    public synchronized List<Long> workerPids() {
        if (workers == null || settings.mode() != WorkerMode.PROCESS) return List.of();
        return workers.list().stream().filter(w -> !(w instanceof io.ringloader.worker.RemoteWorker)).map(Worker::pid).toList();
    }

    /** Starts the next epoch; an unfinished previous epoch is abandoned. */
    @Override
    public synchronized Iterator<Batch> iterator() {
        checkUsable();
        if (current != null && !current.isDone()) current.abandon();
        int epoch = nextEpoch++;
        if (workers == null) workers = startWorkers(List.of());
        else if (!settings.remote().isEmpty()) workers.rejoin();
        if (tuner != null && workers != null && !(dataset instanceof MapDataset)) resize(workers, tuner.workers());
        LoaderState from = resume;
        resume = null;
        current = dataset instanceof MapDataset ? new MapEpoch(this, plan(epoch), from, workers) : new StreamEpoch(this, epoch, workers, from);
        return current;
    }

    /**
     * A stream's worker count changes between epochs (its shards stay with their workers for a whole one):
     * persistent workers are added or retired here, as the autotuner decided in the last epoch.
     */
    private static void resize(WorkerSet ws, int wanted) {
        // This machine's workers only: a worker host's slots are not the autotuner's.
        while (ws.activeHere() + ws.count(WorkerSet.Slot.STARTING) < wanted && ws.add() >= 0) {
            // started; it takes shards of the epoch that begins now
        }
        for (int w = ws.localSlots() - 1; w > 0 && ws.activeHere() > wanted; w--) {
            if (!ws.isActive(w)) continue;
            ws.retire(w);
            ws.remove(w); // what it was still asked for belongs to the epoch that was left, and is not waited for
        }
    }

    void checkUsable() {
        if (failure != null) throw new IllegalStateException("this DataLoader shut down after an error: " + failure.getMessage(), failure);
        if (closed) throw new IllegalStateException("this DataLoader is closed");
    }

    /** Starts the workers; process workers whose JVMs were {@code launched} already just get their segments. */
    private WorkerSet startWorkers(List<ProcessWorker.Launch> launched) {
        if (settings.mode() == WorkerMode.PROCESS && tmpDir == null) tmpDir = WorkerTmpDir.create();
        boolean later = nextEpoch > 0;
        return WorkerSet.start(settings, recipe, columns, tmpDir, launched, tuner != null ? tuner.workers() : settings.numWorkers(), later);
    }

    synchronized void stopWorkers() {
        if (workers == null) return;
        workers.stop();
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

    /**
     * Stops every worker and frees what the loader holds (shared memory once the trainer closed its batches).
     * It does the whole of that whatever the calling thread's interrupt flag (a try-with-resources closes right
     * after an interrupted {@code next()}), and leaves the flag as it found it. A second call, from another
     * thread, returns when the first has finished.
     */
    @Override
    public void close() {
        boolean interrupted = Thread.interrupted();
        try {
            CompletableFuture<Void> done;
            boolean mine;
            synchronized (this) {
                mine = closing == null;
                if (mine) {
                    closing = new CompletableFuture<>();
                    closingThread = Thread.currentThread();
                    closed = true;
                    OPEN.remove(this);
                }
                done = closing;
            }
            if (!mine) {
                if (closingThread != Thread.currentThread()) done.join(); // a close hook that closes the loader again returns
                return;
            }
            try {
                closeNow();
            } finally {
                done.complete(null);
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    private void closeNow() {
        // Outside the lock: a hook waits for a thread of its own, which may be on its way into fail().
        for (Runnable hook : closeHooks) {
            try {
                hook.run();
            } catch (RuntimeException e) {
                LOG.warn("ringloader: a close hook of a DataLoader failed", e);
            }
        }
        Thread stopping;
        synchronized (this) {
            if (current != null) current.releaseSalvaged();
            stopWorkers();
            stopping = reaper;
        }
        if (stopping != null) WorkerSet.joinUninterruptibly(stopping);
        synchronized (this) {
            deleteTmpDir();
            if (liveBatches.get() == 0) allocator.close();
        }
    }

    boolean isClosed() {
        return closed;
    }

    private void deleteTmpDir() {
        if (tmpDir == null) return;
        WorkerTmpDir.delete(tmpDir);
        tmpDir = null;
    }

    /** Records the loader's first failure, shuts it down, and returns {@code e} for the caller to throw. */
    DataLoaderException fail(DataLoaderException e) {
        synchronized (this) {
            if (failure == null) failure = e;
            if (workers != null && !closed) {
                // The workers stop on a thread of their own, so that the error reaches the caller now, not
                // after the grace period of a worker that is busy in a long read; close() waits for them.
                WorkerSet stopping = workers;
                workers = null;
                stopping.signalStop();
                reaper = Thread.ofPlatform().name("ringloader-stop").daemon().start(stopping::stop);
            }
        }
        return e;
    }

    /** Counters of what the loader has done; see {@link LoaderStats}. */
    public LoaderStats stats() {
        WorkerSet ws;
        synchronized (this) {
            ws = workers;
        }
        return counters.snapshot(ws == null ? null : ws::get, tuner == null ? List.of() : tuner.decisions());
    }

    LoaderSettings settings() {
        return settings;
    }

    LoaderCounters counters() {
        return counters;
    }

    BatchReader reader() {
        return reader;
    }

    /** A batch handed to the trainer: the allocator stays open until it is released. */
    void batchTaken() {
        liveBatches.incrementAndGet();
    }

    /** The loader's first batch was delivered: now boot spares for the next loader, not while ours boot. */
    void firstBatchDelivered() {
        if (settings.warmWorkers()) WorkerPool.keep(settings.jvmOptions(), numWorkers());
    }

    /** A delivered batch was closed; runs on whatever thread closes it. */
    void released(Worker w, RingRecord r) {
        w.release(r, true);
        if (liveBatches.decrementAndGet() == 0 && closed) {
            synchronized (this) {
                allocator.close();
            }
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
        private int prefetchFactor; // 0: Sizing.defaultPrefetch
        private long memoryBudget; // 0: Sizing.defaultBudget, for an autotuned loader
        private boolean inOrder = true;
        private boolean persistentWorkers;
        private Duration timeout = DEFAULT_TIMEOUT;
        private final List<String> jvmOptions = new ArrayList<>();
        private long ringBytes;
        private boolean warmWorkers;
        private boolean pinWorkers;
        private LoaderState resumeFrom;
        private int maxWorkerRestarts = DEFAULT_MAX_WORKER_RESTARTS;
        private SampleErrorPolicy onSampleError = SampleErrorPolicy.FAIL;
        private long maxSkipped = -1;
        private double maxSkippedFraction = DEFAULT_MAX_SKIPPED_FRACTION;
        private int shards = DEFAULT_SHARDS;
        private final Map<String, Padding> padding = new LinkedHashMap<>();
        private final List<String> remoteWorkers = new ArrayList<>();
        private io.ringloader.remote.Token remoteToken;
        private Path remoteTrust;

        private Builder(Dataset dataset) {
            if (dataset == null) throw new IllegalArgumentException("dataset is null");
            this.dataset = dataset;
        }

        /**
         * Pads sequence column {@code column} in the workers: each batch's values become one dense
         * {@code [batch, length, ...]} array with {@code <column>_length} beside it (and {@code <column>_mask}
         * if asked), built in shared memory, as a padding {@code collate_fn} would build it in the trainer.
         * See {@link Padding}.
         */
        public Builder pad(String column, Padding padding) {
            if (column == null || padding == null) throw new IllegalArgumentException("pad(column, padding): neither may be null");
            this.padding.put(column, padding);
            return this;
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

        /**
         * Worker count; 0 (the default) builds batches on the calling thread. {@link DataLoader#AUTO} lets the
         * loader choose: it starts with one worker, measures what it measures anyway (how long the trainer
         * waits for data, how busy each worker is, the CPU the trainer's process uses), and adds a worker while
         * the trainer waits and a core is free, or retires one while the workers sit idle, up to a worker per
         * CPU and within {@link #memoryBudget}. It decides again on a schedule that backs off while nothing
         * changes. Workers come and go mid-epoch without losing or repeating a batch, and the batches are the
         * same as with any fixed count: which worker builds a batch changes nothing in it. Each decision is
         * logged (one line) and kept in {@link LoaderStats#tuning()}. A streaming dataset's shards stay with
         * their workers for a whole epoch, so its worker count changes between epochs only.
         */
        public Builder numWorkers(int numWorkers) {
            if (numWorkers < 0 && numWorkers != AUTO) {
                throw new IllegalArgumentException("numWorkers cannot be negative, got " + numWorkers + " (DataLoader.AUTO lets the loader choose)");
            }
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

        /**
         * Batches requested ahead per worker (default: 2, or up to 32 for batches under 2 MiB; see the README).
         * {@link DataLoader#AUTO} starts at 2 and doubles while the trainer waits for data and a worker sits
         * idle, up to 32 and as far as {@link #memoryBudget} has room for.
         */
        public Builder prefetchFactor(int prefetchFactor) {
            if (prefetchFactor < 1 && prefetchFactor != AUTO) {
                throw new IllegalArgumentException("prefetchFactor must be at least 1, got " + prefetchFactor + " (DataLoader.AUTO lets the loader choose)");
            }
            this.prefetchFactor = prefetchFactor;
            return this;
        }

        /**
         * The most shared memory the workers' batch rings may take together, in bytes: the batches built
         * ahead and those the trainer holds live there. An autotuned loader ({@link DataLoader#AUTO}) sizes its
         * rings and its worker count within it; the default is a quarter of the machine's memory, and at most
         * half of what {@code /dev/shm} has free. A fixed loader given one is refused at {@code build()} if its
         * rings would not fit. Too small for two batches is an error naming both sizes.
         */
        public Builder memoryBudget(long bytes) {
            if (bytes < 1) throw new IllegalArgumentException("memoryBudget must be positive, got " + bytes);
            this.memoryBudget = bytes;
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

        /**
         * Carry on from {@code state} (taken with {@link DataLoader#state()}, perhaps by another process): the
         * first epoch continues at the state's next batch, and later epochs follow as in a run that never
         * stopped. The batches are bit-identical to those of that run, whatever the number of workers and the
         * mode on either side; the samples before the state are not read again. {@link #build()} refuses a
         * state whose dataset size, sampler, batch size, dropLast, seed, rank or world size differs from this
         * loader's, naming the field.
         */
        public Builder resumeFrom(LoaderState state) {
            this.resumeFrom = java.util.Objects.requireNonNull(state, "state");
            return this;
        }

        /**
         * How many lost workers (died, or hung past the timeout and killed) this loader may replace with fresh
         * ones (default {@value DataLoader#DEFAULT_MAX_WORKER_RESTARTS}). A successor takes the batches its
         * predecessor had not delivered, and the caller gets exactly the batches of a run without the failure.
         * The default is small on purpose: a long job survives the odd OOM kill or crashed decoder, while a
         * dataset that kills every worker fails after a few seconds, not after hours of restarts. A batch whose
         * worker was lost twice is never asked again, whatever this says. 0 restores fail-fast. Thread workers
         * are replaced too (a hung thread cannot be killed: it is interrupted and left); numWorkers(0) has no
         * worker to replace.
         */
        public Builder maxWorkerRestarts(int maxWorkerRestarts) {
            if (maxWorkerRestarts < 0) throw new IllegalArgumentException("maxWorkerRestarts cannot be negative, got " + maxWorkerRestarts);
            this.maxWorkerRestarts = maxWorkerRestarts;
            return this;
        }

        /**
         * What a sample whose {@code read} throws does to its batch: {@link SampleErrorPolicy#FAIL} (the default)
         * fails the epoch with a {@link SampleReadException}; {@link SampleErrorPolicy#SKIP} leaves the sample
         * out (the batch is one shorter, its {@link Batch#sampleIndices()} say which samples it holds), logs it
         * and counts it in {@link LoaderStats#samplesSkipped()}, up to {@link #maxSkipped} per epoch.
         */
        public Builder onSampleError(SampleErrorPolicy policy) {
            this.onSampleError = java.util.Objects.requireNonNull(policy, "policy");
            return this;
        }

        /** With SKIP, the most samples an epoch may skip before it fails (default: 1% of the epoch's samples). */
        public Builder maxSkipped(long samples) {
            if (samples < 0) throw new IllegalArgumentException("maxSkipped cannot be negative, got " + samples);
            this.maxSkipped = samples;
            return this;
        }

        /** With SKIP, the largest share of an epoch's samples it may skip before it fails (default 0.01). */
        public Builder maxSkippedFraction(double fraction) {
            if (!(fraction >= 0 && fraction <= 1)) throw new IllegalArgumentException("maxSkippedFraction must be in [0, 1], got " + fraction);
            this.maxSkippedFraction = fraction;
            this.maxSkipped = -1;
            return this;
        }

        /**
         * How many shards a streaming ({@code IterableDataset}) dataset is cut into on this rank (default
         * {@value DataLoader#DEFAULT_SHARDS}). The shards are the dataset's, not the workers': shard s is read by
         * worker s % numWorkers, and batches come round by round (batch 0 of each shard, then batch 1, ...),
         * so a stream's batches are the same for any number of workers and mode, and its state is a position
         * per shard. More workers than shards leave the extra ones idle.
         */
        public Builder shards(int shards) {
            if (shards < 1 || shards > 1 << 20) throw new IllegalArgumentException("shards must be in [1, 2^20], got " + shards);
            this.shards = shards;
            return this;
        }

        /**
         * Workers on worker hosts of other machines ({@code ./ringloader worker-host} there), beside this
         * machine's {@code numWorkers} (0: none of its own): {@code "grpc+tls://data-1:7070"}, or
         * {@code "grpc://HOST:PORT"} for plain gRPC on a trusted network. Each host runs as many workers as
         * its {@code --workers}, asked at {@code build()}; the dataset recipe (and shipped classes) goes to
         * them, and their workers open their own connections there. The batches are those of a local run.
         * A host that dies or stops answering is dropped and its batches are asked of the other workers.
         * The token is the hosts' ({@link #remoteToken}, else {@code RINGLOADER_TOKEN_FILE} or
         * {@code RINGLOADER_TOKEN}).
         */
        public Builder remoteWorkers(String... hosts) {
            for (String h : hosts) remoteWorkers.add(java.util.Objects.requireNonNull(h, "host"));
            return this;
        }

        /** The token the worker hosts of {@link #remoteWorkers} share (default: from the environment). */
        public Builder remoteToken(io.ringloader.remote.Token token) {
            this.remoteToken = java.util.Objects.requireNonNull(token, "token");
            return this;
        }

        /**
         * The certificates (PEM) a {@code grpc+tls} worker host's certificate must chain to: your CA's, or a
         * self-signed host's own (default: the JDK's trusted CAs).
         */
        public Builder remoteTls(Path trustedCertificates) {
            this.remoteTrust = java.util.Objects.requireNonNull(trustedCertificates, "trustedCertificates");
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
            long t0 = System.nanoTime();
            try {
                if (numWorkers != 0 && mode == WorkerMode.PROCESS) {
                    tmp = WorkerTmpDir.create();
                    for (int w = 0; w < (numWorkers == AUTO ? 1 : numWorkers); w++) early.add(ProcessWorker.launch(w, List.copyOf(jvmOptions), tmp));
                    trace(t0, "worker JVMs launched (or spares taken)");
                }
                loader = new DataLoader(this);
                trace(t0, "schema, recipe and settings made");
                synchronized (loader) {
                    loader.tmpDir = tmp;
                    loader.workers = loader.startWorkers(early);
                }
                trace(t0, "worker segments laid out");
                loader.builtAt = t0;
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
