package io.ringloader.it.loader;

import io.ringloader.data.ArrayDataset;
import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderStats;
import io.ringloader.loader.SampleReadException;
import io.ringloader.sampler.BatchSampler;
import io.ringloader.sampler.Sampler;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.Socket;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.LongStream;

import static io.ringloader.it.loader.Batches.loader;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** What a DataLoader delivers, in every mode. */
@Isolated(timeout = "90s")
class DataLoaderTest {

    @ParameterizedTest
    @EnumSource(WorkerMode.class)
    void everySampleOnceWithEveryColumnTypeIntact(WorkerMode mode) {
        try (DataLoader loader = loader(new Datasets.Numbers(1000), mode, 2).batchSize(64).shuffle(true).seed(1).build()) {
            Set<Long> seen = new HashSet<>();
            int batches = 0;
            for (Batch b : loader) {
                try (b) {
                    batches++;
                    var root = b.root();
                    BigIntVector id = (BigIntVector) root.getVector("id");
                    VarCharVector name = (VarCharVector) root.getVector("name");
                    assertThat(b.sampleIndices()).hasSize(root.getRowCount());
                    for (int r = 0; r < root.getRowCount(); r++) {
                        long i = id.get(r);
                        assertThat(seen.add(i)).as("sample %d delivered once", i).isTrue();
                        assertThat(b.sampleIndices()[r]).isEqualTo(i);
                        if (i % 7 == 0) assertThat(name.isNull(r)).isTrue();
                        else assertThat(name.getObject(r).toString()).isEqualTo("sample-" + i);
                        assertThat(((org.apache.arrow.vector.BitVector) root.getVector("flag")).getObject(r)).isEqualTo(i % 3 == 0);
                        assertThat(((org.apache.arrow.vector.Float8Vector) root.getVector("w")).get(r)).isEqualTo(i * 0.5);
                        assertThat(((org.apache.arrow.vector.VarBinaryVector) root.getVector("blob")).get(r)).hasSize((int) (i % 5));
                        assertThat(((org.apache.arrow.vector.TinyIntVector) root.getVector("small")).get(r)).isEqualTo((byte) i);
                    }
                    FixedSizeListVector x = (FixedSizeListVector) root.getVector("x");
                    assertThat(x.getListSize()).isEqualTo(8);
                    assertThat(Columns.shape(x.getField())).containsExactly(2, 4);
                }
            }
            assertThat(seen).hasSize(1000);
            assertThat(batches).isEqualTo(16);
        }
    }

    @Test
    void batchesAreBitIdenticalWhateverTheWorkersAndTheMode() {
        List<List<String>> runs = new ArrayList<>();
        List<String> labels = new ArrayList<>();
        record Config(WorkerMode mode, int workers) {}
        for (Config c : List.of(new Config(WorkerMode.INLINE, 0), new Config(WorkerMode.PROCESS, 1), new Config(WorkerMode.PROCESS, 2),
                new Config(WorkerMode.PROCESS, 4), new Config(WorkerMode.THREAD, 1), new Config(WorkerMode.THREAD, 2), new Config(WorkerMode.THREAD, 4))) {
            try (DataLoader loader = loader(new Datasets.Numbers(300), c.mode(), c.workers()).batchSize(32).shuffle(true).seed(7)
                    .persistentWorkers(true).build()) {
                List<String> two = new ArrayList<>(Batches.epoch(loader));
                two.addAll(Batches.epoch(loader)); // two epochs: the second has another order and other random draws
                runs.add(two);
                labels.add(c.toString());
            }
        }
        for (int i = 1; i < runs.size(); i++) {
            assertThat(runs.get(i)).as("%s against %s", labels.get(i), labels.getFirst()).isEqualTo(runs.getFirst());
        }
        assertThat(runs.getFirst().subList(0, 10)).as("epoch 2 differs from epoch 1").isNotEqualTo(runs.getFirst().subList(10, 20));
    }

