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
        assertThatThrownBy(() -> ParquetDataset.of(List.of(junk))).hasMessageContaining(junk + " is not a readable Parquet file");
    }
}
