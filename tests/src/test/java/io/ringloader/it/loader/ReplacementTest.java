package io.ringloader.it.loader;

import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.WorkerDiedException;
import io.ringloader.loader.WorkerHungException;
import io.ringloader.os.Posix;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/** A worker that dies or hangs is replaced, and the caller gets exactly the batches of a run without the failure. */
@Isolated(timeout = "240s")
class ReplacementTest {
    private static final int SAMPLES = 4000, BATCH = 20, BATCHES = SAMPLES / BATCH;

    private static DataLoader.Builder builder(int workers, WorkerMode mode) {
        return DataLoader.builder(new Datasets.Numbers(SAMPLES)).batchSize(BATCH).shuffle(true).seed(7).numWorkers(workers).mode(mode)
                .prefetchFactor(2);
    }

    private static List<String> clean() {
        try (DataLoader l = builder(0, WorkerMode.INLINE).build()) {
            return Batches.take(l.iterator(), BATCHES);
        }
    }

    @Test
    void aWorkerKilledWithMinus9AtARandomBatchIsReplacedAndTheEpochIsThatOfACleanRun() {
        List<String> expected = clean();
        SplittableRandom random = new SplittableRandom(2026);
        for (int run = 0; run < 10; run++) {
            int killAt = random.nextInt(5, BATCHES - 20);
            try (DataLoader l = builder(2, WorkerMode.PROCESS).build()) {
                Iterator<Batch> it = l.iterator();
                List<String> got = new ArrayList<>(Batches.take(it, killAt));
                long victim = l.workerPids().get(run % 2);
                long killedAt = System.nanoTime();
                assertThat(Posix.kill(victim, Posix.SIGKILL)).isTrue();
                got.addAll(Batches.take(it, BATCHES));
                assertThat(got).as("run %d, worker %d killed after batch %d", run, run % 2, killAt).isEqualTo(expected);
                assertThat(l.stats().workerRestarts()).as("replacements in run %d", run).isEqualTo(1);
                assertThat(ProcessHandle.of(victim).map(ProcessHandle::isAlive).orElse(false)).isFalse();
                System.out.printf("run %d: worker %d (pid %d) killed after batch %d, epoch intact, %d ms to the end of the epoch%n",
                        run, run % 2, victim, killAt, (System.nanoTime() - killedAt) / 1_000_000);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = WorkerMode.class, names = {"PROCESS", "THREAD"})
    void aWorkerThatHangsOnceIsDumpedKilledAndReplaced(WorkerMode mode, @TempDir Path tmp) {
        List<String> expected = clean();
        try (DataLoader l = DataLoader.builder(new Datasets.FailsOnce(SAMPLES, 1234, tmp.resolve("hung").toString(), true)).batchSize(BATCH)
                .shuffle(true).seed(7).numWorkers(2).mode(mode).prefetchFactor(2).timeout(Duration.ofSeconds(2)).build()) {
            assertThat(Batches.take(l.iterator(), BATCHES)).isEqualTo(expected);
            assertThat(l.stats().workerRestarts()).isEqualTo(1);
        }
        assertThat(Batches.threads("ringloader-worker-")).as("worker threads left").isEmpty();
    }

    @Test
    void aWorkerKilledInTheMiddleOfABatchIsReplaced(@TempDir Path tmp) {
        List<String> expected = clean();
        try (DataLoader l = DataLoader.builder(new Datasets.FailsOnce(SAMPLES, 77, tmp.resolve("killed").toString(), false)).batchSize(BATCH)
                .shuffle(true).seed(7).numWorkers(3).prefetchFactor(4).build()) {
            assertThat(Batches.take(l.iterator(), BATCHES)).isEqualTo(expected);
            assertThat(l.stats().workerRestarts()).isEqualTo(1);
        }
    }

    @Test
    void aBatchThatKillsItsWorkerTwiceIsNotAskedAgainAndTheErrorNamesIt() {
        try (DataLoader l = DataLoader.builder(new Datasets.Exiting(100, 25, 7)).batchSize(10).numWorkers(2).build()) {
            List<Long> ids = new ArrayList<>();
            Throwable t = catchThrowable(() -> {
                for (Batch b : l) {
                    try (b) {
                        for (long s : b.sampleIndices()) ids.add(s);
                    }
                }
            });
            assertThat(t).isInstanceOf(WorkerDiedException.class).hasMessageContaining("exited with code 7")
                    .hasMessageContaining("batch 2 of epoch 0 (samples 20, 21, 22")
                    .hasMessageContaining("the second worker lost while building batch 2 of epoch 0")
                    .hasMessageContaining("reading sample 25")
                    .hasMessageContaining("both were reading sample 25, which crashes every worker that reads it");
            assertThat(l.stats().workerRestarts()).isEqualTo(1);
            assertThat(ids).as("every batch before the one that kills its worker").containsExactly(0L, 1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L,
                    10L, 11L, 12L, 13L, 14L, 15L, 16L, 17L, 18L, 19L);
        }
    }

    @Test
    void withoutRestartsLeftEveryBatchThatArrivedIsDeliveredAndTheErrorNamesTheFirstThatDidNot() {
        try (DataLoader l = DataLoader.builder(new Datasets.Slow(2000, 1)).batchSize(10).numWorkers(2).prefetchFactor(4).maxWorkerRestarts(0).build()) {
            Iterator<Batch> it = l.iterator();
            List<Long> delivered = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                try (Batch b = it.next()) {
                    delivered.add(b.index());
                }
            }
            long victim = l.workerPids().get(0);
            assertThat(Posix.kill(victim, Posix.SIGKILL)).isTrue();
            Throwable t = catchThrowable(() -> {
                while (it.hasNext()) {
                    try (Batch b = it.next()) {
                        delivered.add(b.index());
                    }
                }
            });
            int firstMissing = delivered.size();
            for (int k = 0; k < delivered.size(); k++) assertThat(delivered.get(k)).as("batches in order, none lost").isEqualTo((long) k);
            assertThat(t).isInstanceOf(WorkerDiedException.class).hasMessageContaining("was killed by signal 9 (SIGKILL)")
                    .hasMessageContaining("batch " + firstMissing + " of epoch 0 (samples " + firstMissing * 10 + ",")
                    .hasMessageContaining("the 0 replacements that DataLoader.Builder.maxWorkerRestarts allows");
            assertThat(firstMissing % 2).as("the first missing batch is the dead worker's").isZero();
        }
    }

    @Test
    void theRestartsAreCountedAndLimited(@TempDir Path tmp) {
        // Every worker that reads sample 5 dies: with 1 restart allowed, the second loss fails.
        try (DataLoader l = DataLoader.builder(new Datasets.Exiting(1000, 5, 3)).batchSize(10).numWorkers(1).maxWorkerRestarts(1).build()) {
            Throwable t = catchThrowable(() -> Batches.epoch(l));
            assertThat(t).isInstanceOf(WorkerDiedException.class);
            assertThat(l.stats().workerRestarts()).isEqualTo(1);
        }
        try (DataLoader l = DataLoader.builder(new Datasets.Hanging(100, 15)).batchSize(10).numWorkers(1).mode(WorkerMode.THREAD)
                .timeout(Duration.ofSeconds(1)).build()) {
            Throwable t = catchThrowable(() -> Batches.epoch(l));
            assertThat(t).isInstanceOf(WorkerHungException.class).hasMessageContaining("second worker lost while building batch 1");
        }
    }
}