    @Test
    void shuffleGivesANewReproducibleOrderEachEpoch() {
        List<Long> a1, a2, b1;
        try (DataLoader l = loader(new Datasets.Numbers(200), WorkerMode.THREAD, 2).batchSize(50).shuffle(true).seed(3).build()) {
            a1 = Batches.ids(l, "id");
            a2 = Batches.ids(l, "id");
        }
        try (DataLoader l = loader(new Datasets.Numbers(200), WorkerMode.INLINE, 0).batchSize(50).shuffle(true).seed(3).build()) {
            b1 = Batches.ids(l, "id");
        }
        assertThat(a1).hasSize(200).doesNotHaveDuplicates().isNotEqualTo(LongStream.range(0, 200).boxed().toList());
        assertThat(a2).containsExactlyInAnyOrderElementsOf(a1).isNotEqualTo(a1);
        assertThat(b1).isEqualTo(a1);
    }

    @Test
    void sequentialDropLastCustomAndDistributedSamplers() {
        try (DataLoader l = loader(new Datasets.Numbers(103), WorkerMode.THREAD, 2).batchSize(10).dropLast(true).build()) {
            assertThat(Batches.ids(l, "id")).isEqualTo(LongStream.range(0, 100).boxed().toList());
        }
        try (DataLoader l = loader(new Datasets.Numbers(103), WorkerMode.INLINE, 0).batchSize(10).build()) {
            assertThat(Batches.ids(l, "id")).isEqualTo(LongStream.range(0, 103).boxed().toList());
        }
        Sampler evensFirst = (size, seed, epoch) -> LongStream.concat(LongStream.range(0, size).filter(i -> i % 2 == 0),
                LongStream.range(0, size).filter(i -> i % 2 == 1)).toArray();
        try (DataLoader l = loader(new Datasets.Numbers(10), WorkerMode.THREAD, 2).batchSize(3).sampler(evensFirst).build()) {
            assertThat(Batches.ids(l, "id")).containsExactly(0L, 2L, 4L, 6L, 8L, 1L, 3L, 5L, 7L, 9L);
        }
        BatchSampler pairs = (size, seed, epoch) -> List.of(new long[] {9, 0}, new long[] {5});
        try (DataLoader l = loader(new Datasets.Numbers(10), WorkerMode.PROCESS, 2).batchSampler(pairs).build()) {
            assertThat(Batches.ids(l, "id")).containsExactly(9L, 0L, 5L);
        }
        Set<Long> all = new HashSet<>();
        int perRank = -1;
        for (int rank = 0; rank < 3; rank++) {
            try (DataLoader l = loader(new Datasets.Numbers(100), WorkerMode.INLINE, 0).batchSize(8).shuffle(true).seed(5)
                    .distributed(rank, 3).build()) {
                List<Long> ids = Batches.ids(l, "id");
                if (perRank < 0) perRank = ids.size();
                assertThat(ids).as("rank %d", rank).hasSize(perRank);
                all.addAll(ids);
            }
        }
        assertThat(perRank).isEqualTo(34);
        assertThat(all).as("the ranks together cover the dataset").hasSize(100);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 3})
    void streamingDatasetsReadTheirOwnShardsUnevenOrEmpty(int workers) {
        WorkerMode mode = workers == 0 ? WorkerMode.INLINE : WorkerMode.PROCESS;
        try (DataLoader l = DataLoader.builder(new Datasets.Sharded(500, true)).mode(mode).numWorkers(workers).batchSize(16).build()) {
            for (int epoch = 0; epoch < 2; epoch++) {
                List<Long> ids = new ArrayList<>();
                Set<Integer> shards = new HashSet<>();
                for (Batch b : l) {
                    try (b) {
                        BigIntVector id = (BigIntVector) b.root().getVector("id");
                        IntVector shard = (IntVector) b.root().getVector("shard");
                        for (int r = 0; r < b.size(); r++) {
                            ids.add(id.get(r));
                            shards.add(shard.get(r));
                        }
                        assertThat(b.sampleIndices()).isNull();
                    }
                }
                assertThat(ids).as("epoch %d with %d workers", epoch, workers).hasSize(500).doesNotHaveDuplicates();
                assertThat(shards).as("the dataset's 8 shards, shard 1 empty").containsExactlyInAnyOrder(0, 2, 3, 4, 5, 6, 7);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = WorkerMode.class, names = {"PROCESS", "THREAD", "INLINE"})
    void theTrainerReadsTheWorkersBytesInPlaceInSharedMemory(WorkerMode mode) throws Exception {
        try (DataLoader l = loader(new Datasets.Numbers(64), mode, 1).batchSize(64).build()) {
            for (Batch b : l) {
                try (b) {
                    var root = b.root();
                    long tensor = ((FixedSizeListVector) root.getVector("x")).getDataVector().getDataBuffer().memoryAddress();
                    long ids = root.getVector("id").getDataBuffer().memoryAddress();
                    long names = root.getVector("name").getDataBuffer().memoryAddress();
                    long offsets = ((VarCharVector) root.getVector("name")).getOffsetBuffer().memoryAddress();
                    // Validity bitmaps too, of columns with nulls and without, and the tensor's two levels.
                    long nameBits = root.getVector("name").getValidityBuffer().memoryAddress();
                    long idBits = root.getVector("id").getValidityBuffer().memoryAddress();
                    long listBits = root.getVector("x").getValidityBuffer().memoryAddress();
                    long elementBits = ((FixedSizeListVector) root.getVector("x")).getDataVector().getValidityBuffer().memoryAddress();
                    for (long address : new long[] {tensor, ids, names, offsets, nameBits, idBits, listBits, elementBits}) {
                        assertThat(Batches.mappingOf(address)).as("mapping of 0x%x", address)
                                .startsWith("/dev/shm/ringloader-").endsWith("(deleted)");
                    }
                    assertThat(root.getVector("id").getNullCount()).isZero();
                    assertThat(root.getVector("name").getNullCount()).isEqualTo(10); // samples 0, 7, ..., 63
                    assertThat(tensor % 64).isZero();
                }
            }
        }
    }

    @Test
    void batchesStayValidWhileLaterOnesAreReadAndCanBeClosedInAnyOrder() {
        try (DataLoader l = loader(new Datasets.Numbers(400), WorkerMode.PROCESS, 2).batchSize(20).ringBytes(64L << 20).build()) {
            List<Batch> held = new ArrayList<>();
            List<String> firstLook = new ArrayList<>();
            for (Batch b : l) {
                held.add(b);
                firstLook.add(Batches.content(b));
            }
            assertThat(held).hasSize(20);
            for (int i = 0; i < held.size(); i++) {
                assertThat(Batches.content(held.get(i))).as("batch %d after the whole epoch was read", i).isEqualTo(firstLook.get(i));
            }
            for (int i = held.size() - 1; i >= 0; i -= 2) held.get(i).close();
            for (int i = 0; i < held.size(); i += 2) held.get(i).close();
            assertThat(l.stats().workers()).allSatisfy(w -> assertThat(w.ringBytesInUse()).isZero());
            assertThatThrownBy(() -> held.getFirst().root()).isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
    }

    @Test
    void aBatchHeldAfterCloseStaysReadableUntilItIsClosed() {
        Batch kept;
        String content;
        DataLoader l = loader(new Datasets.Numbers(100), WorkerMode.PROCESS, 1).batchSize(10).build();
        Batch first = l.iterator().next();
        content = Batches.content(first);
        kept = first;
        l.close();
        assertThat(Batches.content(kept)).isEqualTo(content);
        kept.close();
    }

    @Test
    void variableLengthColumnsGrowPastTheirFirstEstimate() {
        try (DataLoader l = loader(new Datasets.BigStrings(64, 100_000), WorkerMode.PROCESS, 1).batchSize(32).ringBytes(64L << 20).build()) {
            int rows = 0;
            for (Batch b : l) {
                try (b) {
                    VarCharVector text = (VarCharVector) b.root().getVector("text");
                    BigIntVector id = (BigIntVector) b.root().getVector("id");
                    for (int r = 0; r < b.size(); r++) {
                        String s = text.getObject(r).toString();
                        assertThat(s).hasSize(100_000);
                        assertThat(s.charAt(99_999)).isEqualTo((char) ('a' + id.get(r) % 26));
                        assertThat(new String(((org.apache.arrow.vector.VarBinaryVector) b.root().getVector("more")).get(r)))
                                .isEqualTo(Long.toString(id.get(r)));
                        rows++;
                    }
                }
            }
            assertThat(rows).isEqualTo(64);
        }
    }

    @Test
    void aBatchThatCanNeverFitItsRingIsAClearErrorAtBuild() {
        MapDataset big = ArrayDataset.builder().tensor("x", new float[][] {new float[1 << 20]}).build();
        assertThatThrownBy(() -> DataLoader.builder(big).batchSize(8).ringBytes(1 << 20).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("raise ringBytes or lower batchSize");
    }

    @Test
    void aBatchThatOutgrowsItsRingWhileBeingWrittenNamesTheSampleAndRingBytes() {
        try (DataLoader l = loader(new Datasets.BigStrings(8, 1 << 20), WorkerMode.PROCESS, 1).batchSize(8).ringBytes(4L << 20).build()) {
            assertThatThrownBy(() -> Batches.epoch(l)).isInstanceOf(SampleReadException.class)
                    .hasMessageContaining("batch 0 of epoch 0 outgrew the worker's batch ring while sample ")
                    .hasMessageContaining("Raise DataLoader.Builder.ringBytes");
        }
    }

    @Test
    void arraysAndRecordsMakeQuickDatasets() {
        record Point(float x, float y, long label, String tag) {}
        List<Point> points = new ArrayList<>();
        for (int i = 0; i < 50; i++) points.add(new Point(i, -i, i % 3, "p" + i));
        try (DataLoader l = DataLoader.builder(ArrayDataset.ofRecords(points)).batchSize(50).numWorkers(1).build()) {
            for (Batch b : l) {
                try (b) {
                    assertThat(b.root().getSchema().getFields()).extracting(f -> f.getName()).containsExactly("x", "y", "label", "tag");
                    assertThat(((Float4Vector) b.root().getVector("y")).get(49)).isEqualTo(-49f);
                    assertThat(b.root().getVector("tag").getObject(7).toString()).isEqualTo("p7");
                }
            }
        }
        float[][] features = {{1, 2}, {3, 4}};
        MapDataset ds = ArrayDataset.builder().tensor("f", features, 2, 1).column("label", new long[] {0, 1}).build();
        assertThat(Columns.shape(ds.sampleSchema().findField("f"))).containsExactly(2, 1);
        assertThatThrownBy(() -> ArrayDataset.builder().column("a", new long[2]).column("b", new long[3]).build())
                .hasMessageContaining("column 'b' has 3 samples");
    }

    /** A dataset that opened its connection in the constructor: the bug PyTorch users meet after fork. */
    record Leaky(Socket socket) implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"));
        }

        @Override
        public long size() {
            return 1;
        }

        @Override
        public void read(long index, SampleWriter out) {
            out.setLong(0, index);
        }
    }

    /** One sample, its id: the datasets below differ in their fields only. */
    abstract static class OneId implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"));
        }

        @Override
        public long size() {
            return 1;
        }

        @Override
        public void read(long index, SampleWriter out) {
            out.setLong(0, index);
        }
    }

    static final class Careful extends OneId {
        transient Socket socket; // opened in open(): fine
        final String host = "localhost";
    }

    @Test
    void aDatasetHoldingALiveResourceIsRejectedAtBuildNamingTheField() throws Exception {
        try (Socket s = new Socket()) {
            assertThatThrownBy(() -> DataLoader.builder(new Leaky(s)).numWorkers(2).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dataset field 'Leaky.socket'").hasMessageContaining("java.net.Socket")
                    .hasMessageContaining("transient").hasMessageContaining("open(WorkerContext)");
            // The workers' JVMs were started before the dataset was checked (they boot meanwhile): none is left.
            assertThat(ProcessHandle.current().children().filter(ProcessHandle::isAlive).count()).isZero();
            Careful careful = new Careful();
            careful.socket = s;
            DataLoader.builder(careful).numWorkers(1).build().close();
        }
    }

    /** Holds its socket in a holder, where a direct field check would not see it. */
    record Wrapped(java.util.concurrent.atomic.AtomicReference<Socket> holder, List<Object> more) implements Datasets.LikeIds {
        @Override
        public long n() {
            return 1;
        }

        @Override
        public void read(long index, SampleWriter out) {
            out.setLong(0, index);
        }
    }

    @Test
    void aLiveResourceInAHolderIsRejectedNamingThePathToIt() throws Exception {
        try (Socket s = new Socket()) {
            assertThatThrownBy(() -> DataLoader.builder(new Wrapped(new java.util.concurrent.atomic.AtomicReference<>(s), List.of())).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dataset field 'Wrapped.holder.get()' holds a live java.net.Socket")
                    .hasMessageContaining("Mark the field transient");
            var empty = new java.util.concurrent.atomic.AtomicReference<Socket>();
            assertThatThrownBy(() -> DataLoader.builder(new Wrapped(empty, List.of("fine", java.util.Optional.of(s)))).build())
                    .hasMessageContaining("dataset field 'Wrapped.more[1].get()' holds a live java.net.Socket");
        }
    }

    /** A dataset whose recipe, as written by its writeObject, is over a gigabyte (from a field of a few bytes). */
    static final class Huge extends OneId {
        @java.io.Serial
        private void writeObject(java.io.ObjectOutputStream out) throws java.io.IOException {
            byte[] chunk = new byte[1 << 20];
            for (int i = 0; i < 1100; i++) out.write(chunk);
        }
    }

    @Test
    void aRecipeOverAGigabyteIsRefusedNamingTheDataset() {
        assertThatThrownBy(() -> DataLoader.builder(new Huge()).numWorkers(1).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("the dataset " + Huge.class.getName() + " serializes to more than 1024 MB")
                .hasMessageContaining("open(WorkerContext)");
    }

    record Forgetful() implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.int64("id"), Columns.float32("score"));
        }

        @Override
        public long size() {
            return 4;
        }

        @Override
        public void read(long index, SampleWriter out) {
            out.setLong(0, index);
        }
    }

    @Test
    void aSampleThatLeavesAColumnUnwrittenIsNamed() {
        MapDataset forgetful = new Forgetful();
        try (DataLoader l = DataLoader.builder(forgetful).batchSize(4).build()) {
            assertThatThrownBy(() -> l.iterator().next()).hasMessageContaining("sample 0")
                    .hasRootCauseMessage("sample 0 left column 'score' unwritten: write every column of the sample schema once (or setNull it)");
        }
    }

    @Test
    void persistentWorkersLiveAcrossEpochsOthersAreNewEachEpoch() {
        try (DataLoader l = loader(new Datasets.Numbers(100), WorkerMode.PROCESS, 2).batchSize(10).persistentWorkers(true).build()) {
            Batches.epoch(l);
            List<Long> pids = l.workerPids();
            assertThat(pids).hasSize(2);
            Batches.epoch(l);
            assertThat(l.workerPids()).isEqualTo(pids);
        }
        try (DataLoader l = loader(new Datasets.Numbers(100), WorkerMode.PROCESS, 2).batchSize(10).build()) {
            var it = l.iterator();
            it.next().close();
            List<Long> first = l.workerPids();
            while (it.hasNext()) it.next().close();
            assertThat(l.workerPids()).as("stopped at the end of the epoch").isEmpty();
            for (long pid : first) assertThat(ProcessHandle.of(pid)).isEmpty();
        }
    }

    @Test
    void anAbandonedEpochStopsItsWorkersOrIsSkippedByPersistentOnes() {
        try (DataLoader l = loader(new Datasets.Numbers(1000), WorkerMode.PROCESS, 2).batchSize(10).build()) {
            var it = l.iterator();
            it.next().close();
            List<Long> first = l.workerPids();
            List<Long> ids = Batches.ids(l, "id"); // a new epoch abandons the first
            assertThat(ids).hasSize(1000);
            for (long pid : first) assertThat(ProcessHandle.of(pid)).as("worker %d of the abandoned epoch", pid).isEmpty();
        }
        try (DataLoader l = loader(new Datasets.Numbers(1000), WorkerMode.PROCESS, 2).batchSize(10).persistentWorkers(true).build()) {
            var it = l.iterator();
            it.next().close();
            List<Long> pids = l.workerPids();
            assertThat(Batches.ids(l, "id")).hasSize(1000).doesNotHaveDuplicates();
            assertThat(l.workerPids()).isEqualTo(pids);
            assertThatThrownBy(it::next).isInstanceOf(IllegalStateException.class).hasMessageContaining("abandoned");
        }
    }

    @Test
    void arrivalOrderDeliversEveryBatchOnce() {
        try (DataLoader l = loader(new Datasets.Numbers(500), WorkerMode.PROCESS, 3).batchSize(10).inOrder(false).build()) {
            assertThat(Batches.ids(l, "id")).hasSize(500).doesNotHaveDuplicates();
        }
    }

    @Test
    void statisticsCountWhatWasDelivered() {
        try (DataLoader l = loader(new Datasets.Numbers(300), WorkerMode.PROCESS, 2).batchSize(32).persistentWorkers(true).build()) {
            Batches.epoch(l);
            LoaderStats s = l.stats();
            assertThat(s.batches()).isEqualTo(10);
            assertThat(s.samples()).isEqualTo(300);
            assertThat(s.workers()).hasSize(2).allSatisfy(w -> {
                assertThat(w.batches()).isEqualTo(5);
                assertThat(w.busy()).isPositive();
                assertThat(w.pid()).isIn(l.workerPids());
                assertThat(w.ringCapacity()).isPositive();
                // a JVM of its own: tens of MiB of heap, metaspace and code, read from /proc/PID/status
                assertThat(w.privateMemoryBytes()).isGreaterThan(8L << 20).isLessThan(1L << 32);
            });
            assertThat(s.waiting()).isPositive().isLessThanOrEqualTo(s.elapsed());
            assertThat(s.stallPercent()).isBetween(0.0, 100.0);
        }
        // Workers that stop at each epoch's end are still named by the pid they had.
        try (DataLoader l = loader(new Datasets.Numbers(300), WorkerMode.PROCESS, 2).batchSize(32).build()) {
            java.util.Set<Long> pids = new java.util.HashSet<>();
            for (Batch b : l) {
                try (b) {
                    pids.addAll(l.workerPids());
                }
            }
            assertThat(l.workerPids()).as("no worker runs after the epoch").isEmpty();
            assertThat(l.stats().workers()).extracting(LoaderStats.WorkerStats::pid).allSatisfy(pid -> assertThat(pid).isIn(pids));
            assertThat(l.stats().workers()).extracting(LoaderStats.WorkerStats::privateMemoryBytes).as("stopped workers hold nothing").containsOnly(-1L);
        }
    }

    @Test
    void closeLeavesNoProcessThreadDescriptorOrSharedMemory() throws Exception {
        // One loader first, so that the JVM-wide pieces (the spawner thread, Arrow's classes) exist before counting.
        try (DataLoader warm = loader(new Datasets.Numbers(10), WorkerMode.PROCESS, 1).batchSize(10).build()) {
            Batches.epoch(warm);
        }
        Thread.sleep(200);
        long fds = Batches.openFds();
        List<String> threads = Batches.threads("ringloader");
        for (WorkerMode mode : WorkerMode.values()) {
            DataLoader l = loader(new Datasets.Numbers(200), mode, 3).batchSize(10).persistentWorkers(true).build();
            var it = l.iterator();
            it.next().close();
            List<Long> pids = l.workerPids();
            if (mode == WorkerMode.PROCESS) assertThat(ProcessHandle.current().children().count()).isEqualTo(3);
            l.close();
            for (long pid : pids) assertThat(ProcessHandle.of(pid)).as("worker pid %d after close", pid).isEmpty();
            assertThat(ProcessHandle.current().children().toList()).as("child processes after close (%s)", mode).isEmpty();
            assertThat(Batches.threads("ringloader")).as("ringloader threads after close (%s)", mode).isEqualTo(threads);
            assertThat(Batches.openFds()).as("open file descriptors after close (%s)", mode).isEqualTo(fds);
            try (var files = java.nio.file.Files.list(java.nio.file.Path.of("/dev/shm"))) {
                assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ringloader-")).toList())
                        .as("shared memory after close (%s)", mode).isEmpty();
            }
            assertThat(Batches.mappingsOfRingloader()).as("mappings after close (%s)", mode).isEmpty();
            try (var files = java.nio.file.Files.list(java.nio.file.Path.of(System.getProperty("java.io.tmpdir")))) {
                assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ringloader-workers-")).toList())
                        .as("the workers' temporary folder after close (%s)", mode).isEmpty();
            }
        }
    }

    @ParameterizedTest
    @EnumSource(WorkerMode.class)
    void aClosedBatchsVectorsCarryALaterBatchAndTheClosedBatchKeepsItsSize(WorkerMode mode) {
        // 100 samples in batches of 30: 30, 30, 30, 10; with nulls and variable-length columns.
        try (DataLoader loader = loader(new Datasets.Numbers(100), mode, 1).batchSize(30).build()) {
            var it = loader.iterator();
            Batch first = it.next();
            var root = first.root();
            first.close();
            assertThatThrownBy(first::root).isInstanceOf(IllegalStateException.class).hasMessageContaining("is closed");
            assertThat(first.size()).isEqualTo(30);
            Batch second = it.next();
            assertThat(second.root()).as("the closed batch's vectors, loaded with the next batch").isSameAs(root);
            assertIds(second, 30, 30);
            Batch third = it.next(); // read while the second is held: vectors of its own
            assertThat(third.root()).isNotSameAs(second.root());
            assertIds(third, 60, 30);
            assertIds(second, 30, 30);
            second.close();
            third.close();
            try (Batch last = it.next()) {
                assertIds(last, 90, 10);
            }
            assertThat(it.hasNext()).isFalse();
        }
    }

    private static void assertIds(Batch b, long from, int rows) {
        var root = b.root();
        assertThat(b.size()).isEqualTo(rows);
        assertThat(root.getRowCount()).isEqualTo(rows);
        BigIntVector id = (BigIntVector) root.getVector("id");
        VarCharVector name = (VarCharVector) root.getVector("name");
        for (int r = 0; r < rows; r++) {
            long i = from + r;
            assertThat(id.get(r)).isEqualTo(i);
            if (i % 7 == 0) assertThat(name.isNull(r)).as("name of sample %d", i).isTrue();
            else assertThat(name.getObject(r).toString()).isEqualTo("sample-" + i);
        }
    }

    @Test
    void processWorkersRunTheSerialCollectorUnlessTheUserPicksAnother() throws Exception {
        assertThat(workerCommandLine()).contains("-XX:+UseSerialGC");
        // Two collectors would stop the JVM at start: the user's choice replaces ours.
        assertThat(workerCommandLine("-XX:+UseParallelGC")).contains("-XX:+UseParallelGC").doesNotContain("-XX:+UseSerialGC");
    }

    @Test
    void aWorkerJvmThatCannotStartSaysWhyEvenWhenTheJvmWroteItToStdout() {
        // HotSpot writes "Error occurred during initialization of VM" and its reason to stdout, not stderr.
        assertThatThrownBy(() -> workerCommandLine("-XX:+UseG1GC", "-XX:+UseParallelGC"))
                .isInstanceOf(io.ringloader.loader.WorkerStartException.class)
                .hasMessageContaining("before it was ready").hasMessageContaining("Multiple garbage collectors selected");
    }

    /** The command line of a process worker that delivered a batch. */
    private static List<String> workerCommandLine(String... jvmOptions) throws Exception {
        try (DataLoader loader = loader(new Datasets.Numbers(20), WorkerMode.PROCESS, 1).batchSize(10).workerJvmOptions(jvmOptions).build()) {
            loader.iterator().next().close();
            byte[] cmdline = java.nio.file.Files.readAllBytes(java.nio.file.Path.of("/proc", Long.toString(loader.workerPids().get(0)), "cmdline"));
            return List.of(new String(cmdline, java.nio.charset.StandardCharsets.UTF_8).split("\0"));
        }
    }
}
