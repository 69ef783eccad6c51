package io.ringloader.it.loader;

import io.ringloader.data.ChainDataset;
import io.ringloader.data.Columns;
import io.ringloader.data.ConcatDataset;
import io.ringloader.data.IterableDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.Subset;
import io.ringloader.data.WorkerContext;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderState;
import io.ringloader.sampler.Sampler;
import io.ringloader.sampler.SubsetRandomSampler;
import io.ringloader.sampler.WeightedRandomSampler;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.LongStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** PyTorch's dataset and sampler toolbox: weighted and subset samplers, subsets, concatenations, chains and random splits. */
@Isolated(timeout = "180s")
class ToolboxTest {
    record Config(WorkerMode mode, int workers) {}

    private static final List<Config> CONFIGS = List.of(new Config(WorkerMode.INLINE, 0), new Config(WorkerMode.PROCESS, 2),
            new Config(WorkerMode.THREAD, 3));

    /** Weight of sample i of 400: 0, 1, 2, 3, 0, 1, ... */
    private static double[] weights() {
        return LongStream.range(0, 400).mapToDouble(i -> i % 4).toArray();
    }

    /** Two epochs of {@code b} as digests, for every worker mode and count: they must all be equal. */
    private static List<String> sameForAnyWorkers(java.util.function.Supplier<DataLoader.Builder> b) {
        List<List<String>> runs = new ArrayList<>();
        for (Config c : CONFIGS) {
            try (DataLoader l = b.get().mode(c.mode()).numWorkers(c.workers()).persistentWorkers(true).build()) {
                List<String> two = new ArrayList<>(Batches.epoch(l));
                two.addAll(Batches.epoch(l));
                runs.add(two);
            }
        }
        for (int i = 1; i < runs.size(); i++) assertThat(runs.get(i)).as("%s against inline", CONFIGS.get(i)).isEqualTo(runs.getFirst());
        return runs.getFirst();
    }

    @Test
    void weightedSamplingWithReplacementDrawsInProportionAndNeverAWeightOfZero() {
        List<String> epochs = sameForAnyWorkers(() -> DataLoader.builder(new Datasets.Numbers(400)).batchSize(50).seed(3)
                .sampler(new WeightedRandomSampler(weights(), 6000, true)));
        assertThat(epochs).hasSize(240);
        try (DataLoader l = DataLoader.builder(new Datasets.Numbers(400)).batchSize(50).seed(3).numWorkers(2)
                .sampler(new WeightedRandomSampler(weights(), 6000, true)).build()) {
            Map<Long, Integer> byWeight = new HashMap<>();
            for (long id : Batches.ids(l, "id")) byWeight.merge(id % 4, 1, Integer::sum);
            assertThat(byWeight).doesNotContainKey(0L);
            // 6,000 draws in proportion 1 : 2 : 3 (expected 1,000, 2,000, 3,000; a standard deviation of about 40)
            assertThat(byWeight.get(1L)).isBetween(850, 1150);
            assertThat(byWeight.get(2L)).isBetween(1800, 2200);
            assertThat(byWeight.get(3L)).isBetween(2800, 3200);
        }
        assertThat(epochs.subList(0, 120)).as("each epoch draws anew").isNotEqualTo(epochs.subList(120, 240));
    }

    @Test
    void weightedSamplingWithoutReplacementDrawsDistinctSamplesOfWeightAboveZero() {
        WeightedRandomSampler s = new WeightedRandomSampler(weights(), 300, false);
        long[] order = s.indices(400, 9, 0);
        assertThat(Arrays.stream(order).distinct().count()).isEqualTo(300);
        assertThat(Arrays.stream(order).filter(i -> i % 4 == 0)).isEmpty();
        // the first 10 of 20 epochs: the heaviest samples come first about 3 times as often as the lightest
        long heavy = 0, light = 0;
        for (int epoch = 0; epoch < 20; epoch++) {
            for (long i : new WeightedRandomSampler(weights(), 10, false).indices(400, 9, epoch)) {
                if (i % 4 == 3) heavy++;
                if (i % 4 == 1) light++;
            }
        }
        assertThat(heavy).isGreaterThan(2 * light);
        assertThat(s.indices(400, 9, 0)).isEqualTo(order);
        assertThat(s.indices(400, 9, 1)).isNotEqualTo(order);
    }

