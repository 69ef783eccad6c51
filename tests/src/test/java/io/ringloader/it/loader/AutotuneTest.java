package io.ringloader.it.loader;

import io.ringloader.data.IterableDataset;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.TuningDecision;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * numWorkers(AUTO) and prefetchFactor(AUTO): the loader adds and retires workers and asks further ahead
 * mid-epoch as it measures, and its batches are bit-identical to those of a fixed worker count.
 */
@Isolated(timeout = "300s")
class AutotuneTest {
    private static final int SAMPLES = 3000, BATCH = 10, BATCHES = SAMPLES / BATCH;

    /** {@link Datasets.Numbers}' samples (random draws included), each after {@code sleepMicros} of waiting, as on a slow disk. */
    record SlowNumbers(long n, long sleepMicros) implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return new Datasets.Numbers(n).sampleSchema();
        }

        @Override
        public long size() {
            return n;
        }

        @Override
        public void read(long i, SampleWriter out) throws InterruptedException {
            Thread.sleep(sleepMicros / 1000, (int) (sleepMicros % 1000) * 1000);
            new Datasets.Numbers(n).read(i, out);
        }
    }

    /** {@link Datasets.RandomStream}'s samples, each after a millisecond of waiting. */
    record SlowStream(long perShard) implements IterableDataset {
        @Override
        public Schema sampleSchema() {
            return new Datasets.RandomStream(perShard).sampleSchema();
        }

        @Override
        public SampleSource stream(WorkerContext ctx) {
            SampleSource inner = new Datasets.RandomStream(perShard).stream(ctx);
            return out -> {
                Thread.sleep(1);
                return inner.next(out);
            };
        }
    }

    private static DataLoader.Builder slow() {
        return DataLoader.builder(new SlowNumbers(SAMPLES, 1000)).batchSize(BATCH).shuffle(true).seed(11);
    }

    /** The epochs of a run of 4 fixed thread workers: what every autotuned run must deliver. */
    private static List<String> fixed(java.util.function.Supplier<DataLoader.Builder> b, int epochs) {
        try (DataLoader l = b.get().mode(WorkerMode.THREAD).numWorkers(4).persistentWorkers(true).build()) {
            List<String> out = new ArrayList<>();
            for (int e = 0; e < epochs; e++) out.addAll(Batches.take(l.iterator(), Integer.MAX_VALUE));
            return out;
        }
    }

    private static List<String> changes(DataLoader l) {
        return l.stats().tuning().stream().filter(TuningDecision::changed).map(TuningDecision::change).toList();
    }

    @ParameterizedTest
    @EnumSource(value = WorkerMode.class, names = {"PROCESS", "THREAD"})
    void aWaitingTrainerGetsAWorkerAndABusyOneLetsItGoMidEpochAndTheBatchesAreThoseOfAFixedCount(WorkerMode mode) throws Exception {
        List<String> expected = fixed(AutotuneTest::slow, 2);
        Set<Long> pids = new HashSet<>();
        try (DataLoader l = slow().mode(mode).numWorkers(DataLoader.AUTO).persistentWorkers(true).build()) {
            assertThat(l.numWorkers()).as("an autotuned loader starts small").isEqualTo(1);
            List<String> got = new ArrayList<>();
            Set<Integer> builders = new TreeSet<>();
            // Epoch 0: the trainer takes each batch at once, so it waits for the worker, which sleeps: one is added.
            Iterator<Batch> it = l.iterator();
            while (it.hasNext()) {
                try (Batch b = it.next()) {
                    got.add(Batches.digest(b));
                    builders.add(b.workerId());
                }
                pids.addAll(l.workerPids());
            }
            assertThat(changes(l)).as("decisions of epoch 0: %s", l.stats().tuning()).contains("add worker 1");
            assertThat(builders).as("workers that built epoch 0's batches").contains(0, 1);
            TuningDecision add = l.stats().tuning().stream().filter(d -> d.change().equals("add worker 1")).findFirst().orElseThrow();
            assertThat(add.batches()).as("the worker was added mid-epoch").isLessThan(BATCHES);
            assertThat(add.stallPercent()).isGreaterThan(10);
            assertThat(add.toString()).startsWith("ringloader autotune at ").contains("add worker 1", "the trainer waited");
            // Epoch 1: the trainer computes 25 ms per batch, the workers need 10: one of them is retired.
            it = l.iterator();
            while (it.hasNext()) {
                try (Batch b = it.next()) {
                    got.add(Batches.digest(b));
                }
                long until = System.nanoTime() + 25_000_000L;
                while (System.nanoTime() < until) Thread.onSpinWait();
            }
            assertThat(changes(l)).as("decisions: %s", l.stats().tuning()).anyMatch(c -> c.startsWith("retire worker"));
            assertThat(l.numWorkers()).isEqualTo(1);
            assertThat(got).as("the batches of both epochs, against 4 fixed thread workers").isEqualTo(expected);
        }
        for (long pid : pids) assertThat(Batches.hasExited(pid)).as("worker pid %d after close", pid).isTrue();
        assertThat(Batches.threads("ringloader-worker-")).as("worker threads left").isEmpty();
    }

    @Test
    void aWorkerTheAutotunerAddedIsReplacedWhenKilledAndItsStateResumesWithFixedWorkers() throws Exception {
        List<String> expected = fixed(AutotuneTest::slow, 2);
        List<String> got = new ArrayList<>();
        io.ringloader.loader.LoaderState state;
        try (DataLoader l = slow().numWorkers(DataLoader.AUTO).persistentWorkers(true).build()) {
            Iterator<Batch> it = l.iterator();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (it.hasNext() && !(l.workerPids().size() == 2 && builtBy(l, 1))) {
                assertThat(System.nanoTime()).as("the second worker delivers within 60 s").isLessThan(deadline);
                got.addAll(Batches.take(it, 1));
            }
            long added = l.workerPids().get(1);
            assertThat(io.ringloader.os.Posix.kill(added, io.ringloader.os.Posix.SIGKILL)).isTrue();
            got.addAll(Batches.take(it, Integer.MAX_VALUE));
            assertThat(l.stats().workerRestarts()).as("the added worker was replaced").isEqualTo(1);
            assertThat(Batches.hasExited(added)).isTrue();
            got.addAll(Batches.take(l.iterator(), 100));
            state = l.state();
        }
        try (DataLoader l = slow().mode(WorkerMode.THREAD).numWorkers(2).resumeFrom(state).build()) {
            got.addAll(Batches.take(l.iterator(), Integer.MAX_VALUE));
        }
        assertThat(got).as("epoch 0 with a kill, epoch 1 resumed from batch 100 by 2 thread workers").isEqualTo(expected);
    }

    /** Whether worker {@code w} of {@code l} has delivered a batch. */
    private static boolean builtBy(DataLoader l, int w) {
        return l.stats().workers().stream().anyMatch(s -> s.id() == w && s.batches() > 0);
    }

    @Test
    void outOfOrderDeliveryGetsEveryBatchOnceWhileWorkersAreAdded() {
        Set<String> expected = new TreeSet<>(fixed(AutotuneTest::slow, 1));
        try (DataLoader l = slow().numWorkers(DataLoader.AUTO).inOrder(false).build()) {
            List<String> got = Batches.take(l.iterator(), Integer.MAX_VALUE);
            assertThat(got).hasSize(BATCHES);
            assertThat(new TreeSet<>(got)).isEqualTo(expected);
            assertThat(changes(l)).contains("add worker 1");
        }
    }

    @Test
    void prefetchGrowsWhileTheTrainerWaitsForIdleWorkers() {
        // Batches of one cheap sample: a worker 2 batches ahead spends its time waiting for requests.
        java.util.function.Supplier<DataLoader.Builder> tiny = () -> DataLoader.builder(new Datasets.Numbers(60_000)).batchSize(1).seed(5);
        List<Long> expected;
        try (DataLoader l = tiny.get().numWorkers(0).build()) {
            expected = Batches.ids(l, "id");
        }
        try (DataLoader l = tiny.get().mode(WorkerMode.THREAD).numWorkers(2).prefetchFactor(DataLoader.AUTO).build()) {
            assertThat(l.prefetchFactor()).isEqualTo(2);
            assertThat(Batches.ids(l, "id")).isEqualTo(expected);
            assertThat(changes(l)).as("decisions: %s", l.stats().tuning()).contains("prefetchFactor 2 -> 4");
            assertThat(l.prefetchFactor()).isGreaterThan(2);
            assertThat(l.numWorkers()).as("numWorkers was fixed").isEqualTo(2);
        }
    }

    @Test
    void aStreamChangesItsWorkerCountBetweenEpochsAndDeliversTheSameBatches() {
        java.util.function.Supplier<DataLoader.Builder> stream = () -> DataLoader.builder(new SlowStream(60)).batchSize(10).seed(3).shards(4);
        List<String> expected = fixed(stream, 3);
        try (DataLoader l = stream.get().numWorkers(DataLoader.AUTO).persistentWorkers(true).build()) {
            List<String> got = new ArrayList<>();
            Set<Integer> lastEpochBuilders = new TreeSet<>();
            for (int e = 0; e < 3; e++) {
                for (Batch b : l) {
                    try (b) {
                        got.add(Batches.digest(b));
                        if (e == 2) lastEpochBuilders.add(b.workerId());
                    }
                }
            }
            assertThat(got).isEqualTo(expected);
            assertThat(changes(l)).as("decisions: %s", l.stats().tuning()).contains("add a worker for the next epoch");
            assertThat(lastEpochBuilders).as("workers of the last epoch").contains(0, 1);
        }
    }

    @Test
    void budgetsAndCountsThatCannotWorkAreRefusedNamingTheArgument() {
        Throwable small = org.assertj.core.api.Assertions.catchThrowable(() -> slow().numWorkers(DataLoader.AUTO).memoryBudget(1000).build());
        assertThat(small).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("memoryBudget(1000) is too small for two batches of about")
                .hasMessageContaining("batchSize 10");
        long least = Long.parseLong(small.getMessage().replaceAll("(?s).*at least (\\d+) bytes.*", "$1"));
        assertThatThrownBy(() -> slow().numWorkers(2).memoryBudget(1 << 20).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("memoryBudget(1048576) is less than the")
                .hasMessageContaining("2 workers' batch rings");
        assertThatThrownBy(() -> slow().numWorkers(-2)).hasMessageContaining("numWorkers cannot be negative, got -2");
        assertThatThrownBy(() -> slow().prefetchFactor(0)).hasMessageContaining("prefetchFactor must be at least 1, got 0");
        assertThatThrownBy(() -> slow().memoryBudget(0)).hasMessageContaining("memoryBudget must be positive, got 0");
        // A budget with room for two batches only: one worker, asked one batch ahead, and the epoch is whole.
        List<String> expected = fixed(AutotuneTest::slow, 1);
        try (DataLoader probe = slow().numWorkers(DataLoader.AUTO).prefetchFactor(DataLoader.AUTO).build()) {
            assertThat(probe.prefetchFactor()).isEqualTo(2);
        }
        try (DataLoader l = slow().numWorkers(DataLoader.AUTO).prefetchFactor(DataLoader.AUTO).memoryBudget(least).build()) {
            assertThat(l.prefetchFactor()).isEqualTo(1);
            assertThat(Batches.take(l.iterator(), Integer.MAX_VALUE)).isEqualTo(expected);
            assertThat(l.stats().workers()).as("no room for a second worker's ring").hasSize(1);
        }
    }
}
