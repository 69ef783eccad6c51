package io.ringloader.it.loader;

import io.ringloader.data.Columns;
import io.ringloader.data.Padding;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderStats;
import io.ringloader.sampler.BatchSampler;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.complex.ListVector;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Packing sequences for pre-training: samples back to back in rows of a fixed length, their boundaries beside them. */
@Isolated(timeout = "120s")
class PackingTest {
    private static final int ROWS = 4, ROW = 16;

    private static DataLoader.Builder packed(int n, WorkerMode mode, int workers) {
        return Batches.loader(new Tokens(n), mode, workers).seed(5)
                .batchSampler(BatchSampler.packed(ROWS, ROW)).pad("tokens", Padding.pack(ROWS, ROW).value(-1).withMask());
    }

    @Test
    void packedBatchesHoldEverySampleOnceBackToBackAndAreBitIdenticalForAnyWorkersAndMode() {
        record Config(WorkerMode mode, int workers) {}
        List<List<String>> runs = new ArrayList<>();
        for (Config c : List.of(new Config(WorkerMode.INLINE, 0), new Config(WorkerMode.PROCESS, 1), new Config(WorkerMode.PROCESS, 3),
                new Config(WorkerMode.THREAD, 2))) {
            try (DataLoader l = packed(300, c.mode(), c.workers()).persistentWorkers(true).build()) {
                List<String> two = new ArrayList<>();
                for (int epoch = 0; epoch < 2; epoch++) {
                    Map<Long, Integer> seen = new HashMap<>();
                    for (Batch b : l) {
                        try (b) {
                            checkPacked(b, seen);
                            two.add(digest(b));
                        }
                    }
                    assertThat(seen).as("epoch %d: every sample once", epoch).hasSize(300).doesNotContainValue(2);
                }
                runs.add(two);
                LoaderStats.Padding p = l.stats().padding();
                // 2 epochs of ~3,400 tokens in batches of 64: first-fit leaves a few tokens of a batch unfilled
                assertThat(p.share()).as("padding share of packed batches").isPositive().isLessThan(0.05);
                assertThat(p.truncated()).isZero();
            }
        }
        for (int i = 1; i < runs.size(); i++) assertThat(runs.get(i)).as("run %d against inline", i).isEqualTo(runs.getFirst());
        int half = runs.getFirst().size() / 2;
        assertThat(runs.getFirst().subList(0, half)).as("epoch 2 differs").isNotEqualTo(runs.getFirst().subList(half, 2 * half));
    }

    /** Samples back to back in ROWS x ROW values, the pad value after them, documents, positions, mask and lengths to match. */
    private static void checkPacked(Batch b, Map<Long, Integer> seen) {
        var root = b.root();
        assertThat(root.getSchema().findField("tokens").getMetadata()).containsEntry(Columns.PACKED, Integer.toString(ROW));
        assertThat(root.getSchema().findField("tokens_document").getMetadata()).containsEntry(Columns.PACKED, Integer.toString(ROW));
        BigIntVector id = (BigIntVector) root.getVector("id");
        ListVector tokens = (ListVector) root.getVector("tokens");
        IntVector values = (IntVector) tokens.getDataVector();
        IntVector documents = (IntVector) ((ListVector) root.getVector("tokens_document")).getDataVector();
        IntVector positions = (IntVector) ((ListVector) root.getVector("tokens_position")).getDataVector();
        TinyIntVector mask = (TinyIntVector) ((ListVector) root.getVector("tokens_mask")).getDataVector();
        IntVector lengths = (IntVector) root.getVector("tokens_length");
        for (var v : List.of(values, documents, positions)) assertThat(v.getValueCount()).isEqualTo(ROWS * ROW);
        assertThat(mask.getValueCount()).isEqualTo(ROWS * ROW);
        int at = 0;
        for (int r = 0; r < b.size(); r++) {
            long i = id.get(r);
            seen.merge(i, 1, Integer::sum);
            int length = Tokens.tokens(i);
            assertThat(tokens.getElementStartIndex(r)).as("sample %d starts where the one before ends", i).isEqualTo(at);
            assertThat(tokens.getElementEndIndex(r) - at).isEqualTo(length);
            assertThat(lengths.get(r)).isEqualTo(length);
            for (int j = 0; j < length; j++, at++) {
                assertThat(values.get(at)).isEqualTo((int) (i * 1000 + j));
                assertThat(documents.get(at)).isEqualTo(r);
                assertThat(positions.get(at)).isEqualTo(j);
                assertThat(mask.get(at)).isEqualTo((byte) 1);
            }
        }
        for (; at < ROWS * ROW; at++) {
            assertThat(values.get(at)).as("pad value at %d", at).isEqualTo(-1);
            assertThat(documents.get(at)).isEqualTo(-1);
            assertThat(positions.get(at)).isZero();
            assertThat(mask.get(at)).isZero();
        }
    }