    @Test
    void badWeightsAreErrorsNamingTheArgumentAndItsValue() {
        assertThatThrownBy(() -> new WeightedRandomSampler(new double[] {1, 2, -1}, 5, true)).hasMessageContaining("weights[2] is -1.0");
        assertThatThrownBy(() -> new WeightedRandomSampler(new double[] {1, Double.NaN}, 5, true)).hasMessageContaining("weights[1] is NaN");
        assertThatThrownBy(() -> new WeightedRandomSampler(new double[] {0, 0, 0}, 5, true)).hasMessageContaining("all 3 weights are 0");
        assertThatThrownBy(() -> new WeightedRandomSampler(new double[] {0, 1, 1}, 3, false))
                .hasMessageContaining("numSamples is 3 without replacement, but only 2 samples have a weight above 0");
        assertThatThrownBy(() -> {
            try (DataLoader l = DataLoader.builder(new Datasets.Numbers(10)).sampler(new WeightedRandomSampler(new double[] {1, 2, 3}, 5, true)).build()) {
                Batches.epoch(l);
            }
        }).hasMessageContaining("weights has 3 entries, the dataset 10 samples");
    }

    @Test
    void subsetRandomSamplerShufflesItsIndicesAndSharesThemOutByRank() {
        long[] subset = LongStream.range(0, 100).map(i -> 3 * i).toArray();
        List<String> epochs = sameForAnyWorkers(() -> DataLoader.builder(new Datasets.Numbers(300)).batchSize(16).seed(4)
                .sampler(new SubsetRandomSampler(subset)));
        assertThat(epochs).hasSize(14);
        Set<Long> all = new HashSet<>();
        for (int rank = 0; rank < 4; rank++) {
            Sampler mine = new SubsetRandomSampler(subset).distributed(rank, 4);
            long[] order = mine.indices(300, 4, 0);
            assertThat(order).hasSize(25);
            for (long i : order) assertThat(all.add(i)).as("rank %d's %d is no other rank's", rank, i).isTrue();
        }
        assertThat(all).containsExactlyInAnyOrderElementsOf(Arrays.stream(subset).boxed().toList());
        assertThatThrownBy(() -> new SubsetRandomSampler(new long[] {1, 400}).indices(300, 0, 0))
                .hasMessageContaining("subset[1] is 400, but the dataset has 300 samples");
        // weighted sampling shared by rank: every rank draws from the same weighted order
        long[] r0 = new WeightedRandomSampler(weights(), 400, true).distributed(0, 2).indices(400, 1, 0);
        long[] r1 = new WeightedRandomSampler(weights(), 400, true).distributed(1, 2).indices(400, 1, 0);
        long[] both = new WeightedRandomSampler(weights(), 400, true).indices(400, 1, 0);
        for (int k = 0; k < 200; k++) {
            assertThat(r0[k]).isEqualTo(both[2 * k]);
            assertThat(r1[k]).isEqualTo(both[2 * k + 1]);
        }
    }

    @Test
    void randomSplitCutsADatasetIntoDisjointSubsetsFromItsSeed() {
        List<Subset> parts = Subset.randomSplit(new Datasets.Numbers(1001), 7, 0.8, 0.1, 0.1);
        assertThat(parts.stream().mapToLong(Subset::size).toArray()).containsExactly(801, 100, 100);
        Set<Long> seen = new HashSet<>();
        for (Subset p : parts) {
            try (DataLoader l = DataLoader.builder(p).batchSize(64).numWorkers(2).build()) {
                for (long id : Batches.ids(l, "id")) assertThat(seen.add(id)).as("sample %d in one part only", id).isTrue();
            }
        }
        assertThat(seen).hasSize(1001);
        assertThat(Subset.randomSplit(new Datasets.Numbers(1001), 7, 0.8, 0.1, 0.1)).as("the same seed, the same split").isEqualTo(parts);
        assertThat(Subset.randomSplit(new Datasets.Numbers(1001), 8, 0.8, 0.1, 0.1)).isNotEqualTo(parts);
        sameForAnyWorkers(() -> DataLoader.builder(parts.get(1)).batchSize(16).shuffle(true).seed(2));
        assertThatThrownBy(() -> Subset.randomSplit(new Datasets.Numbers(10), 1, 0.8, 0.1)).hasMessageContaining("add up to 0.9");
        assertThatThrownBy(() -> Subset.randomSplit(new Datasets.Numbers(10), 1, 1.2, -0.2)).hasMessageContaining("fractions[0] is 1.2");
        assertThatThrownBy(() -> new Subset(new Datasets.Numbers(10), new long[] {3, 10})).hasMessageContaining("indices[1] is 10, but the dataset has 10 samples");
    }

