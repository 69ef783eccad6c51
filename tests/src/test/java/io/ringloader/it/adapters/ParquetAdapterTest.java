package io.ringloader.it.adapters;

import io.ringloader.adapters.parquet.ParquetDataset;
import io.ringloader.data.Columns;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.testkit.Isolated;
import org.apache.arrow.dataset.file.DatasetFileWriter;
import org.apache.arrow.dataset.file.FileFormat;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.apache.arrow.vector.types.pojo.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Parquet files through Arrow's dataset module, sharded by file across workers, with column selection. */
@Isolated(timeout = "120s")
class ParquetAdapterTest {
    @TempDir
    Path dir;

    static final Schema SCHEMA = Columns.schema(Columns.int64("id"), Columns.float64("score"), Columns.utf8("name"));

    /** Writes rows [from, to) as Parquet into {@code out} (a folder) and returns the files written. */
    static List<Path> parquet(Path out, int from, int to) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (BufferAllocator a = new RootAllocator(); VectorSchemaRoot root = VectorSchemaRoot.create(SCHEMA, a);
             ArrowStreamWriter w = new ArrowStreamWriter(root, null, bytes)) {
            w.start();
            root.allocateNew();
            for (int i = from, r = 0; i < to; i++, r++) {
                ((BigIntVector) root.getVector("id")).setSafe(r, i);
                ((Float8Vector) root.getVector("score")).setSafe(r, i / 4.0);
                ((VarCharVector) root.getVector("name")).setSafe(r, ("p" + i).getBytes(StandardCharsets.UTF_8));
            }
            root.setRowCount(to - from);
            w.writeBatch();
            w.end();
        }
        // Arrow's writer keeps a reference to what it exported until the JVM ends: the allocator is not closed here.
        BufferAllocator a = new RootAllocator();
        try (ArrowStreamReader reader = new ArrowStreamReader(new ByteArrayInputStream(bytes.toByteArray()), a)) {
            DatasetFileWriter.write(a, reader, FileFormat.PARQUET, out.toUri().toString());
        }
        try (Stream<Path> files = Files.list(out)) {
            return files.filter(Files::isRegularFile).sorted().toList(); // Arrow names them data_0, data_1, ...
        }
    }

    @Test
    void manyFilesShardedAcrossWorkersWithColumnSelection() throws Exception {
        List<Path> files = new java.util.ArrayList<>();
        for (int f = 0; f < 3; f++) files.addAll(parquet(dir.resolve("part" + f), f * 400, (f + 1) * 400));
        assertThat(files).hasSize(3);
        ParquetDataset ds = ParquetDataset.of(files, "name", "id");
        assertThat(ds.sampleSchema().getFields()).extracting(f -> f.getName()).containsExactly("name", "id");
        for (int workers : new int[] {0, 2}) {
            try (DataLoader l = DataLoader.builder(ds).batchSize(100).numWorkers(workers).persistentWorkers(true).build()) {
                Set<Long> ids = new HashSet<>();
                for (Batch b : l) {
                    try (b) {
                        BigIntVector id = (BigIntVector) b.root().getVector("id");
                        VarCharVector name = (VarCharVector) b.root().getVector("name");
                        for (int r = 0; r < b.size(); r++) {
                            assertThat(ids.add(id.get(r))).isTrue();
                            assertThat(name.getObject(r).toString()).isEqualTo("p" + id.get(r));
                        }
                    }
                }
                assertThat(ids).as("rows with %d workers", workers).hasSize(1200);
                for (long pid : l.workerPids()) {
                    assertThat(Files.readString(Path.of("/proc/" + pid + "/maps"))).as("worker pid %d runs its own native scanner", pid)
                            .contains("jnilib");
                }
            }
        }
    }

    @Test
    void missingAndDamagedFilesNameTheFile() throws Exception {
        assertThatThrownBy(() -> ParquetDataset.of(List.of(dir.resolve("none.parquet")))).hasMessageContaining("none.parquet does not exist");
        Path junk = Files.writeString(dir.resolve("junk.parquet"), "definitely not parquet");
        assertThatThrownBy(() -> ParquetDataset.of(List.of(junk))).hasMessage(junk + " is not a Parquet file: it does not end with PAR1");
    }

    /** Every id of an epoch of {@code ds} read by 2 process workers, checking each row's name. */
    private static List<Long> ids(ParquetDataset ds) {
        List<Long> ids = new java.util.ArrayList<>();
        try (DataLoader l = DataLoader.builder(ds).batchSize(1000).numWorkers(2).build()) {
            for (Batch b : l) {
                try (b) {
                    BigIntVector id = (BigIntVector) b.root().getVector("id");
                    for (int r = 0; r < b.size(); r++) {
                        assertThat(b.root().getVector("name").getObject(r).toString()).isEqualTo("row-" + id.get(r));
                        ids.add(id.get(r));
                    }
                }
            }
        }
        return ids;
    }

    private static List<Byte> toList(byte[] bytes) {
        List<Byte> out = new java.util.ArrayList<>(bytes.length);
        for (byte b : bytes) out.add(b);
        return out;
    }

    @Test
    void pageChecksumsAreVerifiedAndADamagedPageNamesFileColumnAndPage() throws Exception {
        Path good = ChecksummedParquet.write(dir.resolve("good.parquet"), 0, 200_000, 1000);
        Path bad = ChecksummedParquet.write(dir.resolve("bad.parquet"), 200_000, 200_000, 1000);
        assertThat(ids(ParquetDataset.of(List.of(good, bad)))).as("the clean files, read by Arrow's scanner").hasSize(400_000).doesNotHaveDuplicates()
                .allMatch(id -> id >= 0 && id < 400_000);
        // 4 KB of zeros over the middle of the second file, inside the page of ids 300000..300999: without
        // checksums, 512 ids (300200..300711) would read as 0 without a word, as the scanner has no way to know.
        byte[] bytes = Files.readAllBytes(bad);
        byte[] id = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(300_200).array();
        int at = java.util.Collections.indexOfSubList(toList(bytes), toList(id));
        assertThat(at).isPositive();
        java.util.Arrays.fill(bytes, at, at + 4096, (byte) 0);
        Files.write(bad, bytes);
        Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> ids(ParquetDataset.of(List.of(good, bad))));
        assertThat(t).as("the damaged file, checked by the worker that scans it").isInstanceOf(io.ringloader.loader.SampleReadException.class);
        assertThat(t.getCause()).hasMessageStartingWith(bad + " is a damaged Parquet file: page 100 of column 'id' in row group 0: its bytes ")
                .hasMessageContaining("do not match the page's checksum");
        assertThatThrownBy(() -> ids(ParquetDataset.of(List.of(bad)))).as("alone, by the worker that scans it").cause()
                .hasMessageStartingWith(bad + " is a damaged Parquet file: page 100 of column 'id'");
    }

    /** What making the dataset logs (SLF4J's simple backend writes to System.err). */
    private static String logOf(Runnable make) {
        java.io.PrintStream err = System.err;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setErr(new java.io.PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            make.run();
        } finally {
            System.setErr(err);
        }
        return captured.toString(StandardCharsets.UTF_8);
    }

    @Test
    void aFileWithoutPageChecksumsIsLoggedOnceWhenTheDatasetIsMade() throws Exception {
        Path arrowWritten = parquet(dir.resolve("plain"), 0, 100).getFirst(); // Arrow's writer leaves checksums out
        Path checksummed = ChecksummedParquet.write(dir.resolve("crc.parquet"), 0, 100, 10);
        assertThat(logOf(() -> ParquetDataset.of(List.of(arrowWritten)))).contains(arrowWritten + " has no page checksums");
        assertThat(logOf(() -> ParquetDataset.of(List.of(checksummed)))).doesNotContain("has no page checksums");
    }

    @Test
    void aDirectoryIsTheFilesUnderItLeavingOutHiddenOnes() throws Exception {
        Path root = dir.resolve("table");
        parquet(root.resolve("a"), 0, 300);
        parquet(root.resolve("b"), 300, 500);
        Files.writeString(root.resolve("_SUCCESS"), "");
        Files.createDirectories(root.resolve(".staging"));
        Files.writeString(root.resolve(".staging").resolve("part.tmp"), "not parquet");
        Set<Long> ids = new HashSet<>();
        try (DataLoader l = DataLoader.builder(ParquetDataset.of(List.of(root), "id")).batchSize(64).numWorkers(2).build()) {
            for (Batch b : l) {
                try (b) {
                    for (int r = 0; r < b.size(); r++) assertThat(ids.add(((BigIntVector) b.root().getVector("id")).get(r))).isTrue();
                }
            }
        }
        assertThat(ids).hasSize(500);
        Path empty = Files.createDirectories(dir.resolve("nothing"));
        assertThatThrownBy(() -> ParquetDataset.of(List.of(empty))).hasMessage("the directory " + empty + " has no files (names starting with . or _ are left out)");
    }

    @Test
    void listColumnsAreSequencesThatTheWorkersPad() throws Exception {
        Schema schema = Columns.schema(Columns.int64("id"), Columns.sequence("tokens", Columns.DType.INT32));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (BufferAllocator a = new RootAllocator(); VectorSchemaRoot root = VectorSchemaRoot.create(schema, a);
             ArrowStreamWriter w = new ArrowStreamWriter(root, null, bytes)) {
            w.start();
            root.allocateNew();
            var tokens = (org.apache.arrow.vector.complex.ListVector) root.getVector("tokens");
            var ids = (org.apache.arrow.vector.IntVector) tokens.getDataVector();
            for (int r = 0; r < 300; r++) {
                ((BigIntVector) root.getVector("id")).setSafe(r, r);
                int at = tokens.startNewValue(r);
                for (int j = 0; j < r % 9; j++) ids.setSafe(at + j, r * 100 + j);
                tokens.endValue(r, r % 9);
            }
            root.setRowCount(300);
            w.writeBatch();
            w.end();
        }
        BufferAllocator a = new RootAllocator(); // kept, as in parquet() above
        Path out = dir.resolve("lists");
        try (ArrowStreamReader reader = new ArrowStreamReader(new ByteArrayInputStream(bytes.toByteArray()), a)) {
            DatasetFileWriter.write(a, reader, FileFormat.PARQUET, out.toUri().toString());
        }
        ParquetDataset ds = ParquetDataset.of(List.of(out));
        assertThat(ds.sampleSchema().findField("tokens").getType()).isInstanceOf(org.apache.arrow.vector.types.pojo.ArrowType.List.class);
        java.util.Set<Long> seen = new java.util.HashSet<>();
        try (DataLoader l = DataLoader.builder(ds).batchSize(32).numWorkers(2).pad("tokens", io.ringloader.data.Padding.toLength(8).truncate()).build()) {
            for (Batch b : l) {
                try (b) {
                    var values = (org.apache.arrow.vector.IntVector) ((org.apache.arrow.vector.complex.ListVector) b.root().getVector("tokens")).getDataVector();
                    for (int r = 0; r < b.size(); r++) {
                        long id = ((BigIntVector) b.root().getVector("id")).get(r);
                        assertThat(seen.add(id)).isTrue();
                        for (int j = 0; j < 8; j++) assertThat(values.get(r * 8 + j)).isEqualTo(j < id % 9 ? (int) (id * 100 + j) : 0);
                    }
                }
            }
            assertThat(l.stats().padding().truncated()).as("at most 8 ids a row: none is cut").isZero();
        }
        assertThat(seen).hasSize(300);
    }
}
