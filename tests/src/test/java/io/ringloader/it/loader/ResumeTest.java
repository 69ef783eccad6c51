package io.ringloader.it.loader;

import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderState;
import io.ringloader.sampler.Sampler;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A loader's state resumes it exactly: the batches before a checkpoint followed by those after the resume
 * are bit-identical (contents and sample indices) to one uninterrupted run, whatever the workers and the
 * mode on either side.
 */
@Isolated(timeout = "240s")
class ResumeTest {
    private static final int SAMPLES = 1000, BATCH = 10, BATCHES = SAMPLES / BATCH;

    private static DataLoader.Builder builder(int workers, WorkerMode mode) {
        return DataLoader.builder(new Datasets.Numbers(SAMPLES)).batchSize(BATCH).shuffle(true).seed(42).numWorkers(workers).mode(mode);
    }

    /** Two epochs without a stop. */
    private static List<String> uninterrupted() {
        try (DataLoader l = builder(0, WorkerMode.INLINE).build()) {
            List<String> out = new ArrayList<>(Batches.take(l.iterator(), BATCHES));
            out.addAll(Batches.take(l.iterator(), BATCHES));
            return out;
        }
    }

    @ParameterizedTest(name = "save with {0} {1} workers (prefetch {2}) after {3} batches, resume with {4} {5} workers (prefetch {6})")
    @CsvSource({
            "4, PROCESS, 2, 37, 1, THREAD, 1",
            "0, INLINE, 1, 1, 2, PROCESS, 8",
            "2, THREAD, 3, 100, 4, PROCESS, 2",
            "1, PROCESS, 1, 0, 0, INLINE, 1",
            "2, PROCESS, 32, 99, 2, THREAD, 4",
    })
    void batchesBeforeTheCheckpointAndAfterTheResumeAreThoseOfOneRun(int saveWorkers, WorkerMode saveMode, int savePrefetch, int at,
                                                                   int resumeWorkers, WorkerMode resumeMode, int resumePrefetch) {
        List<String> expected = uninterrupted();
        List<String> got = new ArrayList<>();
        String json;
        try (DataLoader l = builder(saveWorkers, saveMode).prefetchFactor(savePrefetch).build()) {
            got.addAll(Batches.take(l.iterator(), at));
            json = l.state().toJson(); // with batches prefetched and in flight beyond it
        }
        LoaderState state = LoaderState.fromJson(json);
        assertThat(state.epoch()).isEqualTo(at == BATCHES ? 1 : 0);
        assertThat(state.batches()).isEqualTo(at == BATCHES ? 0 : at);
        try (DataLoader l = builder(resumeWorkers, resumeMode).prefetchFactor(resumePrefetch).resumeFrom(state).build()) {
            got.addAll(Batches.take(l.iterator(), BATCHES));
            if (at < BATCHES) got.addAll(Batches.take(l.iterator(), BATCHES));
        }
        assertThat(got).hasSize(expected.size());
        for (int i = 0; i < expected.size(); i++) assertThat(got.get(i)).as("batch %d of the two epochs", i).isEqualTo(expected.get(i));
    }

    @Test
    void severalResumesInARowGiveTheSameBatches() {
        List<String> expected = uninterrupted();
        List<String> got = new ArrayList<>();
        LoaderState state = null;
        int[][] runs = {{0, 13}, {2, 40}, {1, 60}, {4, 30}, {3, 57}}; // {workers, batches}; process and thread in turn
        for (int r = 0; r < runs.length; r++) {
            WorkerMode mode = runs[r][0] == 0 ? WorkerMode.INLINE : r % 2 == 0 ? WorkerMode.PROCESS : WorkerMode.THREAD;
            DataLoader.Builder b = builder(runs[r][0], mode);
            if (state != null) b.resumeFrom(state);
            try (DataLoader l = b.build()) {
                int want = runs[r][1];
                while (want > 0) { // an epoch that ends is followed by the next, as in any run
                    List<String> part = Batches.take(l.iterator(), want);
                    got.addAll(part);
                    want -= part.size();
                }
                state = LoaderState.fromBytes(l.state().toBytes());
            }
        }
        assertThat(got).isEqualTo(expected);
    }

