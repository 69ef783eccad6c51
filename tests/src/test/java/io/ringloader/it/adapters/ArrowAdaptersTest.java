package io.ringloader.it.adapters;

import io.ringloader.adapters.arrow.ArrowIpcDataset;
import io.ringloader.adapters.arrow.ArrowStreamDataset;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.SampleReadException;
import io.ringloader.testkit.Isolated;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Arrow IPC files and streams, read by process workers that each map or open the files themselves. */
@Isolated(timeout = "90s")
class ArrowAdaptersTest {
    @TempDir
    Path dir;

    private static void checkRow(Batch b, int r, Set<Long> seen) {
        long id = ((BigIntVector) b.root().getVector("id")).get(r);
        assertThat(seen.add(id)).as("row %d read once", id).isTrue();
        FixedSizeListVector x = (FixedSizeListVector) b.root().getVector("x");
        Float4Vector values = (Float4Vector) x.getDataVector();
        for (int j = 0; j < 4; j++) assertThat(values.get(r * 4 + j)).isEqualTo((id + j) / 10f);
        VarCharVector name = (VarCharVector) b.root().getVector("name");
        if (id % 5 == 0) assertThat(name.isNull(r)).isTrue();
        else assertThat(name.getObject(r).toString()).isEqualTo("row-" + id);
        assertThat(((BitVector) b.root().getVector("flag")).get(r)).isEqualTo(id % 2 == 0 ? 1 : 0);
    }

    @Test
    void manyFilesAreOneDatasetReadInPlaceByEachWorkersOwnMapping() throws Exception {
        Path a = ArrowFiles.write(dir.resolve("a.arrow"), 0, 3, 100, false);
        Path b = ArrowFiles.write(dir.resolve("b.arrow"), 300, 2, 100, false);
        try (DataLoader l = DataLoader.builder(ArrowIpcDataset.of(List.of(a, b))).batchSize(64).shuffle(true).seed(3)
                .numWorkers(2).persistentWorkers(true).build()) {
            Set<Long> seen = new HashSet<>();
            Iterator<Batch> it = l.iterator();
            while (it.hasNext()) {
                try (Batch batch = it.next()) {
                    for (int r = 0; r < batch.size(); r++) checkRow(batch, r, seen);
                }
            }
            assertThat(seen).hasSize(500);
            // Each worker mapped both files itself; the trainer read only the footers, and let go of them.
            for (long pid : l.workerPids()) {
                String maps = Files.readString(Path.of("/proc/" + pid + "/maps"));
                assertThat(maps).as("mappings of worker pid %d", pid).contains(a.toString()).contains(b.toString());
            }
            assertThat(Files.readString(Path.of("/proc/self/maps"))).as("the trainer's mappings").doesNotContain(a.toString());
        }
    }

    @Test
    void columnsCanBeSelected() throws Exception {
        Path a = ArrowFiles.write(dir.resolve("a.arrow"), 0, 1, 10, false);
        ArrowIpcDataset ds = ArrowIpcDataset.of(List.of(a), "x", "id");
        assertThat(ds.sampleSchema().getFields()).extracting(f -> f.getName()).containsExactly("x", "id");
        try (DataLoader l = DataLoader.builder(ds).batchSize(10).numWorkers(1).build()) {
            for (Batch batch : l) {
                try (batch) {
                    assertThat(((BigIntVector) batch.root().getVector("id")).get(9)).isEqualTo(9);
                }
            }
        }
    }

    @Test
    void missingDamagedOrMismatchedFilesAreClearErrorsNamingTheFile() throws Exception {
        Path good = ArrowFiles.write(dir.resolve("good.arrow"), 0, 1, 10, false);
        assertThatThrownBy(() -> ArrowIpcDataset.of(List.of(dir.resolve("missing.arrow"))))
                .hasMessageContaining("missing.arrow does not exist");
        Path junk = ArrowFiles.garbage(dir.resolve("junk.arrow"));
        assertThatThrownBy(() -> ArrowIpcDataset.of(List.of(good, junk)))
                .hasMessageContaining(junk + " is not an Arrow IPC file");
        Path stream = ArrowFiles.write(dir.resolve("s.arrows"), 0, 1, 10, true);
        assertThatThrownBy(() -> ArrowIpcDataset.of(List.of(stream))).hasMessageContaining("needs ArrowStreamDataset");
        assertThatThrownBy(() -> ArrowIpcDataset.of(List.of(good), "nope")).hasMessageContaining("has no column 'nope'");
    }

