package io.ringloader.it.loader;

import io.ringloader.data.Columns;
import io.ringloader.data.Padding;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderStats;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float2Vector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.UInt2Vector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static io.ringloader.it.loader.Batches.loader;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Variable-length columns: ragged Arrow lists, padding in the worker, half-precision types, and their errors. */
@Isolated(timeout = "120s")
class SequenceTest {

    @ParameterizedTest
    @EnumSource(WorkerMode.class)
    void raggedSequencesAreArrowListsReadInPlace(WorkerMode mode) throws java.io.IOException {
        Set<Long> seen = new HashSet<>();
        try (DataLoader l = loader(new Tokens(300), mode, 2).batchSize(32).shuffle(true).seed(3).build()) {
            for (Batch b : l) {
                try (b) {
                    BigIntVector id = (BigIntVector) b.root().getVector("id");
                    ListVector tokens = (ListVector) b.root().getVector("tokens");
                    ListVector frames = (ListVector) b.root().getVector("frames");
                    IntVector ids = (IntVector) tokens.getDataVector();
                    FixedSizeListVector steps = (FixedSizeListVector) frames.getDataVector();
                    for (int r = 0; r < b.size(); r++) {
                        long i = id.get(r);
                        assertThat(seen.add(i)).isTrue();
                        int from = tokens.getElementStartIndex(r), to = tokens.getElementEndIndex(r);
                        assertThat(to - from).as("length of sample %d", i).isEqualTo(Tokens.tokens(i));
                        for (int j = from; j < to; j++) assertThat(ids.get(j)).isEqualTo((int) (i * 1000 + j - from));
                        assertThat(frames.getElementEndIndex(r) - frames.getElementStartIndex(r)).isEqualTo((int) (i % 4));
                        assertThat(((Float2Vector) b.root().getVector("h")).getValueAsFloat(r)).isEqualTo(i / 4f);
                        assertThat(Columns.fromBFloat16((short) ((UInt2Vector) b.root().getVector("b")).get(r)))
                                .isCloseTo(i * 1.5f, org.assertj.core.data.Percentage.withPercentage(0.4));
                    }
                    assertThat(steps.getListSize()).isEqualTo(3);
                    assertThat(((Float4Vector) steps.getDataVector()).getValueCount()).isEqualTo(3 * steps.getValueCount());
                    // offsets, values and both levels' validity: the worker's bytes, in shared memory
                    for (long address : new long[] {tokens.getOffsetBuffer().memoryAddress(), ids.getDataBuffer().memoryAddress(),
                            ids.getValidityBuffer().memoryAddress(), steps.getValidityBuffer().memoryAddress(),
                            steps.getDataVector().getDataBuffer().memoryAddress()}) {
                        assertThat(Batches.mappingOf(address)).as("mapping of 0x%x", address).startsWith("/dev/shm/ringloader-");
                    }
                }
            }
        }
        assertThat(seen).hasSize(300);
        assertThat(Columns.DType.of(new Tokens(1).sampleSchema().findField("b"))).isEqualTo(Columns.DType.BFLOAT16);
    }

    @Test
    void paddedBatchesAreDenseAndBitIdenticalForAnyWorkersAndMode() {
        record Config(WorkerMode mode, int workers) {}
        List<List<String>> runs = new ArrayList<>();
        for (Config c : List.of(new Config(WorkerMode.INLINE, 0), new Config(WorkerMode.PROCESS, 1), new Config(WorkerMode.PROCESS, 3),
                new Config(WorkerMode.THREAD, 2))) {
            try (DataLoader l = loader(new Tokens(200), c.mode(), c.workers()).batchSize(16).shuffle(true).seed(11).persistentWorkers(true)
                    .pad("tokens", Padding.toLongest().value(-1).withMask()).pad("frames", Padding.toLongest()).build()) {
                List<String> two = new ArrayList<>();
                for (int epoch = 0; epoch < 2; epoch++) {
                    for (Batch b : l) {
                        try (b) {
                            checkPadded(b);
                            two.add(Batches.digest(b));
                        }
                    }
                }
                runs.add(two);
                LoaderStats.Padding p = l.stats().padding();
                assertThat(p.values()).isGreaterThan(p.padding()).isPositive();
                assertThat(p.truncated()).isZero();
            }
        }
        for (int i = 1; i < runs.size(); i++) assertThat(runs.get(i)).as("run %d against inline", i).isEqualTo(runs.getFirst());
        assertThat(runs.getFirst().subList(0, 13)).as("epoch 2 differs").isNotEqualTo(runs.getFirst().subList(13, 26));
    }