    @Test
    void concatenatedDatasetsReadOneAfterTheOtherAndResumeExactly() {
        ConcatDataset both = ConcatDataset.of(new Datasets.Numbers(100), new Datasets.Numbers(50));
        assertThat(both.size()).isEqualTo(150);
        try (DataLoader l = DataLoader.builder(both).batchSize(32).numWorkers(2).build()) {
            List<Long> expected = new ArrayList<>(LongStream.range(0, 100).boxed().toList());
            expected.addAll(LongStream.range(0, 50).boxed().toList());
            assertThat(Batches.ids(l, "id")).isEqualTo(expected);
        }
        List<String> whole = sameForAnyWorkers(() -> DataLoader.builder(both).batchSize(16).shuffle(true).seed(5));
        List<String> resumed = new ArrayList<>();
        String json;
        try (DataLoader l = DataLoader.builder(both).batchSize(16).shuffle(true).seed(5).numWorkers(3).build()) {
            var it = l.iterator();
            for (int k = 0; k < 4; k++) {
                try (var b = it.next()) {
                    resumed.add(Batches.content(b));
                }
            }
            json = l.state().toJson();
        }
        try (DataLoader l = DataLoader.builder(both).batchSize(16).shuffle(true).seed(5).mode(WorkerMode.THREAD).numWorkers(1)
                .resumeFrom(LoaderState.fromJson(json)).build()) {
            resumed.addAll(Batches.epoch(l));
        }
        assertThat(resumed).isEqualTo(whole.subList(0, 10));
        assertThatThrownBy(() -> ConcatDataset.of(new Datasets.Numbers(10), new Ids(5)))
                .hasMessageContaining("ConcatDataset: dataset 1's column 0 is 'id' (Int(64, true)), dataset 0's is 'x'");
    }

    @Test
    void chainedStreamsReadEachShardOfEveryPartInTurn() {
        ChainDataset chain = ChainDataset.of(new Counting(0, 300), new Counting(1000, 200));
        sameForAnyWorkers(() -> DataLoader.builder(chain).batchSize(20));
        try (DataLoader l = DataLoader.builder(chain).batchSize(20).numWorkers(2).build()) {
            List<Long> ids = Batches.ids(l, "id");
            assertThat(ids).hasSize(500).doesNotHaveDuplicates();
            assertThat(new HashSet<>(ids)).isEqualTo(new HashSet<>(LongStream.concat(LongStream.range(0, 300), LongStream.range(1000, 1200)).boxed().toList()));
        }
        assertThatThrownBy(() -> ChainDataset.of(new Counting(0, 3), new OtherStream()))
                .hasMessageContaining("ChainDataset: dataset 1's column 0 is 'name' (Utf8), dataset 0's is 'id' (Int(64, true))");
    }

    @Test
    void aLiveResourceInsideAPartIsRefusedAtBuildNamingItsPath() throws Exception {
        try (java.net.Socket socket = new java.net.Socket()) {
            var concat = ConcatDataset.of(new Ids(3), new LeakyIds(3, new java.util.concurrent.atomic.AtomicReference<>(socket)));
            assertThatThrownBy(() -> DataLoader.builder(concat).numWorkers(1).build())
                    .hasMessageContaining("dataset field 'ConcatDataset.parts[1].holder.get()' holds a live java.net.Socket");
            assertThatThrownBy(() -> DataLoader.builder(new Subset(new LeakyIds(3, new java.util.concurrent.atomic.AtomicReference<>(socket)),
                    new long[] {0})).numWorkers(1).build()).hasMessageContaining("holds a live java.net.Socket");
        }
    }

    /** n samples of one int64 column, "id". */
    record Ids(long n) implements Datasets.LikeIds {
        @Override
        public void read(long index, SampleWriter out) {
            out.setLong(0, index);
        }
    }

    /** Ids, holding what it should not. */
    record LeakyIds(long n, java.util.concurrent.atomic.AtomicReference<Object> holder) implements Datasets.LikeIds {
        @Override
        public void read(long index, SampleWriter out) {
            out.setLong(0, index);
        }
    }

    /** Ids from + 0 to from + n - 1, shard k holding those whose offset is k mod the shard count. */
    record Counting(long from, long n) implements IterableDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"));
        }

        @Override
        public SampleSource stream(WorkerContext ctx) {
            long[] next = {ctx.shardIndex()};
            return out -> {
                if (next[0] >= n) return false;
                out.setLong(0, from + next[0]);
                next[0] += ctx.shardCount();
                return true;
            };
        }
    }

    /** A stream of another schema. */
    record OtherStream() implements IterableDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.utf8("name"));
        }

        @Override
        public SampleSource stream(WorkerContext ctx) {
            return out -> false;
        }
    }
}
