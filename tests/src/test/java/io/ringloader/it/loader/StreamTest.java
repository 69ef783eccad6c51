package io.ringloader.it.loader;

import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderState;
import io.ringloader.os.Posix;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A stream's shards are the dataset's: its batches, their order, and so its state, are the same for any
 * number of workers and mode; it resumes and survives a lost worker exactly.
 */
@Isolated(timeout = "240s")
class StreamTest {
    /** 2,000 samples in 8 uneven shards (shard 1 empty), batches of 16: shards end in different rounds. */
    private static DataLoader.Builder builder(int workers, WorkerMode mode) {
        return DataLoader.builder(new Datasets.Sharded(2000, true)).batchSize(16).numWorkers(workers).mode(mode).prefetchFactor(2);
    }

    private static List<String> epochs(DataLoader l, int epochs) {
        List<String> out = new ArrayList<>();
        for (int e = 0; e < epochs; e++) out.addAll(Batches.take(l.iterator(), Integer.MAX_VALUE));
        return out;
    }

    private static List<String> clean() {
        try (DataLoader l = builder(0, WorkerMode.INLINE).build()) {
            return epochs(l, 2);
        }
    }

    @Test
    void aStreamsBatchesAreTheSameForAnyWorkersAndMode() {
        List<String> expected = clean();
        assertThat(expected).hasSizeGreaterThan(2 * 2000 / 16);
        for (int workers : new int[] {1, 2, 3}) {
            for (WorkerMode mode : new WorkerMode[] {WorkerMode.PROCESS, WorkerMode.THREAD}) {
                try (DataLoader l = builder(workers, mode).build()) {
                    assertThat(epochs(l, 2)).as("%d %s workers", workers, mode).isEqualTo(expected);
                }
            }
        }
    }

    @ParameterizedTest(name = "save with {0} {1} workers after {2} batches, resume with {3} {4} workers")
    @CsvSource({
            "3, PROCESS, 1, 1, THREAD",
            "2, THREAD, 77, 0, INLINE",
            "0, INLINE, 100, 2, PROCESS",
    })
    void aStreamResumesAtEachShardsPositionWithOtherWorkers(int saveWorkers, WorkerMode saveMode, int at, int resumeWorkers,
                                                            WorkerMode resumeMode) {
        List<String> expected = clean();
        int perEpoch = expected.size() / 2;
        List<String> got = new ArrayList<>();
        String json;
        try (DataLoader l = builder(saveWorkers, saveMode).build()) {
            got.addAll(Batches.take(l.iterator(), at));
            json = l.state().toJson();
        }
        LoaderState state = LoaderState.fromJson(json);
        assertThat(state.shards()).hasSize(8);
        assertThat(state.shards().stream().mapToLong(Long::longValue).sum()).isEqualTo(at);
        try (DataLoader l = builder(resumeWorkers, resumeMode).resumeFrom(state).build()) {
            got.addAll(Batches.take(l.iterator(), Integer.MAX_VALUE));
            got.addAll(Batches.take(l.iterator(), Integer.MAX_VALUE));
        }
        assertThat(got).hasSize(2 * perEpoch).isEqualTo(expected);
    }

    @Test
    void aStreamWorkerKilledWithMinus9IsReplacedAndItsShardsCarryOn() {
        List<String> expected = clean().subList(0, clean().size() / 2);
        for (int run = 0; run < 3; run++) {
            try (DataLoader l = builder(2, WorkerMode.PROCESS).build()) {
                Iterator<Batch> it = l.iterator();
                List<String> got = new ArrayList<>(Batches.take(it, 10 + 25 * run));
                assertThat(Posix.kill(l.workerPids().get(run % 2), Posix.SIGKILL)).isTrue();
                got.addAll(Batches.take(it, Integer.MAX_VALUE));
                assertThat(got).as("run %d", run).isEqualTo(expected);
                assertThat(l.stats().workerRestarts()).isEqualTo(1);
            }
        }
    }