    /** Every row as long as the batch's longest sample, the pad value after each sample, lengths and mask to match. */
    private static void checkPadded(Batch b) {
        var root = b.root();
        assertThat(root.getSchema().findField("tokens").getMetadata()).containsEntry(Columns.PADDED, "true");
        BigIntVector id = (BigIntVector) root.getVector("id");
        ListVector tokens = (ListVector) root.getVector("tokens");
        IntVector values = (IntVector) tokens.getDataVector();
        IntVector lengths = (IntVector) root.getVector("tokens_length");
        ListVector mask = (ListVector) root.getVector("tokens_mask");
        TinyIntVector maskValues = (TinyIntVector) mask.getDataVector();
        int longest = 0;
        for (int r = 0; r < b.size(); r++) longest = Math.max(longest, Tokens.tokens(id.get(r)));
        assertThat(values.getValueCount()).isEqualTo(b.size() * longest);
        for (int r = 0; r < b.size(); r++) {
            long i = id.get(r);
            int length = Tokens.tokens(i);
            assertThat(tokens.getElementStartIndex(r)).isEqualTo(r * longest);
            assertThat(tokens.getElementEndIndex(r)).isEqualTo((r + 1) * longest);
            assertThat(lengths.get(r)).isEqualTo(length);
            for (int j = 0; j < longest; j++) {
                assertThat(values.get(r * longest + j)).isEqualTo(j < length ? (int) (i * 1000 + j) : -1);
                assertThat(maskValues.get(r * longest + j)).isEqualTo((byte) (j < length ? 1 : 0));
            }
            assertThat(((IntVector) root.getVector("frames_length")).get(r)).isEqualTo((int) (i % 4));
        }
    }

    @Test
    void aFixedLengthCutsLongerSamplesWhenAskedAndCountsThem() {
        long longer = 0;
        for (int i = 0; i < 120; i++) if (Tokens.tokens(i) > 16) longer++;
        assertThat(longer).as("the test needs samples longer than 16").isPositive();
        try (DataLoader l = loader(new Tokens(120), WorkerMode.PROCESS, 2).batchSize(10)
                .pad("tokens", Padding.toLength(16).truncate()).build()) {
            long padding = 0;
            for (Batch b : l) {
                try (b) {
                    ListVector tokens = (ListVector) b.root().getVector("tokens");
                    assertThat(((IntVector) tokens.getDataVector()).getValueCount()).isEqualTo(16 * b.size());
                    IntVector lengths = (IntVector) b.root().getVector("tokens_length");
                    for (int r = 0; r < b.size(); r++) {
                        assertThat(lengths.get(r)).isEqualTo(Math.min(16, Tokens.tokens(b.sampleIndices()[r])));
                        padding += 16 - lengths.get(r);
                    }
                }
            }
            LoaderStats.Padding p = l.stats().padding();
            assertThat(p.truncated()).isEqualTo(longer);
            assertThat(p.values()).isEqualTo(16L * 120);
            assertThat(p.padding()).isEqualTo(padding);
            assertThat(p.share()).isEqualTo((double) padding / (16 * 120));
        }
    }

    @Test
    void aSampleLongerThanAFixedLengthIsAnErrorNamingColumnSampleAndSizes() {
        long first = -1;
        for (int i = 0; i < 100 && first < 0; i++) if (Tokens.tokens(i) > 16) first = i;
        try (DataLoader l = loader(new Tokens(100), WorkerMode.PROCESS, 1).batchSize(100).pad("tokens", Padding.toLength(16)).build()) {
            assertThatThrownBy(() -> l.iterator().next()).hasMessageContaining("sample " + first)
                    .rootCause().hasMessageContaining("sample " + first + " is " + Tokens.tokens(first) + " steps long in column 'tokens'")
                    .hasMessageContaining("fixed length of 16").hasMessageContaining("Padding.toLength(16).truncate()");
        }
    }

