package io.ringloader.cli.bench;

import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import org.apache.arrow.vector.types.pojo.Schema;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/** The datasets of ../shared/bench/WORKLOADS.md (documented in docs/benchmarks.md), sample for sample. */
public final class Workloads {
    private Workloads() {}

    /** {@code tiny}: 262,144 samples of features float32[16] = ((i*31 + j) % 1000) / 1000 and label int64 i % 10. */
    public record Tiny() implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.tensor("features", Columns.DType.FLOAT32, 16), Columns.int64("label"));
        }

        @Override
        public long size() {
            return 262_144;
        }

        @Override
        public void read(long i, SampleWriter out) {
            MemorySegment f = out.tensor(0);
            for (int j = 0; j < 16; j++) f.setAtIndex(JAVA_FLOAT, j, ((i * 31 + j) % 1000) / 1000f);
            out.setLong(1, i % 10);
        }
    }

    /**
     * {@code wide}: 2,048 samples of image float32[3*224*224], every element (i % 251) / 251, and label int64
     * i % 1000; {@code wide-long}: the same samples, 16,384 of them (an epoch of about 10 GB).
     */
    public record Wide(long size) implements MapDataset {
        public static final int ELEMENTS = 3 * 224 * 224;
        public static final long LONG = 16_384;

        public Wide() {
            this(2_048);
        }

        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.tensor("image", Columns.DType.FLOAT32, 3, 224, 224), Columns.int64("label"));
        }

        @Override
        public void read(long i, SampleWriter out) {
            MemorySegment image = out.tensor(0);
            float v = (i % 251) / 251f;
            for (int e = 0; e < ELEMENTS; e++) image.setAtIndex(JAVA_FLOAT, e, v);
            out.setLong(1, i % 1000);
        }
    }

    /**
     * {@code cpu}: 8,192 samples of features float32[64] from the xorshift kernel, and label int64 i % 10;
     * {@code cpu-long}: the same samples, 131,072 of them (epochs of seconds: the JIT's warm-up is over within epoch 1).
     */
    public record Cpu(long size) implements MapDataset {
        public static final long LONG = 131_072;

        public Cpu() {
            this(8_192);
        }

        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.tensor("features", Columns.DType.FLOAT32, 64), Columns.int64("label"));
        }

        @Override
        public void read(long i, SampleWriter out) {
            long x = (i + 1) * 0x9E3779B97F4A7C15L;
            for (int r = 0; r < 20_000; r++) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
            }
            MemorySegment f = out.tensor(0);
            for (int j = 0; j < 64; j++) f.setAtIndex(JAVA_FLOAT, j, ((x >>> (j % 64)) & 0xFFFF) / 65535f);
            out.setLong(1, i % 10);
        }
    }

    /**
     * {@code seq}: 65,536 token sequences, sample i of {@code length(i)} int32 tokens (i*31 + j) % 30000 and a
     * label int64 i % 2. Lengths are log-uniform from 8 to 2,047 (median 128, mean about 368): a long tail,
     * as text has. The PyTorch peer (cli/peers/pytorch_peer.py) makes the same samples.
     */
    public record Sequences(long size) implements MapDataset {
        public static final long SIZE = 65_536;

        public Sequences() {
            this(SIZE);
        }

        /** 8 * 2^(8u), u uniform in [0, 1) from the index: log-uniform in [8, 2048). */
        public static int tokens(long i) {
            double u = ((i * 0x9E3779B97F4A7C15L) >>> 11) * 0x1.0p-53;
            return (int) (8 * Math.pow(2, 8 * u));
        }

        @Override
        public int length(long index) {
            return tokens(index);
        }

        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.sequence("tokens", Columns.DType.INT32), Columns.int64("label"));
        }

        @Override
        public void read(long i, SampleWriter out) {
            int n = tokens(i);
            MemorySegment t = out.sequence(0, n);
            for (int j = 0; j < n; j++) t.setAtIndex(java.lang.foreign.ValueLayout.JAVA_INT, j, (int) ((i * 31 + j) % 30_000));
            out.setLong(1, i % 2);
        }
    }
}