    @Test
    void aFileTruncatedWhileMappedNamesTheFileAndSaysItChanged() throws Exception {
        Path a = ArrowFiles.write(dir.resolve("a.arrow"), 0, 20, 5000, false); // 20 batches of 5000 rows, about 4 MB
        long size = Files.size(a);
        try (DataLoader l = DataLoader.builder(ArrowIpcDataset.of(List.of(a))).batchSize(5000).numWorkers(1).prefetchFactor(1).build()) {
            var it = l.iterator();
            it.next().close(); // the worker has mapped the file
            try (var ch = java.nio.channels.FileChannel.open(a, java.nio.file.StandardOpenOption.WRITE)) {
                ch.truncate(4096); // another process cuts the file short under the mapping
            }
            assertThatThrownBy(() -> {
                while (it.hasNext()) it.next().close();
            }).isInstanceOf(SampleReadException.class).cause()
                    .hasMessageStartingWith(a + " changed under the reader while sample ")
                    .hasMessageContaining("it was " + size + " bytes when the worker mapped it, and is 4096 bytes now");
        }
    }

    @Test
    void streamsAreShardedByRecordBatchAcrossWorkers() throws Exception {
        Path a = ArrowFiles.write(dir.resolve("a.arrows"), 0, 5, 40, true);
        Path b = ArrowFiles.write(dir.resolve("b.arrows"), 200, 2, 40, true);
        for (int workers : new int[] {0, 3}) {
            try (DataLoader l = DataLoader.builder(ArrowStreamDataset.of(List.of(a, b))).batchSize(32).numWorkers(workers).build()) {
                Set<Long> seen = new HashSet<>();
                for (Batch batch : l) {
                    try (batch) {
                        for (int r = 0; r < batch.size(); r++) checkRow(batch, r, seen);
                    }
                }
                assertThat(seen).as("rows with %d workers", workers).hasSize(280);
            }
        }
    }

    @Test
    void aStreamDamagedHalfwayIsAnErrorNamingTheFileNotASilentLoss() throws Exception {
        Path a = ArrowFiles.write(dir.resolve("a.arrows"), 0, 5, 40, true);
        byte[] bytes = Files.readAllBytes(a);
        Files.write(a, java.util.Arrays.copyOf(bytes, bytes.length * 2 / 3));
        try (DataLoader l = DataLoader.builder(ArrowStreamDataset.of(List.of(a))).batchSize(32).numWorkers(1).build()) {
            List<Long> ids = new ArrayList<>();
            assertThatThrownBy(() -> {
                for (Batch batch : l) {
                    try (batch) {
                        for (int r = 0; r < batch.size(); r++) ids.add(((BigIntVector) batch.root().getVector("id")).get(r));
                    }
                }
            }).isInstanceOf(SampleReadException.class).hasMessageContaining(a.toString()).hasMessageContaining("damaged");
        }
    }

    /** Row i: tokens i*10 + j for j < i % 7, frames of i % 3 steps (i + k/2) for k < 2 each step, h = i / 8, b = i * 1.5. */
    private static Path writeSequences(Path file, int rows) throws Exception {
        return writeSequences(file, rows, -1);
    }

