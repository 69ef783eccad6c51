package io.ringloader.it.loader;

import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerPool;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/** warmWorkers(true): spare worker JVMs, booted ahead, become the next loader's workers. */
@Isolated(timeout = "120s")
class WarmWorkersTest {

    /** Each sample says which process built it and where that process puts its temporary files. */
    record WhereAmI(long n) implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"), Columns.int64("pid"), Columns.utf8("tmp"));
        }

        @Override
        public long size() {
            return n;
        }

        @Override
        public void read(long i, SampleWriter out) {
            out.setLong(0, i);
            out.setLong(1, ProcessHandle.current().pid());
            out.setString(2, System.getProperty("java.io.tmpdir"));
        }
    }

    @AfterEach
    void stopSpares() {
        WorkerPool.shutdown();
    }

    @Test
    void sparesBootedForOneLoaderBecomeTheNextLoadersWorkers() throws Exception {
        try (DataLoader first = DataLoader.builder(new WhereAmI(40)).batchSize(10).numWorkers(2).warmWorkers(true).build()) {
            assertThat(Batches.ids(first, "id")).hasSize(40);
        }
        assertThat(WorkerPool.awaitBooted(List.of(), 2, Duration.ofSeconds(60))).as("two spares booted").isTrue();
        List<Long> spares = WorkerPool.spares(List.of());
        assertThat(spares).hasSize(2);

        Set<Long> builtBy = new TreeSet<>();
        Set<String> tmpDirs = new TreeSet<>();
        List<Long> ids = new java.util.ArrayList<>();
        try (DataLoader next = DataLoader.builder(new WhereAmI(100)).batchSize(10).shuffle(true).seed(3).numWorkers(2).build()) {
            assertThat(next.workerPids()).containsExactlyInAnyOrderElementsOf(spares);
            for (Batch b : next) {
                try (b) {
                    var pid = (org.apache.arrow.vector.BigIntVector) b.root().getVector("pid");
                    var id = (org.apache.arrow.vector.BigIntVector) b.root().getVector("id");
                    var tmp = (VarCharVector) b.root().getVector("tmp");
                    for (int r = 0; r < b.size(); r++) {
                        builtBy.add(pid.get(r));
                        ids.add(id.get(r));
                        tmpDirs.add(new String(tmp.get(r), java.nio.charset.StandardCharsets.UTF_8));
                    }
                }
            }
            assertThat(builtBy).as("every sample was built by a spare").containsExactlyInAnyOrderElementsOf(spares);
            assertThat(ids).as("every sample once").containsExactlyInAnyOrderElementsOf(java.util.stream.LongStream.range(0, 100).boxed().toList());
            assertThat(tmpDirs).as("the spares took the loader's temporary folder").hasSize(1);
            assertThat(tmpDirs.iterator().next()).isNotEqualTo(System.getProperty("java.io.tmpdir"));
            assertThat(Path.of(tmpDirs.iterator().next())).isDirectory();
        }
        assertThat(Path.of(tmpDirs.iterator().next())).as("removed with the loader").doesNotExist();
        assertThat(WorkerPool.spares(List.of())).as("a loader without warmWorkers starts no spares").isEmpty();
        for (long pid : spares) assertThat(Batches.hasExited(pid)).as("a spare that served a loader exits with it").isTrue();
    }

    @Test
    void sparesEndWithShutdownAndNoneIsKeptForOtherJvmOptions() throws Exception {
        try (DataLoader l = DataLoader.builder(new WhereAmI(10)).batchSize(10).numWorkers(1).warmWorkers(true).build()) {
            Batches.ids(l, "id");
        }
        assertThat(WorkerPool.awaitBooted(List.of(), 1, Duration.ofSeconds(60))).isTrue();
        List<Long> spares = WorkerPool.spares(List.of());
        try (DataLoader other = DataLoader.builder(new WhereAmI(10)).batchSize(10).numWorkers(1).workerJvmOptions("-Xmx256m").build()) {
            assertThat(other.workerPids()).as("other JVM options: a JVM of its own").doesNotContainAnyElementsOf(spares);
            Batches.ids(other, "id");
        }
        WorkerPool.shutdown();
        for (long pid : spares) assertThat(Batches.hasExited(pid)).isTrue();
        assertThat(Files.list(Path.of("/dev/shm")).map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ringloader-")).toList()).isEmpty();
    }
}
