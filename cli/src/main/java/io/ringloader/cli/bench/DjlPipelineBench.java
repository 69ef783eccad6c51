package io.ringloader.cli.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import ai.djl.util.Progress;
import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * The peer "djl": DJL's own {@code RandomAccessDataset} pipeline on the loader workloads (tiny, wide,
 * cpu), with N loader threads, timed like ringloader (epoch 1 warms up, epoch 2 is timed). Each sample is
 * built by the very {@link Workloads} dataset ringloader reads, into a Java array, and becomes NDArrays
 * the way a DJL user makes them ({@code manager.create(float[])}); DJL stacks them into batches.
 */
public final class DjlPipelineBench {
    private DjlPipelineBench() {}

    static String run(String workload, MapDataset samples, int batch, int threads) throws Exception {
        if (threads < 1) throw new IllegalArgumentException("bench --peer djl: --threads must be 1 or more, got " + threads);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
            Samples data = new Samples(new Samples.Builder().setSampling(batch, true).optPrefetchNumber(2 * threads), samples);
            long e0 = System.nanoTime();
            double epoch1 = epoch(workload, data, manager, pool)[0] / ((System.nanoTime() - e0) / 1e9);
            long t0 = System.nanoTime();
            long[] n = epoch(workload, data, manager, pool);
            double s = (System.nanoTime() - t0) / 1e9;
            String extra = LoaderBench.wide(workload)
                    ? String.format(Locale.ROOT, ",\"gb_per_s\":%.3f", n[0] * (double) Workloads.Wide.ELEMENTS * 4 / s / 1e9) : "";
            return String.format(Locale.ROOT, "{\"impl\":\"djl\",\"workload\":\"%s\",\"workers\":%d,\"samples_per_s\":%.1f%s,\"epoch1_samples_per_s\":%.1f,\"check\":%d}",
                    workload, threads, n[0] / s, extra, epoch1, n[1]);
        } finally {
            pool.shutdownNow();
        }
    }

    /** One epoch, doing with each batch what the workload says; returns {samples, checksum}. */
    private static long[] epoch(String workload, Samples data, NDManager manager, ExecutorService pool) throws Exception {
        long samples = 0, sum = 0;
        for (Batch b : data.getData(manager, pool)) {
            try (b) {
                NDArray label = b.getLabels().head();
                sum += label.sum().getLong();
                if (LoaderBench.wide(workload)) {
                    // The first float of every 4096-byte page, read from the engine's memory.
                    ByteBuffer bytes = b.getData().head().toByteBuffer(true).order(ByteOrder.nativeOrder());
                    float pages = 0;
                    for (int off = 0; off < bytes.limit(); off += 4096) pages += bytes.getFloat(off);
                    sum += (long) pages;
                }
                samples += b.getSize();
            }
        }
        return new long[] {samples, sum};
    }

    /** A workload's samples as a DJL dataset: the first column (a float tensor) is the data, the second (int64) the label. */
    static final class Samples extends RandomAccessDataset {
        private final MapDataset samples;
        private final int elements;

        Samples(Builder builder, MapDataset samples) {
            super(builder);
            this.samples = samples;
            this.elements = java.util.Arrays.stream(Columns.shape(samples.sampleSchema().getFields().getFirst())).reduce(1, (a, b) -> a * b);
        }

        @Override
        public Record get(NDManager manager, long index) {
            HeapSample sample = new HeapSample(index, new float[elements]);
            try {
                samples.read(index, sample);
            } catch (Exception e) {
                throw new IllegalStateException("sample " + index + ": " + e, e);
            }
            return new Record(new NDList(manager.create(sample.features)), new NDList(manager.create(sample.label)));
        }

        @Override
        protected long availableSize() {
            return samples.size();
        }

        @Override
        public void prepare(Progress progress) {}

        static final class Builder extends BaseBuilder<Builder> {
            @Override
            protected Builder self() {
                return this;
            }
        }
    }

    /** Receives one workload sample into Java memory: column 0 a float tensor, column 1 the int64 label. */
    private static final class HeapSample implements SampleWriter {
        private final long index;
        final float[] features;
        long label;

        HeapSample(long index, float[] features) {
            this.index = index;
            this.features = features;
        }

        @Override
        public long index() {
            return index;
        }

        @Override
        public MemorySegment tensor(int column) {
            return MemorySegment.ofArray(features);
        }

        @Override
        public void setLong(int column, long value) {
            label = value;
        }

        @Override
        public SplittableRandom random() {
            throw unsupported();
        }

        @Override
        public int column(String name) {
            throw unsupported();
        }

        @Override
        public void setByte(int column, byte value) {
            throw unsupported();
        }

        @Override
        public void setShort(int column, short value) {
            throw unsupported();
        }

        @Override
        public void setInt(int column, int value) {
            throw unsupported();
        }

        @Override
        public void setFloat(int column, float value) {
            throw unsupported();
        }

        @Override
        public void setDouble(int column, double value) {
            throw unsupported();
        }

        @Override
        public void setBoolean(int column, boolean value) {
            throw unsupported();
        }

        @Override
        public void setNull(int column) {
            throw unsupported();
        }

        @Override
        public void setFloats(int column, float[] values) {
            System.arraycopy(values, 0, features, 0, values.length);
        }

        @Override
        public void setInts(int column, int[] values) {
            throw unsupported();
        }

        @Override
        public void setLongs(int column, long[] values) {
            throw unsupported();
        }

        @Override
        public MemorySegment sequence(int column, int length) {
            throw unsupported();
        }

        @Override
        public void setString(int column, String value) {
            throw unsupported();
        }

        @Override
        public void setBytes(int column, byte[] value) {
            throw unsupported();
        }

        @Override
        public void setBytes(int column, MemorySegment value) {
            throw unsupported();
        }

        private static UnsupportedOperationException unsupported() {
            return new UnsupportedOperationException("the bench workloads write a float tensor and an int64 label only");
        }
    }
}