    @Test
    void samplesAtOnePositionOfDifferentShardsDrawDifferentNumbersTheSameForAnyWorkers() {
        List<List<Long>> byWorkers = new ArrayList<>();
        for (int workers : new int[] {0, 3}) {
            List<Long> draws = new ArrayList<>();
            java.util.Map<Long, java.util.Set<Long>> atPosition = new java.util.HashMap<>();
            try (DataLoader l = DataLoader.builder(new Datasets.RandomStream(20)).batchSize(8).numWorkers(workers).build()) {
                for (Batch b : l) {
                    try (b) {
                        var position = (org.apache.arrow.vector.BigIntVector) b.root().getVector("position");
                        var draw = (org.apache.arrow.vector.BigIntVector) b.root().getVector("draw");
                        for (int r = 0; r < b.size(); r++) {
                            draws.add(draw.get(r));
                            atPosition.computeIfAbsent(position.get(r), p -> new java.util.HashSet<>()).add(draw.get(r));
                        }
                    }
                }
            }
            assertThat(draws).hasSize(8 * 20);
            assertThat(atPosition.values()).as("the 8 shards' draws at each position").allSatisfy(d -> assertThat(d).hasSize(8));
            byWorkers.add(draws);
        }
        assertThat(byWorkers.get(1)).as("3 process workers against none").isEqualTo(byWorkers.get(0));
    }

    @Test
    void aStreamSkipsBrokenSamplesTheSameForAnyWorkersAndResumesPastThem() {
        java.util.Set<Long> broken = java.util.Set.of(3L, 1_017L, 1_018L, 5_000L, 7_039L, 2_010L, 2_011L, 2_012L);
        java.util.function.IntFunction<DataLoader.Builder> b = workers -> DataLoader.builder(new Datasets.BrokenStream(40, broken))
                .batchSize(8).numWorkers(workers).onSampleError(io.ringloader.loader.SampleErrorPolicy.SKIP).maxSkipped(10);
        List<String> reference;
        try (DataLoader l = b.apply(0).build()) {
            reference = Batches.take(l.iterator(), Integer.MAX_VALUE);
            assertThat(l.stats().samplesSkipped()).isEqualTo(broken.size());
            assertThat(l.stats().samples()).isEqualTo(8 * 40 - broken.size());
        }
        assertThat(String.join("", reference)).as("the dropped samples left nothing behind").doesNotContain("x1-18").doesNotContain("tag-1-17")
                .contains("tag-1-16;tag-1-19;").contains("x1-15;");
        try (DataLoader l = b.apply(3).build()) {
            assertThat(Batches.take(l.iterator(), Integer.MAX_VALUE)).as("3 process workers").isEqualTo(reference);
            assertThat(l.stats().samplesSkipped()).isEqualTo(broken.size());
        }
        List<String> got = new ArrayList<>();
        LoaderState state;
        try (DataLoader l = b.apply(2).mode(WorkerMode.THREAD).build()) {
            got.addAll(Batches.take(l.iterator(), 17));
            state = l.state();
        }
        try (DataLoader l = b.apply(1).resumeFrom(state).build()) {
            got.addAll(Batches.take(l.iterator(), Integer.MAX_VALUE));
        }
        assertThat(got).as("resumed after 17 batches").isEqualTo(reference);
        try (DataLoader l = b.apply(2).maxSkipped(4).build()) {
            assertThatThrownBy(() -> Batches.take(l.iterator(), Integer.MAX_VALUE)).isInstanceOf(io.ringloader.loader.SampleReadException.class)
                    .hasMessageContaining("more than the 4 that maxSkipped allows").hasMessageContaining("is damaged (on purpose)");
        }
    }

    @Test
    void aStreamStateDoesNotResumeAnotherShardCount() {
        LoaderState state;
        try (DataLoader l = builder(0, WorkerMode.INLINE).build()) {
            Batches.take(l.iterator(), 5);
            state = l.state();
        }
        assertThatThrownBy(() -> builder(0, WorkerMode.INLINE).shards(4).resumeFrom(state).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("order: \"shards=8\" in the state, \"shards=4\" in this loader");
    }
}
