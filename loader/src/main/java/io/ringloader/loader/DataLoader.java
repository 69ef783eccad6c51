package io.ringloader.loader;

import io.ringloader.batch.BatchLayout;
import io.ringloader.batch.BatchReader;
import io.ringloader.batch.ColumnLayout;
import io.ringloader.batch.RecordHeader;
import io.ringloader.batch.SchemaLayout;
import io.ringloader.data.Dataset;
import io.ringloader.data.MapDataset;
import io.ringloader.os.JvmFlags;
import io.ringloader.os.SharedMemory;
import io.ringloader.ring.RingDescriptor;
import io.ringloader.ring.RingRecord;
import io.ringloader.sampler.BatchSampler;
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

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
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

    private static final Set<DataLoader> OPEN = ConcurrentHashMap.newKeySet();

    static {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> List.copyOf(OPEN).forEach(DataLoader::close), "ringloader-shutdown"));
        SharedMemory.removeStale();
    }

    private final Dataset dataset;
    private final Recipe recipe;
    private final Schema schema;
    private final List<ColumnLayout> columns;
    private final LoaderSettings settings;

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
    /** What is built on this loader and must stop before it does (see {@link #onClose}). */
    private final List<Runnable> closeHooks = new CopyOnWriteArrayList<>();
    private final LoaderCounters counters;

    private DataLoader(Builder b) {
        this.dataset = b.dataset;
        this.schema = dataset.sampleSchema();
        this.columns = SchemaLayout.of(schema); // fails early on an unsupported column
        BatchLayout layout = new BatchLayout(columns);
        this.recipe = Recipe.of(dataset);
        WorkerMode mode = b.numWorkers == 0 ? WorkerMode.INLINE : b.mode;
        int numWorkers = mode == WorkerMode.INLINE ? 1 : b.numWorkers;
        BatchSampler batchSampler;
        if (dataset instanceof MapDataset) {
            Sampler sampler = b.sampler != null ? b.sampler
                    : b.worldSize > 1 ? Sampler.distributed(b.rank, b.worldSize, b.shuffle)
                    : b.shuffle ? Sampler.shuffled() : Sampler.sequential();
            batchSampler = b.batchSampler != null ? b.batchSampler : BatchSampler.of(sampler, b.batchSize, b.dropLast);
        } else {
            if (b.sampler != null || b.batchSampler != null || b.shuffle) {
                throw new IllegalArgumentException("a streaming (iterable) dataset has no sampler: its workers read their shards in order."
                        + " Drop shuffle/sampler/batchSampler, or make it a MapDataset.");
            }
            batchSampler = null;
        }
        long estimate = RecordHeader.LENGTH + layout.metaReserve() + layout.fixedBodyBytes(b.batchSize)
                + layout.columns().stream().filter(c -> c.kind() == ColumnLayout.Kind.VARIABLE)
                .mapToLong(c -> 256L * b.batchSize + 4096).sum();
        int prefetch = mode == WorkerMode.INLINE ? 1 : b.prefetchFactor > 0 ? b.prefetchFactor : defaultPrefetch(estimate);
        // Room for the batches in flight plus two the trainer may hold; a batch can never be larger than its ring.
        long batchRingBytes = b.ringBytes > 0 ? b.ringBytes
                : Math.max(4L << 20, RingDescriptor.capacityFor((prefetch + 2L) * RingDescriptor.frameLength(estimate)));
        if (RingDescriptor.frameLength(estimate) > RingDescriptor.capacityFor(batchRingBytes)) {
            throw new IllegalArgumentException("a batch of " + b.batchSize + " samples takes about " + estimate
                    + " bytes, more than ringBytes(" + b.ringBytes + "): raise ringBytes or lower batchSize");
        }
        long requestRingBytes = Math.max(64L << 10, (prefetch + 2L) * RingDescriptor.frameLength(RecordHeader.LENGTH + 8L * b.batchSize));
        this.settings = new LoaderSettings(batchSampler, b.batchSize, b.seed, mode, numWorkers, prefetch, b.inOrder, b.persistentWorkers,
                b.timeout, List.copyOf(b.jvmOptions), batchRingBytes, requestRingBytes, b.rank, b.worldSize,
                b.pinWorkers && mode != WorkerMode.INLINE, b.warmWorkers && mode == WorkerMode.PROCESS);
        this.reader = new BatchReader(schema, allocator);
        this.counters = new LoaderCounters(numWorkers, batchRingBytes);
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
        return settings.prefetch();
    }

    public static Builder builder(Dataset dataset) {
        return new Builder(dataset);
    }

    /** The Arrow schema of a batch: the dataset's sample schema. */
    public Schema schema() {
        return schema;
    }

    public int numWorkers() {
        return settings.mode() == WorkerMode.INLINE ? 0 : settings.numWorkers();
    }

    public WorkerMode mode() {
        return settings.mode();
    }

    /** The pids of the current worker processes (empty for thread and inline workers, or when none run). */
    public synchronized List<Long> workerPids() {
        if (workers == null || settings.mode() != WorkerMode.PROCESS) return List.of();
        return workers.list().stream().map(Worker::pid).toList();
    }

    /** Starts the next epoch; an unfinished previous epoch is abandoned. */
    @Override
    public synchronized Iterator<Batch> iterator() {
        checkUsable();
        if (current != null && !current.isDone()) current.abandon();
        int epoch = nextEpoch++;
        if (workers == null) workers = startWorkers(List.of());
        current = dataset instanceof MapDataset map ? new MapEpoch(this, map, epoch, workers) : new StreamEpoch(this, epoch, workers);
        return current;
    }

    void checkUsable() {
        if (failure != null) throw new IllegalStateException("this DataLoader shut down after an error: " + failure.getMessage(), failure);
        if (closed) throw new IllegalStateException("this DataLoader is closed");
    }

    /** Starts the workers; process workers whose JVMs were {@code launched} already just get their segments. */
    private WorkerSet startWorkers(List<ProcessWorker.Launch> launched) {
        if (settings.mode() == WorkerMode.PROCESS && tmpDir == null) tmpDir = WorkerTmpDir.create();
        return WorkerSet.start(settings, recipe, columns, tmpDir, launched);
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
        }
        close();
        return e;
    }

    /** Counters of what the loader has done; see {@link LoaderStats}. */
    public LoaderStats stats() {
        WorkerSet ws;
        synchronized (this) {
            ws = workers;
        }
        return counters.snapshot(ws == null ? null : ws.list());
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
        if (settings.warmWorkers()) WorkerPool.keep(settings.jvmOptions(), settings.numWorkers());
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