    @Test
    void aTrainerKilledWithMinus9AfterACheckpointIsResumedInANewProcessWithTheSameBatches(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        List<String> expected = new ArrayList<>();
        try (DataLoader l = CheckpointingTrainerMain.builder(0, WorkerMode.INLINE).build()) {
            for (int e = 0; e < 2; e++) for (String d : Batches.take(l.iterator(), Integer.MAX_VALUE)) expected.add(d.replace('\n', '|'));
        }
        Process first = trainer(dir, 4, WorkerMode.PROCESS, false);
        int checkpointed = 0;
        try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(first.getInputStream()))) {
            for (String line; checkpointed < 150 && (line = out.readLine()) != null; ) {
                if (line.startsWith("CHECKPOINT ")) checkpointed = Integer.parseInt(line.substring(11));
            }
            assertThat(io.ringloader.os.Posix.kill(first.pid(), io.ringloader.os.Posix.SIGKILL)).isTrue(); // mid-epoch, steps after it
            first.waitFor();
        }
        assertThat(checkpointed).as("the killed trainer's last checkpoint").isGreaterThanOrEqualTo(150);
        Process second = trainer(dir, 1, WorkerMode.THREAD, true);
        second.getInputStream().transferTo(java.io.OutputStream.nullOutputStream());
        assertThat(second.waitFor()).as("the resumed trainer's exit code").isZero();
        assertThat(java.nio.file.Files.readAllLines(dir.resolve("digests"))).isEqualTo(expected);
    }

    private static Process trainer(java.nio.file.Path dir, int workers, WorkerMode mode, boolean resume) throws java.io.IOException {
        List<String> args = new ArrayList<>(List.of(dir.toString(), Integer.toString(workers), mode.name()));
        if (resume) args.add("resume");
        return new ProcessBuilder(io.ringloader.os.JavaProcess.command(CheckpointingTrainerMain.class.getName(),
                List.of("-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir")), args))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    @Test
    void resumingReadsNoSampleBeforeTheCheckpoint() {
        LoaderState state;
        List<Long> before = new ArrayList<>();
        try (DataLoader l = DataLoader.builder(new Datasets.Recording(SAMPLES)).batchSize(BATCH).numWorkers(2).mode(WorkerMode.THREAD).build()) {
            Iterator<Batch> it = l.iterator();
            for (int i = 0; i < 50; i++) {
                try (Batch b = it.next()) {
                    for (long s : b.sampleIndices()) before.add(s);
                }
            }
            state = l.state();
        }
        Datasets.Recording.READ.clear();
        try (DataLoader l = DataLoader.builder(new Datasets.Recording(SAMPLES)).batchSize(BATCH).numWorkers(2).mode(WorkerMode.THREAD)
                .resumeFrom(state).build()) {
            Batch first = l.iterator().next();
            assertThat(first.index()).isEqualTo(50);
            first.close();
        }
        assertThat(Datasets.Recording.READ).as("samples read after the resume").isNotEmpty().doesNotContainAnyElementsOf(before);
    }

    @Test
    void theStateIsSmallVersionedAndReadsBack() {
        try (DataLoader l = builder(2, WorkerMode.THREAD).distributed(1, 3).build()) {
            LoaderState fresh = l.state();
            assertThat(fresh.epoch()).isZero();
            assertThat(fresh.batches()).isZero();
            Iterator<Batch> it = l.iterator();
            for (int i = 0; i < 5; i++) it.next().close();
            LoaderState s = l.state();
            String json = s.toJson();
            System.out.println("state: " + json.length() + " bytes: " + json);
            assertThat(json.length()).isLessThan(1024);
            assertThat(json).contains("\"version\":1").contains("\"epoch\":0").contains("\"batches\":5").contains("\"seed\":42")
                    .contains("\"rank\":1").contains("\"worldSize\":3").contains("\"batchSize\":10").contains("\"datasetSize\":1000");
            assertThat(LoaderState.fromJson(json)).isEqualTo(s);
            assertThat(LoaderState.fromBytes(s.toBytes())).isEqualTo(s);
            assertThat(l.state()).as("taking the state again, nothing delivered meanwhile").isEqualTo(s);
        }
    }

    /** A sampler of your own with many parameters: a subset of the dataset, in a given order. */
    record Picks(List<Long> picks) implements Sampler {
        @Override
        public long[] indices(long size, long seed, int epoch) {
            return picks.stream().mapToLong(Long::longValue).toArray();
        }
    }

    @Test
    void aSamplerWithManyParametersStillGivesASmallStateThatResumes() {
        List<Long> picks = new ArrayList<>();
        for (long i = SAMPLES - 1; i >= 0; i -= 3) picks.add(i);
        List<String> expected;
        try (DataLoader l = DataLoader.builder(new Datasets.Numbers(SAMPLES)).batchSize(BATCH).sampler(new Picks(picks)).build()) {
            expected = Batches.take(l.iterator(), Integer.MAX_VALUE);
        }
        List<String> got = new ArrayList<>();
        LoaderState state;
        try (DataLoader l = DataLoader.builder(new Datasets.Numbers(SAMPLES)).batchSize(BATCH).sampler(new Picks(picks)).numWorkers(2).build()) {
            got.addAll(Batches.take(l.iterator(), 12));
            state = l.state();
        }
        assertThat(state.toJson().length()).as(state.toJson()).isLessThan(1024);
        try (DataLoader l = DataLoader.builder(new Datasets.Numbers(SAMPLES)).batchSize(BATCH).sampler(new Picks(picks)).resumeFrom(state).build()) {
            got.addAll(Batches.take(l.iterator(), Integer.MAX_VALUE));
        }
        assertThat(got).isEqualTo(expected);
        List<Long> other = new ArrayList<>(picks);
        other.set(200, 1L);
        assertThatThrownBy(() -> DataLoader.builder(new Datasets.Numbers(SAMPLES)).batchSize(BATCH).sampler(new Picks(other)).resumeFrom(state).build())
                .hasMessageContaining("sampler: ");
    }

    @Test
    void aStateThatDoesNotMatchTheLoaderIsRefusedNamingTheField() {
        LoaderState state;
        try (DataLoader l = builder(0, WorkerMode.INLINE).build()) {
            Iterator<Batch> it = l.iterator();
            for (int i = 0; i < 3; i++) it.next().close();
            state = l.state();
        }
        assertThatThrownBy(() -> builder(0, WorkerMode.INLINE).seed(7).resumeFrom(state).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("seed: 42 in the state, 7 in this loader");
        assertThatThrownBy(() -> builder(0, WorkerMode.INLINE).batchSize(20).resumeFrom(state).build())
                .hasMessageContaining("batchSize: 10 in the state, 20 in this loader");
        assertThatThrownBy(() -> DataLoader.builder(new Datasets.Numbers(999)).batchSize(BATCH).shuffle(true).seed(42).resumeFrom(state).build())
                .hasMessageContaining("datasetSize: 1000 in the state, 999 in this loader");
        assertThatThrownBy(() -> builder(0, WorkerMode.INLINE).shuffle(false).resumeFrom(state).build())
                .hasMessageContaining("sampler: \"RandomSampler[]\" in the state, \"SequentialSampler[]\" in this loader");
        assertThatThrownBy(() -> builder(0, WorkerMode.INLINE).dropLast(true).resumeFrom(state).build())
                .hasMessageContaining("dropLast: false in the state, true in this loader");
        assertThatThrownBy(() -> builder(0, WorkerMode.INLINE).distributed(0, 2).resumeFrom(state).build())
                .hasMessageContaining("in the state").hasMessageContaining("in this loader");
        // A sampler of your own whose order changed (same type): the order digest tells.
        Sampler reversed = (size, seed, epoch) -> java.util.stream.LongStream.range(0, size).map(i -> size - 1 - i).toArray();
        Sampler forward = (size, seed, epoch) -> java.util.stream.LongStream.range(0, size).toArray();
        LoaderState own;
        try (DataLoader l = DataLoader.builder(new Datasets.Numbers(SAMPLES)).batchSize(BATCH).sampler(reversed).build()) {
            l.iterator().next().close();
            own = l.state();
        }
        assertThatThrownBy(() -> DataLoader.builder(new Datasets.Numbers(SAMPLES)).batchSize(BATCH).sampler(forward).resumeFrom(own).build())
                .hasMessageContaining("order: ");
        assertThatThrownBy(() -> LoaderState.fromJson("{\"format\":\"ringloader.LoaderState\",\"version\":2}"))
                .hasMessageContaining("version 2").hasMessageContaining("reads version 1");
        assertThatThrownBy(() -> LoaderState.fromJson("not json")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a ringloader state");
        assertThatThrownBy(() -> LoaderState.fromJson(state.toJson().replace("\"seed\":42,", "")))
                .hasMessageContaining("\"seed\" must be an integer");
    }

    @Test
    void aStateTakenInArrivalOrderResumesWithEveryBatchOnce() {
        Map<Long, String> expected = new TreeMap<>();
        try (DataLoader l = builder(0, WorkerMode.INLINE).build()) {
            for (Batch b : l) {
                try (b) {
                    expected.put(b.index(), Batches.digest(b));
                }
            }
        }
        Map<Long, String> got = new TreeMap<>();
        LoaderState state;
        try (DataLoader l = builder(3, WorkerMode.THREAD).inOrder(false).build()) {
            Iterator<Batch> it = l.iterator();
            for (int i = 0; i < 41; i++) {
                try (Batch b = it.next()) {
                    assertThat(got.put(b.index(), Batches.digest(b))).isNull();
                }
            }
            state = l.state();
        }
        assertThat(state.batches() + state.alsoDelivered().size()).isEqualTo(41);
        try (DataLoader l = builder(2, WorkerMode.PROCESS).inOrder(false).resumeFrom(state).build()) {
            for (Batch b : l) {
                try (b) {
                    assertThat(got.put(b.index(), Batches.digest(b))).as("batch %d delivered twice", b.index()).isNull();
                }
            }
        }
        assertThat(got).isEqualTo(expected);
    }
}
