package io.ringloader.worker;

import io.ringloader.batch.BatchBuilder;
import io.ringloader.batch.BatchLayout;
import io.ringloader.batch.RecordHeader;
import io.ringloader.data.Dataset;
import io.ringloader.data.IterableDataset;
import io.ringloader.data.MapDataset;
import io.ringloader.data.WorkerContext;
import io.ringloader.ring.PeerDiedException;
import io.ringloader.ring.RingClosedException;
import io.ringloader.ring.RingRecord;
import io.ringloader.ring.SpscRing;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * What a worker does, top to bottom, whatever it runs in (its own JVM, a thread, or the caller's thread):
 *
 * <ol>
 *   <li>Recreate the dataset from its recipe, with a loader for classes the parent shipped.</li>
 *   <li>{@code dataset.open(context)}: this worker's own connections and runtimes. If it fails, send
 *       ERROR ("open") and stop: the parent raises it at the first {@code next()}.</li>
 *   <li>Send READY.</li>
 *   <li>Serve requests in order: build each requested batch in place in the batch ring and commit it; a
 *       sample that throws aborts its batch and sends ERROR ("read") with the sample index and the
 *       exception. STOP, a closed ring, or a dead parent ends the loop.</li>
 *   <li>{@code dataset.close()}.</li>
 * </ol>
 */
final class WorkerLoop implements AutoCloseable {
    private static final long READ_SLICE = TimeUnit.SECONDS.toNanos(1);

    private final Dataset dataset;
    private final WorkerContext context;
    /** The segment's first page, where the sample being read is noted for the trainer (see WorkerSegment). */
    private final MemorySegment control;
    private final SpscRing requests;
    private final BatchBuilder builder;
    private final ClassLoader classes;
    private boolean opened;

    // Streaming datasets: where this worker is in each shard it was asked for, in the current epoch.
    private final Map<Integer, Cursor> cursors = new HashMap<>();
    private int cursorEpoch = -1;

    /** A shard being read: its samples, the batch asked of it next, the position of its next sample. */
    private static final class Cursor {
        final IterableDataset.SampleSource source;
        final WorkerContext context;
        long nextBatch;
        long position;
        boolean exhausted;
        private boolean closed;

        Cursor(IterableDataset.SampleSource source, WorkerContext context) {
            this.source = source;
            this.context = context;
        }

        void close() throws Exception {
            if (closed) return;
            closed = true;
            source.close();
        }
    }

    /** Closes a shard's source; a failure to close is reported on stderr, the shard is done with either way. */
    private void close(Cursor c) {
        if (c == null) return;
        try {
            c.close();
        } catch (Throwable t) {
            log().warn("ringloader worker {}: closing shard {}'s source failed", context.workerId(), c.context.shardIndex(), t);
        }
    }

    private void closeCursors() {
        cursors.values().forEach(this::close);
        cursors.clear();
    }

    private WorkerLoop(Dataset dataset, WorkerContext context, MemorySegment control, SpscRing requests, SpscRing batches, ClassLoader classes,
                       java.util.List<io.ringloader.batch.ColumnLayout> columns) {
        this.dataset = dataset;
        this.context = context;
        this.control = control;
        this.requests = requests;
        this.builder = new BatchBuilder(batches, new BatchLayout(columns), context.workerId());
        this.builder.setContext(context);
        this.classes = classes;
    }

    /** Recreates the dataset from {@code config}; a failure is reported to the parent as an "open" error. */
    static WorkerLoop create(WorkerConfig config, MemorySegment control, SpscRing requests, SpscRing batches) throws InterruptedException {
        ClassLoader loader = config.classes().isEmpty() ? WorkerLoop.class.getClassLoader()
                : new Recipe.ShippedClassLoader(config.classes(), WorkerLoop.class.getClassLoader());
        WorkerContext context = new WorkerContext(config.workerId(), config.numWorkers(), config.seed(), 0,
                config.shardIndex(), config.shardCount(), ProcessHandle.current().pid(), config.timeoutMillis());
        Dataset dataset;
        try {
            dataset = new Recipe(config.dataset(), config.classes()).open(loader);
        } catch (Throwable t) {
            BatchBuilder.send(batches, config.workerId(), RecordHeader.ERROR, 0, -1, -1, WorkerFailure.of("open", -1,
                    new IllegalStateException("the worker cannot recreate the dataset from its recipe: " + t, t)).toBytes());
            return null;
        }
        Thread.currentThread().setContextClassLoader(loader);
        return new WorkerLoop(dataset, context, control, requests, batches, loader, config.columns());
    }

    /** Steps 2 and 3: open the dataset, then READY; false (after sending ERROR) if open failed. */
    boolean start() throws InterruptedException {
        WorkerMain.trace("dataset recreated");
        try {
            dataset.open(context);
            opened = true;
            if (dataset instanceof MapDataset map) builder.describeSamplesWith(map::describe);
        } catch (Throwable t) {
            builder.send(RecordHeader.ERROR, 0, -1, -1, WorkerFailure.of("open", -1, t).toBytes());
            return false;
        }
        builder.send(RecordHeader.READY, 0, -1, -1, new byte[0]);
        WorkerMain.trace("ready");
        return true;
    }

    /** Step 4 for a worker of its own (process or thread): serve until STOP, a closed ring or a dead parent. */
    void serve() {
        try {
            while (!requests.isClosed()) {
                RingRecord request = requests.read(READ_SLICE);
                if (request == null) continue;
                try {
                    if (!handle(request.payload())) return;
                } finally {
                    requests.release(request);
                }
            }
        } catch (RingClosedException | PeerDiedException e) {
            // the parent closed the loader, or died: either way this worker is done
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Step 4 for batches built on the caller's thread: serve whatever requests are waiting. */
    void serveWaiting() throws InterruptedException {
        RingRecord request;
        while ((request = requests.poll()) != null) {
            try {
                handle(request.payload());
            } finally {
                requests.release(request);
            }
        }
    }

    /** Handles one request; false on STOP. */
    boolean handle(MemorySegment request) throws InterruptedException {
        int kind = request.get(JAVA_INT, RecordHeader.KIND);
        int epoch = request.get(JAVA_INT, RecordHeader.EPOCH);
        long seq = request.get(JAVA_LONG, RecordHeader.SEQ);
        int rows = request.get(JAVA_INT, RecordHeader.ROWS);
        switch (kind) {
            case RecordHeader.BATCH_REQUEST -> buildBatch((MapDataset) dataset, request, epoch, seq, rows);
            case RecordHeader.STREAM_REQUEST -> streamBatch((IterableDataset) dataset, epoch, seq, rows,
                    (request.get(JAVA_INT, RecordHeader.FLAGS) & RecordHeader.FLAG_SKIP_FAILED_SAMPLES) != 0);
            case RecordHeader.STOP -> {
                return false;
            }
            default -> throw new IllegalStateException("unknown request kind " + kind);
        }
        return true;
    }

    private void buildBatch(MapDataset map, MemorySegment request, int epoch, long seq, int rows) throws InterruptedException {
        long t0 = System.nanoTime();
        if (seq == 0) WorkerMain.trace("first request");
        builder.setContext(context.withEpoch(epoch));
        if ((request.get(JAVA_INT, RecordHeader.FLAGS) & RecordHeader.FLAG_SKIP_FAILED_SAMPLES) != 0) {
            if (!buildSkipping(map, request, epoch, seq, rows)) return;
        } else {
            if (!begin(epoch, seq, rows)) return;
            long index = -1;
            try {
                for (int r = 0; r < rows; r++) {
                    index = request.get(JAVA_LONG, RecordHeader.LENGTH + 8L * r);
                    builder.beginRow(index);
                    reading(index);
                    map.read(index, builder);
                    builder.endRow();
                }
            } catch (RingClosedException | PeerDiedException e) {
                throw e;
            } catch (Throwable t) {
                reading(-1);
                builder.abort();
                builder.send(RecordHeader.ERROR, epoch, seq, index, WorkerFailure.of("read", index, builder.explain(t)).toBytes());
                return;
            }
            reading(-1);
        }
        if (!commit(epoch, seq, t0)) return;
        if (seq == 0) WorkerMain.trace("first batch committed");
    }

    /**
     * {@link #buildBatch} with onSampleError(SKIP): a sample that throws is reported (SKIPPED) and the batch
     * is built again without it: its record is already half written, and rebuilding is simpler than
     * unwinding every column. Failures are rare, and a sample reads the same the second time (its random
     * stream is its own). False if the batch failed for another reason (an ERROR was sent).
     */
    private boolean buildSkipping(MapDataset map, MemorySegment request, int epoch, long seq, int rows) throws InterruptedException {
        long[] indices = request.asSlice(RecordHeader.LENGTH, 8L * rows).toArray(JAVA_LONG);
        BitSet skipped = null;
        while (true) {
            if (!begin(epoch, seq, rows)) return false;
            long index = -1;
            int row = -1;
            try {
                for (int r = 0; r < rows; r++) {
                    if (skipped != null && skipped.get(r)) continue;
                    row = r;
                    index = indices[r];
                    builder.beginRow(index);
                    reading(index);
                    map.read(index, builder);
                    builder.endRow();
                }
                reading(-1);
                return true;
            } catch (RingClosedException | PeerDiedException e) {
                throw e;
            } catch (Throwable t) {
                reading(-1);
                builder.abort();
                if (row < 0) { // a failure outside any sample (the ring) is never skipped
                    builder.send(RecordHeader.ERROR, epoch, seq, index, WorkerFailure.of("read", index, builder.explain(t)).toBytes());
                    return false;
                }
                builder.send(RecordHeader.SKIPPED, epoch, seq, index, WorkerFailure.of("read", index, builder.explain(t)).toBytes());
                if (skipped == null) skipped = new BitSet(rows);
                skipped.set(row);
            }
        }
    }

    /**
     * Batch k of shard s (the request's address, {@link RecordHeader#streamSeq}): the next {@code rows}
     * samples of the shard from sample {@code k * rows}. A shard is read on from where this worker left
     * it; one it was not reading, or left elsewhere (it replaces a lost worker, or the loader resumes), is
     * started afresh and its first {@code k * rows} samples are read and dropped, so the batch is the same
     * whoever builds it. A shard at its end answers END. With {@code skipFailed}, a sample whose read throws
     * takes its position in the shard but not a row of the batch, and a SKIPPED record after the batch says
     * which it was.
     */
    private void streamBatch(IterableDataset iterable, int epoch, long seq, int rows, boolean skipFailed) throws InterruptedException {
        long t0 = System.nanoTime();
        int shard = RecordHeader.streamShard(seq);
        long k = RecordHeader.streamBatch(seq);
        long index = -1;
        List<WorkerFailure> failed = null;
        try {
            if (epoch != cursorEpoch) {
                closeCursors();
                cursorEpoch = epoch;
            }
            Cursor c = cursors.get(shard);
            // A shard at its end answers END for any later batch; one elsewhere is started again.
            if (c == null || c.nextBatch != k && !(c.exhausted && k >= c.nextBatch)) {
                if (c != null) close(cursors.remove(shard));
                WorkerContext ctx = new WorkerContext(context.workerId(), context.numWorkers(), context.seed(), epoch,
                        context.shardIndex() + shard, context.shardCount(), context.pid(), context.timeoutMillis());
                c = new Cursor(iterable.stream(ctx), ctx);
                cursors.put(shard, c);
                builder.setStreamContext(ctx);
                long skipped = k == 0 ? 0 : c.source.skip(k * rows);
                if (skipped >= 0) { // the source moved on by itself
                    c.position = skipped;
                    c.exhausted = skipped < k * rows;
                } else {
                    for (long skip = 0; skip < k && !c.exhausted; skip++) { // fast-forward: read and drop
                        builder.begin(seq, epoch, rows);
                        index = fill(c, rows, skipFailed, null);
                        builder.abort();
                    }
                }
                c.nextBatch = k;
            }
            if (c.exhausted) {
                c.close();
                builder.send(RecordHeader.END, epoch, seq, -1, new byte[0]);
                return;
            }
            builder.setStreamContext(c.context);
            builder.begin(seq, epoch, rows);
            failed = skipFailed ? new ArrayList<>() : null;
            index = fill(c, rows, skipFailed, failed);
            c.nextBatch++;
            if (c.exhausted) c.close(); // its cursor stays, to answer END
        } catch (RingClosedException | PeerDiedException e) {
            throw e;
        } catch (Throwable t) {
            builder.abort();
            close(cursors.remove(shard)); // its source is in an unknown state: a later request starts it afresh
            builder.send(RecordHeader.ERROR, epoch, seq, index, WorkerFailure.of("read", index, builder.explain(t)).toBytes());
            return;
        }
        Cursor c = cursors.get(shard);
        if (builder.rows() == 0 && c.exhausted && (failed == null || failed.isEmpty())) {
            builder.abort();
            builder.send(RecordHeader.END, epoch, seq, -1, new byte[0]);
            return;
        }
        // a batch whose every sample failed is an empty one, not the end
        if (!commit(epoch, seq, t0)) return;
        if (failed != null) {
            for (WorkerFailure f : failed) builder.send(RecordHeader.SKIPPED, epoch, seq, f.sampleIndex(), f.toBytes());
        }
    }

    /**
     * Seals and publishes the batch being built; false (after sending ERROR) if sealing it failed: padding
     * a sequence column can need more room than the ring has.
     */
    /**
     * Claims room for the batch; a claim that can never succeed (a batch larger than the ring) is an
     * ERROR of the batch, and the worker serves the next request. Interrupts and a closed ring end the
     * worker as anywhere else.
     */
    private boolean begin(int epoch, long seq, int rows) throws InterruptedException {
        try {
            builder.begin(seq, epoch, rows);
            return true;
        } catch (IllegalStateException e) {
            builder.abort();
            builder.send(RecordHeader.ERROR, epoch, seq, -1, WorkerFailure.of("read", -1, e).toBytes());
            return false;
        }
    }

    private boolean commit(int epoch, long seq, long t0) throws InterruptedException {
        try {
            builder.commit(System.nanoTime() - t0);
            return true;
        } catch (RingClosedException | PeerDiedException e) {
            throw e;
        } catch (Throwable t) {
            builder.abort();
            builder.send(RecordHeader.ERROR, epoch, seq, -1, WorkerFailure.of("read", -1, t).toBytes());
            return false;
        }
    }

    /**
     * Notes the sample being read (-1: none) where the trainer finds it if this worker dies or hangs in it.
     * A plain store: the trainer reads it after this process has exited, or after its timeout.
     */
    private void reading(long index) {
        control.set(JAVA_LONG, WorkerSegment.READING_OFFSET, index);
    }

    /**
     * Reads the next {@code rows} positions of {@code c} into the open batch (fewer at the shard's end);
     * returns the last sample's index. With {@code skipFailed}, a sample that throws is dropped from the
     * batch and noted in {@code failed} (when not null), and its position is passed all the same.
     */
    private long fill(Cursor c, int rows, boolean skipFailed, List<WorkerFailure> failed) throws Exception {
        long index = -1;
        for (int i = 0; i < rows; i++) {
            index = c.position;
            builder.beginRow(index);
            reading(index);
            boolean more;
            try {
                more = c.source.next(builder);
                if (more) builder.endRow();
            } catch (RingClosedException | PeerDiedException e) {
                throw e;
            } catch (Throwable t) {
                if (!skipFailed) throw t;
                builder.dropRow();
                if (failed != null) failed.add(WorkerFailure.of("read", index, builder.explain(t)));
                more = true;
            } finally {
                reading(-1);
            }
            if (!more) {
                c.exhausted = true;
                break;
            }
            c.position++;
        }
        return index;
    }

    BatchBuilder builder() {
        return builder;
    }

    ClassLoader classes() {
        return classes;
    }

    /** Step 5: the shards' sources first, then the dataset that opened them. */
    @Override
    public void close() {
        builder.abort();
        closeCursors();
        if (!opened) return;
        opened = false;
        try {
            dataset.close();
        } catch (Throwable t) {
            log().warn("ringloader worker {}: the dataset's close() failed", context.workerId(), t);
        }
    }

    /** Steps 1 to 5, for a worker of its own. */
    static void run(WorkerConfig config, MemorySegment control, SpscRing requests, SpscRing batches) {
        WorkerLoop loop;
        try {
            loop = create(config, control, requests, batches);
            if (loop == null) return;
            try (loop) {
                if (loop.start()) loop.serve();
            }
        } catch (RingClosedException | PeerDiedException e) {
            // shutting down
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The worker's logger, made on first use: SLF4J's start (finding the application's backend) is kept
     * out of a worker's start-up, which is measured in milliseconds. A process worker's log lines reach
     * the trainer's stderr with its {@code [worker N pid P]} prefix.
     */
    private static org.slf4j.Logger log() {
        return org.slf4j.LoggerFactory.getLogger(WorkerLoop.class);
    }
}