    /** {@link #writeSequences}, with row {@code nullRow}'s second token null. */
    private static Path writeSequences(Path file, int rows, int nullRow) throws Exception {
        var schema = io.ringloader.data.Columns.schema(io.ringloader.data.Columns.int64("id"),
                io.ringloader.data.Columns.sequence("tokens", io.ringloader.data.Columns.DType.INT32),
                io.ringloader.data.Columns.sequence("frames", io.ringloader.data.Columns.DType.FLOAT32, 2),
                io.ringloader.data.Columns.float16("h"), io.ringloader.data.Columns.bfloat16("b"));
        try (var allocator = new org.apache.arrow.memory.RootAllocator();
             var root = org.apache.arrow.vector.VectorSchemaRoot.create(schema, allocator);
             var channel = java.nio.channels.FileChannel.open(file, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
             var writer = new org.apache.arrow.vector.ipc.ArrowFileWriter(root, null, channel)) {
            writer.start();
            root.allocateNew();
            var tokens = (org.apache.arrow.vector.complex.ListVector) root.getVector("tokens");
            var frames = (org.apache.arrow.vector.complex.ListVector) root.getVector("frames");
            var ids = (org.apache.arrow.vector.IntVector) tokens.getDataVector();
            var steps = (FixedSizeListVector) frames.getDataVector();
            var stepValues = (Float4Vector) steps.getDataVector();
            int step = 0;
            for (int r = 0; r < rows; r++) {
                ((BigIntVector) root.getVector("id")).setSafe(r, r);
                int at = tokens.startNewValue(r);
                for (int j = 0; j < r % 7; j++) ids.setSafe(at + j, r * 10 + j);
                if (r == nullRow) ids.setNull(at + 1);
                tokens.endValue(r, r % 7);
                frames.startNewValue(r);
                for (int k = 0; k < r % 3; k++, step++) {
                    steps.startNewValue(step);
                    stepValues.setSafe(2 * step, r);
                    stepValues.setSafe(2 * step + 1, r + 0.5f);
                }
                frames.endValue(r, r % 3);
                ((org.apache.arrow.vector.Float2Vector) root.getVector("h")).setSafeWithPossibleTruncate(r, r / 8f);
                ((org.apache.arrow.vector.UInt2Vector) root.getVector("b")).setSafe(r, io.ringloader.data.Columns.toBFloat16(r * 1.5f) & 0xFFFF);
            }
            root.setRowCount(rows);
            writer.writeBatch();
            writer.end();
        }
        return file;
    }

    @Test
    void sequencesAndHalfPrecisionColumnsAreReadFromIpcFilesAndPaddable() throws Exception {
        Path file = writeSequences(dir.resolve("seq.arrow"), 200);
        var ds = ArrowIpcDataset.of(List.of(file));
        Set<Long> seen = new HashSet<>();
        try (DataLoader l = DataLoader.builder(ds).batchSize(16).shuffle(true).seed(1).numWorkers(2)
                .pad("tokens", io.ringloader.data.Padding.toLongest().value(-1)).build()) {
            for (Batch b : l) {
                try (b) {
                    var root = b.root();
                    var tokens = (org.apache.arrow.vector.complex.ListVector) root.getVector("tokens");
                    var frames = (org.apache.arrow.vector.complex.ListVector) root.getVector("frames");
                    var values = (org.apache.arrow.vector.IntVector) tokens.getDataVector();
                    var steps = (Float4Vector) ((FixedSizeListVector) frames.getDataVector()).getDataVector();
                    int longest = values.getValueCount() / b.size();
                    for (int r = 0; r < b.size(); r++) {
                        long id = ((BigIntVector) root.getVector("id")).get(r);
                        assertThat(seen.add(id)).isTrue();
                        assertThat(((org.apache.arrow.vector.IntVector) root.getVector("tokens_length")).get(r)).isEqualTo((int) (id % 7));
                        for (int j = 0; j < longest; j++) {
                            assertThat(values.get(r * longest + j)).isEqualTo(j < id % 7 ? (int) (id * 10 + j) : -1);
                        }
                        int from = frames.getElementStartIndex(r);
                        assertThat(frames.getElementEndIndex(r) - from).isEqualTo((int) (id % 3));
                        for (int k = 0; k < id % 3; k++) {
                            assertThat(steps.get(2 * (from + k))).isEqualTo((float) id);
                            assertThat(steps.get(2 * (from + k) + 1)).isEqualTo(id + 0.5f);
                        }
                        assertThat(((org.apache.arrow.vector.Float2Vector) root.getVector("h")).getValueAsFloat(r)).isEqualTo(id / 8f);
                        assertThat(io.ringloader.data.Columns.fromBFloat16((short) ((org.apache.arrow.vector.UInt2Vector) root.getVector("b")).get(r)))
                                .isEqualTo(io.ringloader.data.Columns.fromBFloat16(io.ringloader.data.Columns.toBFloat16(id * 1.5f)));
                    }
                }
            }
        }
        assertThat(seen).hasSize(200);
    }

    @Test
    void aNullInsideAListIsAnErrorNamingTheFileRowAndColumn() throws Exception {
        Path file = writeSequences(dir.resolve("holes.arrow"), 20, 5); // row 5 has 5 tokens, the second null
        try (DataLoader l = DataLoader.builder(ArrowIpcDataset.of(List.of(file))).batchSize(20).numWorkers(1).build()) {
            assertThatThrownBy(() -> l.iterator().next()).isInstanceOf(SampleReadException.class).hasMessageContaining("sample 5")
                    .rootCause().hasMessageContaining(file + ", record batch 0, row 5: column 'tokens' has a null inside its list (element 1)");
        }
    }
}