    /** A batch's contents with its packed value arrays whole (the tails the samples' lists do not reach included). */
    private static String digest(Batch b) {
        StringBuilder s = new StringBuilder(Batches.digest(b));
        for (String c : List.of("tokens", "tokens_document", "tokens_position", "tokens_mask")) {
            var v = ((ListVector) b.root().getVector(c)).getDataVector();
            s.append(c).append(" values=");
            for (int i = 0; i < v.getValueCount(); i++) s.append(v.getObject(i)).append(',');
            s.append('\n');
        }
        return s.toString();
    }

    @Test
    void packingIntoAsManyRowsAsTheSamplesFillPadsOnlyTheLastRow() {
        try (DataLoader l = DataLoader.builder(new Tokens(200)).numWorkers(2).batchSize(10).pad("tokens", Padding.pack(ROW)).build()) {
            long tokens = 0, cells = 0;
            for (Batch b : l) {
                try (b) {
                    ListVector t = (ListVector) b.root().getVector("tokens");
                    int total = t.getElementEndIndex(b.size() - 1);
                    int values = t.getDataVector().getValueCount();
                    assertThat(values % ROW).isZero();
                    assertThat(values - total).as("padding of batch %d", b.index()).isBetween(0, ROW - 1);
                    tokens += total;
                    cells += values;
                }
            }
            LoaderStats.Padding p = l.stats().padding();
            assertThat(p.values()).isEqualTo(cells);
            assertThat(p.padding()).isEqualTo(cells - tokens);
        }
    }

    @Test
    void aBatchOrASampleTooLongForTheRowsIsAnErrorNamingItsSize() {
        // 32 samples of ~12 tokens each (none longer than 60) cannot fit 4 rows of 16
        try (DataLoader l = DataLoader.builder(new Tokens(64)).numWorkers(1).batchSize(32).pad("tokens", Padding.pack(ROWS, ROW)).build()) {
            assertThatThrownBy(() -> Batches.epoch(l)).hasMessageContaining("more than the 4 rows of 16 its packing (Padding.pack(4, 16)) holds")
                    .hasMessageContaining("BatchSampler.packed(4, 16)");
        }
        long longSample = java.util.stream.LongStream.range(0, 200).filter(i -> Tokens.tokens(i) > ROW).findFirst().orElseThrow();
        try (DataLoader l = DataLoader.builder(new Tokens(200)).numWorkers(1).batchSize(1).pad("tokens", Padding.pack(1, ROW)).build()) {
            assertThatThrownBy(() -> Batches.epoch(l)).hasMessageContaining("sample " + longSample + " is " + Tokens.tokens(longSample)
                    + " steps long in column 'tokens', more than the 1 rows of 16");
        }
        assertThatThrownBy(() -> BatchSampler.packed(1, ROW).batches(new int[] {3, 40}, 1, 0))
                .hasMessageContaining("sample 1 is 40 tokens long, more than a batch of 1 rows of 16 holds");
        assertThatThrownBy(() -> Padding.pack(ROW).truncate()).hasMessageContaining("Padding.pack cuts nothing");
        assertThatThrownBy(() -> Padding.pack(0, ROW)).hasMessageContaining("both must be positive, got 0, 16");
    }

    @Test
    void djlGetsPackedRowsAndTheirDocumentsAsNdArraysOfRowsByRowLength() {
        try (DataLoader l = packed(120, WorkerMode.PROCESS, 1).build();
             ai.djl.ndarray.NDManager manager = ai.djl.ndarray.NDManager.newBaseManager("PyTorch")) {
            var ds = io.ringloader.djl.DjlDataset.of(l).data("tokens", "tokens_document", "tokens_position").labels("tokens_length")
                    .prefetch(0).build();
            int batches = 0;
            for (ai.djl.training.dataset.Batch b : ds.getData(manager)) {
                try (b) {
                    var x = b.getData();
                    for (int k = 0; k < 3; k++) {
                        assertThat(x.get(k).getShape()).isEqualTo(new ai.djl.ndarray.types.Shape(ROWS, ROW));
                        assertThat(x.get(k).getDataType()).isEqualTo(ai.djl.ndarray.types.DataType.INT32);
                    }
                    int[] tokens = x.get(0).toIntArray(), docs = x.get(1).toIntArray(), positions = x.get(2).toIntArray();
                    int[] lengths = b.getLabels().head().toIntArray();
                    int at = 0;
                    for (int r = 0; r < lengths.length; r++) {
                        for (int j = 0; j < lengths[r]; j++, at++) {
                            assertThat(docs[at]).isEqualTo(r);
                            assertThat(positions[at]).isEqualTo(j);
                            assertThat(tokens[at] % 1000).isEqualTo(j);
                        }
                    }
                    for (; at < ROWS * ROW; at++) assertThat(docs[at]).isEqualTo(-1);
                    batches++;
                }
            }
            assertThat(batches).isPositive();
        }
    }
}