    @ParameterizedTest
    @EnumSource(value = WorkerMode.class, names = {"PROCESS", "INLINE"})
    void aNegativeLengthAndAWriteOutsideTheSegmentAreNamed(WorkerMode mode) {
        try (DataLoader l = loader(new Tokens(40, "negative", 5), mode, 1).batchSize(8).build()) {
            assertThatThrownBy(() -> l.iterator().next()).rootCause()
                    .hasMessageContaining("sample 5: sequence(tokens, -3): a length cannot be negative");
        }
        long overrun = -1;
        for (int i = 0; i < 40 && overrun < 0; i++) if (Tokens.tokens(i) > 2) overrun = i;
        try (DataLoader l = loader(new Tokens(40, "overrun", overrun), mode, 1).batchSize(40).build()) {
            long at = overrun;
            assertThatThrownBy(() -> l.iterator().next()).hasMessageContaining("sample " + at)
                    .rootCause().isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> l.iterator().next()).satisfies(e -> {
                Throwable t = e;
                StringBuilder all = new StringBuilder();
                for (; t != null; t = t.getCause()) all.append(t.getMessage()).append('\n');
                assertThat(all.toString()).contains("sample " + at + " wrote outside its segment of column 'tokens' (sequence(tokens, 2): 2 steps of 1 int32 = 8 bytes)");
            });
        }
    }

    @Test
    void aPaddedBatchThatOutgrowsItsRingIsAnErrorNamingTheBatchAndRingBytes() {
        try (DataLoader l = loader(new Tokens(64), WorkerMode.PROCESS, 1).batchSize(16).ringBytes(8 << 20)
                .pad("tokens", Padding.toLength(1 << 20)).build()) {
            assertThatThrownBy(() -> l.iterator().next())
                    .hasMessageContaining("a batch, outside any of its samples, failed in worker 0")
                    .hasMessageContaining("batch 0 of epoch 0 outgrew the worker's batch ring")
                    .hasMessageContaining("Raise DataLoader.Builder.ringBytes");
        }
    }

    @Test
    void paddingRefusesAColumnThatIsNotASequenceOrIsNotThere() {
        assertThatThrownBy(() -> DataLoader.builder(new Tokens(4)).pad("id", Padding.toLongest()).build())
                .hasMessageContaining("pad(\"id\"): column 'id' is Int(64, true), not a sequence column");
        assertThatThrownBy(() -> DataLoader.builder(new Tokens(4)).pad("text", Padding.toLongest()).build())
                .hasMessageContaining("pad(\"text\"): the sample schema has no column 'text'");
        assertThatThrownBy(() -> Padding.toLength(0)).hasMessageContaining("Padding.toLength: the length must be positive, got 0");
    }

    @Test
    void djlGetsPaddedSequencesAsNdArraysOverTheBatchAndRefusesRaggedOnes() {
        try (DataLoader l = DataLoader.builder(new Tokens(64)).batchSize(16).numWorkers(1)
                .pad("tokens", Padding.toLongest().withMask()).pad("frames", Padding.toLongest()).build();
             ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager("PyTorch")) {
            var ds = io.ringloader.djl.DjlDataset.of(l).data("tokens", "tokens_mask", "frames", "h", "b").labels("tokens_length").prefetch(0).build();
            int batches = 0;
            for (ai.djl.training.dataset.Batch b : ds.getData(manager)) {
                try (b) {
                    var x = b.getData();
                    long[] ids = new long[16];
                    int longest = 0, steps = 0;
                    for (int r = 0; r < 16; r++) {
                        ids[r] = batches * 16L + r;
                        longest = Math.max(longest, Tokens.tokens(ids[r]));
                        steps = Math.max(steps, (int) (ids[r] % 4));
                    }
                    assertThat(x.get(0).getShape()).isEqualTo(new ai.djl.ndarray.types.Shape(16, longest));
                    assertThat(x.get(0).getDataType()).isEqualTo(ai.djl.ndarray.types.DataType.INT32);
                    assertThat(x.get(1).getShape()).isEqualTo(new ai.djl.ndarray.types.Shape(16, longest));
                    assertThat(x.get(2).getShape()).isEqualTo(new ai.djl.ndarray.types.Shape(16, steps, 3));
                    assertThat(x.get(3).getDataType()).isEqualTo(ai.djl.ndarray.types.DataType.FLOAT16);
                    // bfloat16 arrives as float32 of the same values: DJL 0.35's PyTorch engine aborts on bfloat16 NDArrays
                    assertThat(x.get(4).getDataType()).isEqualTo(ai.djl.ndarray.types.DataType.FLOAT32);
                    assertThat(x.get(4).getFloat(7)).isEqualTo(Columns.fromBFloat16(Columns.toBFloat16(ids[7] * 1.5f)));
                    assertThat(x.get(3).toType(ai.djl.ndarray.types.DataType.FLOAT32, false).getFloat(5)).isEqualTo(ids[5] / 4f);
                    int[] tokens = x.get(0).toIntArray();
                    for (int r = 0; r < 16; r++) {
                        int length = Tokens.tokens(ids[r]);
                        for (int j = 0; j < longest; j++) assertThat(tokens[r * longest + j]).isEqualTo(j < length ? (int) (ids[r] * 1000 + j) : 0);
                        assertThat(b.getLabels().head().toIntArray()[r]).isEqualTo(length);
                    }
                    assertThat(x.get(1).sum().toType(ai.djl.ndarray.types.DataType.INT64, false).getLong())
                            .isEqualTo(b.getLabels().head().sum().toType(ai.djl.ndarray.types.DataType.INT64, false).getLong());
                    batches++;
                }
            }
            assertThat(batches).isEqualTo(4);
        }
        try (DataLoader l = DataLoader.builder(new Tokens(8)).batchSize(4).build()) {
            assertThatThrownBy(() -> io.ringloader.djl.DjlDataset.of(l).data("tokens").build())
                    .hasMessageContaining("column 'tokens' is a variable-length sequence, and an NDArray is dense")
                    .hasMessageContaining("DataLoader.Builder.pad(\"tokens\", Padding.toLongest())");
        }
    }
}
