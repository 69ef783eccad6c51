package io.ringloader.it.loader;

import io.ringloader.data.Padding;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderState;
import io.ringloader.sampler.BatchSampler;
import io.ringloader.sampler.LengthBuckets;
import io.ringloader.sampler.TokenBudget;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.IntVector;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Batches made from the samples' lengths: buckets of similar lengths and a token budget. */
@Isolated(timeout = "120s")
class LengthBatchingTest {

    /** The share of padding in one epoch of {@code loader} (its tokens padded to each batch's longest). */
    private static double paddingShare(DataLoader loader) {
        for (Batch b : loader) b.close();
        return loader.stats().padding().share();
    }

    @Test
    void bucketingByLengthCutsPaddingToUnderAQuarterOfFixedBatches() {
        Tokens ds = new Tokens(4000);
        double fixed, bucketed;
        try (DataLoader l = DataLoader.builder(ds).batchSize(32).shuffle(true).seed(5).pad("tokens", Padding.toLongest()).build()) {
            fixed = paddingShare(l);
        }
        try (DataLoader l = DataLoader.builder(ds).batchSampler(BatchSampler.bucketByLength(32)).seed(5)
                .pad("tokens", Padding.toLongest()).build()) {
            bucketed = paddingShare(l);
        }
        assertThat(fixed).as("padding of shuffled fixed batches").isGreaterThan(0.3);
        assertThat(bucketed).as("padding of bucketed batches, against %.3f fixed", fixed).isLessThan(fixed / 4);
    }

    @Test
    void bucketsAndBudgetsAreBitIdenticalForAnyWorkersEveryEpochANewOrder() {
        for (BatchSampler sampler : List.of(new LengthBuckets(16, 8, false, 0, 1), BatchSampler.maxTokens(256))) {
            List<List<String>> runs = new ArrayList<>();
            for (int workers : new int[] {0, 2, 3}) {
                WorkerMode mode = workers == 3 ? WorkerMode.THREAD : WorkerMode.PROCESS;
                try (DataLoader l = DataLoader.builder(new Tokens(600)).batchSampler(sampler).seed(2).numWorkers(workers).mode(mode)
                        .persistentWorkers(true).pad("tokens", Padding.toLongest()).build()) {
                    List<String> two = new ArrayList<>();
                    Set<Long> seen = new HashSet<>();
                    for (int epoch = 0; epoch < 2; epoch++) {
                        seen.clear();
                        for (Batch b : l) {
                            try (b) {
                                for (long i : b.sampleIndices()) assertThat(seen.add(i)).isTrue();
                                two.add(Batches.digest(b));
                            }
                        }
                        assertThat(seen).as("%s: every sample once in epoch %d", sampler, epoch).hasSize(600);
                    }
                    runs.add(two);
                }
            }
            assertThat(runs.get(1)).as("%s: 2 process workers against inline", sampler).isEqualTo(runs.get(0));
            assertThat(runs.get(2)).as("%s: 3 thread workers against inline", sampler).isEqualTo(runs.get(0));
        }
        List<long[]> one = BatchSampler.bucketByLength(16).batches(new Tokens(600).lengths(), 2, 0);
        List<long[]> two = BatchSampler.bucketByLength(16).batches(new Tokens(600).lengths(), 2, 1);
        assertThat(one.stream().map(Arrays::toString).toList()).as("epochs differ").isNotEqualTo(two.stream().map(Arrays::toString).toList());
    }

    @Test
    void aTokenBudgetBoundsEveryPaddedBatchAndVariesTheSampleCount() {
        Set<Integer> sizes = new HashSet<>();
        try (DataLoader l = DataLoader.builder(new Tokens(1000)).batchSampler(new TokenBudget(512, 100, 0, 1)).seed(1).numWorkers(2)
                .pad("tokens", Padding.toLongest()).build()) {
            long samples = 0;
            for (Batch b : l) {
                try (b) {
                    IntVector lengths = (IntVector) b.root().getVector("tokens_length");
                    int longest = 0;
                    for (int r = 0; r < b.size(); r++) longest = Math.max(longest, lengths.get(r));
                    assertThat((long) b.size() * longest).as("padded tokens of batch %d", b.index()).isLessThanOrEqualTo(512);
                    assertThat(b.size()).isLessThanOrEqualTo(100);
                    sizes.add(b.size());
                    samples += b.size();
                }
            }
            assertThat(samples).isEqualTo(1000);
            assertThat(l.stats().padding().share()).isLessThan(0.1);
        }
        assertThat(sizes).as("short samples make large batches, long ones small").contains(100).anyMatch(n -> n < 16);
    }

    @Test
    void aBucketedEpochResumesExactlyWithOtherWorkers() {
        List<String> whole = new ArrayList<>(), resumed = new ArrayList<>();
        LoaderState state;
        try (DataLoader l = DataLoader.builder(new Tokens(400)).batchSampler(BatchSampler.maxTokens(300)).seed(4).numWorkers(2).build()) {
            for (Batch b : l) try (b) { whole.add(Batches.digest(b)); }
        }
        try (DataLoader l = DataLoader.builder(new Tokens(400)).batchSampler(BatchSampler.maxTokens(300)).seed(4).numWorkers(1).build()) {
            Iterator<Batch> it = l.iterator();
            for (int i = 0; i < 5; i++) try (Batch b = it.next()) { resumed.add(Batches.digest(b)); }
            state = l.state();
        }
        try (DataLoader l = DataLoader.builder(new Tokens(400)).batchSampler(BatchSampler.maxTokens(300)).seed(4).numWorkers(3)
                .mode(WorkerMode.THREAD).resumeFrom(state).build()) {
            Iterator<Batch> it = l.iterator();
            while (it.hasNext()) try (Batch b = it.next()) { resumed.add(Batches.digest(b)); }
        }
        assertThat(resumed).isEqualTo(whole);
    }

    @Test
    void missingLengthsAndASampleOverTheBudgetAreNamed() {
        assertThatThrownBy(() -> DataLoader.builder(new Datasets.Numbers(10)).batchSampler(BatchSampler.bucketByLength(4)).build())
                .hasMessageContaining("Numbers.length(0) is -1: a length-aware batch sampler needs every sample's length")
                .hasMessageContaining("Implement MapDataset.length(index)");
        int longest = Arrays.stream(new Tokens(200).lengths()).max().orElseThrow();
        long which = -1;
        for (int i = 0; i < 200 && which < 0; i++) if (Tokens.tokens(i) == longest) which = i;
        long sample = which;
        assertThatThrownBy(() -> DataLoader.builder(new Tokens(200)).batchSampler(BatchSampler.maxTokens(longest - 1)).build().iterator().next())
                .hasMessageContaining("TokenBudget: sample " + sample + " is " + longest + " tokens long, more than maxTokens (" + (longest - 1) + ")");
        assertThatThrownBy(() -> new TokenBudget(0, 0, 0, 1)).hasMessageContaining("maxTokens must be at least 1, got 0");
        assertThatThrownBy(() -> new LengthBuckets(8, 4, false, 2, 2)).hasMessageContaining("got rank 2 of 2");
    }
}
