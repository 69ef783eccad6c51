package io.ringloader.worker;

import io.ringloader.batch.SchemaLayout;
import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.os.JavaProcess;
import io.ringloader.os.ParentWatch;
import io.ringloader.os.SharedMemory;
import io.ringloader.ring.RingRecord;
import io.ringloader.ring.SpscRing;

import io.ringloader.os.OsException;

import java.io.ByteArrayInputStream;
import java.io.ObjectInputStream;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.apache.arrow.vector.types.pojo.Schema;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A process worker: {@code WorkerMain <segment name>}, or {@code WorkerMain --spare} for a JVM of the
 * warm pool, told its segment on stdin when a loader takes it. Started by the loader with the parent's
 * {@code java}, class path and flags; never forked. Its start, in order:
 *
 * <ol>
 *   <li>Arm the parent-death signal and check the parent still lives (it may have died meanwhile).</li>
 *   <li>A spare: warm up, print {@link io.ringloader.os.ChildProcess#READY_LINE}, and wait on stdin for its
 *       segment's name and temporary folder (end of stdin: exit, the pool is closing).</li>
 *   <li>Wait for the segment by name, then for its magic number: the trainer starts this JVM before it
 *       has worked out the dataset's schema, and writes the magic number last.</li>
 *   <li>Unlink the name (both sides have it mapped), read the config, attach the rings, and run
 *       {@link WorkerLoop}.</li>
 * </ol>
 */
public final class WorkerMain {
    private WorkerMain() {}

    /** With RINGLOADER_TRACE set, a worker prints how long each start-up step took, on stderr. */
    private static final boolean TRACE = System.getenv("RINGLOADER_TRACE") != null;

    static void trace(String step) {
        if (!TRACE) return;
        // nanoTime is CLOCK_MONOTONIC, the same clock in every process: compare with the parent's at spawn.
        long ms = (System.nanoTime() - Long.getLong("ringloader.spawnNanos", 0)) / 1_000_000;
        // stderr, not SLF4J: starting a logging backend would change the start-up this traces
        System.err.println("ringloader worker start-up: " + step + " at " + ms + " ms after the spawn");
    }

    /** The argument that makes a spare JVM: it boots, then waits on stdin for the worker it is to become. */
    public static final String SPARE = "--spare";

    public static void main(String[] args) throws Exception {
        trace("main");
        boolean spare = args[0].equals(SPARE);
        String name = spare ? null : args[0];
        try {
            // Die with the parent, even by kill -9; and make sure it has not died already.
            ParentWatch.dieWithParent(JavaProcess.parentPid());
        } catch (IllegalStateException parentGone) {
            if (name != null) SharedMemory.unlink(name); // nobody else will
            System.err.println(parentGone.getMessage()); // the trainer is gone: its own stderr is all that is left
            System.exit(3);
        }
        trace("parent checked");
        if (spare) {
            warmUp();
            // Booted: say so, then wait to be told "<segment name> TAB <temporary folder> TAB <nanoTime>".
            System.out.println(io.ringloader.os.ChildProcess.READY_LINE);
            System.out.flush();
            String line = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, java.nio.charset.StandardCharsets.UTF_8)).readLine();
            if (line == null) System.exit(0); // the pool closed our stdin: not needed after all
            String[] parts = line.split("\t");
            name = parts[0];
            if (!parts[1].equals("-")) System.setProperty("java.io.tmpdir", parts[1]);
            System.setProperty("ringloader.spawnNanos", parts[2]); // traces count from when the loader took us
            trace("taken from the pool");
        }
        SharedMemory shm = awaitSegment(name);
        // Both sides have it mapped now: remove the name so that nothing can be left in /dev/shm.
        shm.unlink();
        trace("segment opened");
        MemorySegment control = shm.map(0, WorkerSegment.CONTROL_LENGTH);
        awaitMagic(control, name);
        long configLength = control.get(JAVA_LONG, WorkerSegment.CONFIG_LENGTH_OFFSET);
        byte[] configBytes = shm.map(WorkerSegment.CONTROL_LENGTH, WorkerSegment.pages(configLength))
                .asSlice(0, configLength).toArray(JAVA_BYTE);
        trace("config mapped");
        WorkerConfig config = WorkerConfig.decode(configBytes);
        trace("config read");
        if (config.cpu() >= 0) io.ringloader.os.Posix.pinProcess(config.cpu());
        SpscRing requests = SpscRing.attach(shm, control.get(JAVA_LONG, WorkerSegment.REQUEST_RING_OFFSET));
        SpscRing batches = SpscRing.attach(shm, control.get(JAVA_LONG, WorkerSegment.BATCH_RING_OFFSET));
        requests.registerConsumer();
        batches.registerProducer();
        trace("rings attached");
        WorkerLoop.run(config, control, requests, batches);
        System.out.flush();
        System.exit(0); // even if the dataset left non-daemon threads running
    }

    /**
     * What a spare does before it says it is ready: a config through its codec, an object through Java
     * serialization (the dataset comes that way; the first use costs tens of milliseconds of class
     * loading and reflection), and a few batches through the batch path, so that the loader that takes
     * the spare does not wait for them.
     */
    private static void warmUp() throws Exception {
        WorkerConfig sample = new WorkerConfig(new byte[0], java.util.Map.of(), java.util.List.of(
                new io.ringloader.batch.ColumnLayout("x", io.ringloader.batch.ColumnLayout.Kind.TENSOR, io.ringloader.data.Columns.DType.FLOAT32, 4),
                new io.ringloader.batch.ColumnLayout("y", io.ringloader.batch.ColumnLayout.Kind.FIXED, io.ringloader.data.Columns.DType.INT64, 1)),
                0, 1, 0, 0, 1, -1, 0);
        WorkerConfig.decode(sample.encode());
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
            out.writeObject(new java.util.ArrayList<>(java.util.List.of(1L, "x")));
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            in.readObject();
        }
        warmUpBatchPath();
        trace("warmed up");
    }

    /** A few samples of the common column kinds, for {@link #warmUpBatchPath}. */
    record WarmUpSamples() implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.tensor("x", Columns.DType.FLOAT32, 8), Columns.int64("label"), Columns.utf8("name"));
        }

        @Override
        public long size() {
            return 256;
        }

        @Override
        public void read(long i, SampleWriter out) {
            MemorySegment x = out.tensor(0);
            for (int j = 0; j < 8; j++) x.setAtIndex(JAVA_FLOAT, j, (float) out.random().nextDouble());
            out.setLong(1, i);
            out.setString(2, "sample");
        }
    }

    /**
     * Builds a few batches of {@link WarmUpSamples} through the worker's own loop, in line, over a ring
     * of its own: the classes of the batch path (recipe, loop, builder, rings) are loaded and initialised,
     * and its code has run, before a loader takes this JVM, whose first batch then does not pay for them.
     */
    private static void warmUpBatchPath() throws InterruptedException {
        MapDataset samples = new WarmUpSamples();
        WorkerSpec spec = new WorkerSpec(0, 1, 0, 0, 1, Recipe.of(samples), SchemaLayout.of(samples.sampleSchema()),
                64 << 10, 4 << 20, List.of(), -1, null, 0);
        InlineWorker w = InlineWorker.start(spec);
        try {
            long[] indices = LongStream.range(0, 64).toArray();
            for (int b = 0; b < 4; b++) {
                w.requestBatch(0, b, indices, 0);
                w.beforeRead();
                RingRecord r = w.batches().read(TimeUnit.SECONDS.toNanos(5));
                if (r != null) w.release(r, false);
            }
        } finally {
            w.stop(0);
        }
    }

    /**
     * How long a worker waits for the trainer to lay out its segment. The trainer starts the worker's JVM
     * first and prepares the segment while it boots; if the trainer dies meanwhile, the parent-death
     * signal ends the wait, so this only bounds a trainer that is alive but stuck.
     */
    private static final long SEGMENT_WAIT_NANOS = TimeUnit.MINUTES.toNanos(10);

    /** Opens the segment once the trainer has created it and given it its size. */
    private static SharedMemory awaitSegment(String name) throws InterruptedException {
        long start = System.nanoTime();
        while (true) {
            try {
                SharedMemory shm = SharedMemory.open(name);
                if (shm.size() >= WorkerSegment.CONTROL_LENGTH) return shm;
                shm.close(); // created, not sized yet
            } catch (OsException e) {
                if (e.errno() != ENOENT) throw e;
            }
            waitABit(start, "/dev/shm/" + name + " did not appear");
        }
    }

    /** Waits for the trainer's last write to the segment: the magic number, after the config and the rings. */
    private static void awaitMagic(MemorySegment control, String name) throws InterruptedException {
        long start = System.nanoTime();
        while ((int) INT.getAcquire(control, WorkerSegment.MAGIC_OFFSET) != WorkerSegment.MAGIC) {
            waitABit(start, "/dev/shm/" + name + " was not filled in");
        }
    }

    private static void waitABit(long start, String what) throws InterruptedException {
        if (System.nanoTime() - start > SEGMENT_WAIT_NANOS) {
            throw new IllegalStateException(what + " within " + TimeUnit.NANOSECONDS.toMinutes(SEGMENT_WAIT_NANOS)
                    + " minutes of the worker's start: the trainer is stuck before starting its loader");
        }
        Thread.sleep(0, 200_000);
    }

    private static final int ENOENT = 2;
    private static final VarHandle INT = JAVA_INT.varHandle();
}
