package io.ringloader.worker;

import io.ringloader.batch.RecordHeader;
import io.ringloader.os.SharedMemory;
import io.ringloader.ring.RingRecord;
import io.ringloader.ring.SpscRing;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The parent's side of one worker: its shared-memory segment, the request ring it writes and the batch
 * ring it reads, and whatever runs the worker (a process, a thread, or the caller's thread). The segment
 * stays mapped until the worker is stopped <em>and</em> the trainer has closed every batch it delivered:
 * a batch's Arrow buffers point into it.
 */
public abstract sealed class Worker permits ProcessWorker, ThreadWorker, InlineWorker, RemoteWorker {
    protected final int id;
    protected final SharedMemory shm;
    /** The segment's first page: the worker writes there the sample it is reading. */
    private final MemorySegment control;
    protected final SpscRing requests;
    protected final SpscRing batches;
    private final AtomicInteger held = new AtomicInteger();
    private volatile boolean stopped;
    private boolean stopping;
    private boolean freed;
    private volatile boolean ready;

    Worker(int id, SharedMemory shm, MemorySegment control, SpscRing requests, SpscRing batches) {
        this.id = id;
        this.shm = shm;
        this.control = control;
        this.requests = requests;
        this.batches = batches;
    }

    /** Starts a worker of {@code mode} for {@code spec}. */
    public static Worker start(WorkerMode mode, WorkerSpec spec) {
        return switch (mode) {
            case PROCESS -> ProcessWorker.start(spec);
            case THREAD -> ThreadWorker.start(spec);
            case INLINE -> InlineWorker.start(spec);
        };
    }

    /** The segment and both rings, laid out and filled with the worker's config. */
    record Segment(SharedMemory shm, MemorySegment control, SpscRing requests, SpscRing batches, WorkerConfig config, long requestOffset,
                   long batchOffset) {
        /** The worker side's own view of the rings (a ring object keeps one side's positions), for thread and inline workers. */
        SpscRing[] workerSide() {
            SpscRing r = SpscRing.attach(shm, requestOffset);
            SpscRing b = SpscRing.attach(shm, batchOffset);
            r.registerConsumer();
            b.registerProducer();
            return new SpscRing[] {r, b};
        }
    }

    static Segment allocate(WorkerSpec spec) {
        return allocate(spec, SharedMemory.newName("w" + spec.id()));
    }

    /** The segment, under {@code name} (a process worker's JVM may already be waiting for it). */
    static Segment allocate(WorkerSpec spec, String name) {
        WorkerConfig config = new WorkerConfig(spec.recipe().bytes(), spec.recipe().classes(), spec.columns(), spec.id(), spec.numWorkers(),
                spec.seed(), spec.shardIndex(), spec.shardCount(), spec.cpu(), spec.timeoutMillis());
        return allocate(config, spec.requestCapacity(), spec.batchCapacity(), name);
    }

    /** The segment for {@code config} (a worker host's, from a trainer), with rings of the given capacities. */
    static Segment allocate(WorkerConfig config, long requestCapacity, long batchCapacity, String name) {
        byte[] bytes = config.encode();
        long requestOffset = WorkerSegment.requestRingOffset(bytes.length);
        long batchOffset = WorkerSegment.batchRingOffset(bytes.length, requestCapacity);
        SharedMemory shm = SharedMemory.create(name, WorkerSegment.totalLength(bytes.length, requestCapacity, batchCapacity));
        try {
            MemorySegment control = shm.map(0, WorkerSegment.CONTROL_LENGTH);
            control.set(JAVA_INT, WorkerSegment.WORKER_ID_OFFSET, config.workerId());
            control.set(JAVA_LONG, WorkerSegment.CONFIG_LENGTH_OFFSET, bytes.length);
            control.set(JAVA_LONG, WorkerSegment.REQUEST_RING_OFFSET, requestOffset);
            control.set(JAVA_LONG, WorkerSegment.BATCH_RING_OFFSET, batchOffset);
            control.set(JAVA_LONG, WorkerSegment.PARENT_PID_OFFSET, ProcessHandle.current().pid());
            control.set(JAVA_LONG, WorkerSegment.READING_OFFSET, -1);
            MemorySegment.copy(bytes, 0, shm.map(WorkerSegment.CONTROL_LENGTH, WorkerSegment.pages(bytes.length)), JAVA_BYTE, 0, bytes.length);
            SpscRing requests = SpscRing.create(shm, requestOffset, requestCapacity);
            SpscRing batches = SpscRing.create(shm, batchOffset, batchCapacity);
            requests.registerProducer();
            batches.registerConsumer();
            // Last, with release semantics: a worker that sees the magic number sees everything above.
            VarHandle.releaseFence();
            control.set(JAVA_INT, WorkerSegment.MAGIC_OFFSET, WorkerSegment.MAGIC);
            return new Segment(shm, control, requests, batches, config, requestOffset, batchOffset);
        } catch (RuntimeException e) {
            shm.unlink();
            shm.close();
            throw e;
        }
    }

    public int id() {
        return id;
    }

    /** "worker 1 (pid 4242)", as messages name it. */
    public abstract String describe();

    /** The pid the worker runs in. */
    public abstract long pid();

    public abstract boolean isAlive();

    /**
     * The memory this worker's process holds of its own ({@code RssAnon} of {@code /proc/PID/status}: heap,
     * metaspace, code, stacks; not the shared ring pages or mapped files), or -1 when it has no process of
     * its own (thread and in-line workers) or has ended.
     */
    public long privateMemoryBytes() {
        return -1;
    }

    /** How the worker ended ("was killed by signal 9 (SIGKILL)"), for a worker that is no longer alive. */
    public abstract String exitDescription();

    /** The last lines of the worker's stderr (empty for thread workers, whose stderr is ours). */
    public abstract List<String> stderrTail();

    /** The last lines it wrote to stdout, where a JVM that cannot start says why (empty for thread and inline workers). */
    public List<String> stdoutTail() {
        return List.of();
    }

    /** The worker's stacks, for a hang report. */
    public abstract String threadDump();

    /** Kills the worker at once (after a hang). */
    public abstract void kill();

    /** Waits up to {@code graceMillis} for the worker to finish after its rings closed, then forces it. */
    protected abstract void awaitStop(long graceMillis);

    /**
     * The sample the worker was reading when it stopped (for a stream: its position in the shard), or -1:
     * between samples, or its memory already given back. Read after a worker died or hung, it names the
     * sample that killed it.
     */
    public synchronized long readingSample() {
        if (freed) return -1;
        return control.get(JAVA_LONG, WorkerSegment.READING_OFFSET);
    }

    /** The class loader of classes the dataset shipped, to read the worker's exceptions with. */
    public ClassLoader classLoader() {
        return Worker.class.getClassLoader();
    }

    /** Called before reading its batch ring: inline workers build the batches asked for here. */
    public void beforeRead() throws InterruptedException {}

    /** The ring the worker's batches arrive on. */
    public SpscRing batches() {
        return batches;
    }

    /** The ring requests go to. */
    public SpscRing requests() {
        return requests;
    }

    public boolean isReady() {
        return ready;
    }

    public void markReady() {
        ready = true;
    }

    /** Sends a request: build the batch of {@code indices} (map-style); {@code flags} are RecordHeader's FLAG_*. */
    public void requestBatch(int epoch, long seq, long[] indices, int flags) throws InterruptedException {
        long pos = claimRequest(RecordHeader.LENGTH + 8L * indices.length);
        MemorySegment r = requests.payload(pos);
        header(r, RecordHeader.BATCH_REQUEST, epoch, seq, indices.length);
        r.set(JAVA_INT, RecordHeader.FLAGS, flags);
        MemorySegment.copy(indices, 0, r, JAVA_LONG, RecordHeader.LENGTH, indices.length);
        requests.commit(pos);
    }

    /**
     * Sends a request: batch {@code seq} ({@link RecordHeader#streamSeq}: shard and k) of a streaming
     * dataset, the shard's samples {@code k * rows} to {@code (k + 1) * rows - 1}; {@code flags} as for
     * {@link #requestBatch}.
     */
    public void requestStream(int epoch, long seq, int rows, int flags) throws InterruptedException {
        long pos = claimRequest(RecordHeader.LENGTH);
        MemorySegment r = requests.payload(pos);
        header(r, RecordHeader.STREAM_REQUEST, epoch, seq, rows);
        r.set(JAVA_INT, RecordHeader.FLAGS, flags);
        requests.commit(pos);
    }

    private long claimRequest(long length) throws InterruptedException {
        long pos;
        while ((pos = requests.claim(length, 100_000_000L)) == SpscRing.NO_SPACE) {
            if (!isAlive()) throw new IllegalStateException(describe() + " " + exitDescription());
        }
        return pos;
    }

    private void header(MemorySegment r, int kind, int epoch, long seq, int rows) {
        r.set(JAVA_INT, RecordHeader.KIND, kind);
        r.set(JAVA_INT, RecordHeader.EPOCH, epoch);
        r.set(JAVA_LONG, RecordHeader.SEQ, seq);
        r.set(JAVA_INT, RecordHeader.ROWS, rows);
        r.set(JAVA_INT, RecordHeader.WORKER_ID, id);
        r.set(JAVA_INT, RecordHeader.FLAGS, 0);
    }

    /** Counts a batch handed to the trainer; {@link #release} gives it back. */
    public void hold() {
        held.incrementAndGet();
    }

    /** Batches of this worker the trainer still holds. */
    public int held() {
        return held.get();
    }

    /** Gives a record's space back to the worker; for a delivered batch, on whatever thread closes it. */
    public void release(RingRecord record, boolean wasHeld) {
        batches.release(record);
        if (wasHeld && held.decrementAndGet() == 0 && stopped) free();
    }

    /** Step 1 of stopping, for many workers at once: closes both rings, which tells the worker to finish. */
    public synchronized void signalStop() {
        if (freed) return; // stopped long ago (a successor that could not start left it in its slot): its rings are gone
        requests.close();
        batches.close();
    }

    /**
     * Stops the worker: closes both rings (which wakes it wherever it waits, and tells it to finish),
     * gives it {@code graceMillis} to close its dataset and exit, then forces it. The memory stays mapped
     * while the trainer holds batches of this worker.
     */
    public void stop(long graceMillis) {
        synchronized (this) {
            if (stopping) return;
            stopping = true;
        }
        signalStop();
        awaitStop(graceMillis);
        SharedMemory.unlink(shm.name()); // in case the worker never got as far as unlinking it
        // Only now may the last release() unmap the segment: the rings above were still being closed in it.
        stopped = true;
        if (held.get() == 0) free();
    }

    public boolean isStopped() {
        return stopped;
    }

    private synchronized void free() {
        if (freed) return;
        freed = true;
        shm.close();
    }
}
