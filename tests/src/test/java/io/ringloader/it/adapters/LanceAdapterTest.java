package io.ringloader.it.adapters;

import com.lancedb.lance.Dataset;
import com.lancedb.lance.WriteParams;
import io.ringloader.adapters.lance.LanceDataset;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.testkit.Isolated;
import org.apache.arrow.c.ArrowArrayStream;
import org.apache.arrow.c.Data;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.VarCharVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.ipc.ArrowStreamWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A Lance dataset read by process workers, each with its own Lance (Rust) runtime. */
@Isolated(timeout = "120s")
class LanceAdapterTest {
    @TempDir
    Path dir;

    private Path lance(int rows) throws Exception {
        Path path = dir.resolve("samples.lance");
        BufferAllocator a = new RootAllocator(); // Lance keeps references to what it imported until the JVM ends
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (VectorSchemaRoot root = VectorSchemaRoot.create(ParquetAdapterTest.SCHEMA, a);
             ArrowStreamWriter w = new ArrowStreamWriter(root, null, bytes)) {
            w.start();
            root.allocateNew();
            for (int i = 0; i < rows; i++) {
                ((BigIntVector) root.getVector("id")).setSafe(i, i);
                ((org.apache.arrow.vector.Float8Vector) root.getVector("score")).setSafe(i, i / 2.0);
                ((VarCharVector) root.getVector("name")).setSafe(i, ("l" + i).getBytes(StandardCharsets.UTF_8));
            }
            root.setRowCount(rows);
            w.writeBatch();
            w.end();
        }
        try (ArrowStreamReader reader = new ArrowStreamReader(new ByteArrayInputStream(bytes.toByteArray()), a);
             ArrowArrayStream stream = ArrowArrayStream.allocateNew(a)) {
            Data.exportArrayStream(a, reader, stream);
            Dataset.create(a, stream, path.toString(), new WriteParams.Builder().build()).close();
        }
        return path;
    }

    @Test
    void eachWorkerOpensTheDatasetAndItsRuntimeItself() throws Exception {
        Path path = lance(500);
        LanceDataset ds = LanceDataset.of(path, "id", "name");
        assertThat(ds.size()).isEqualTo(500);
        try (DataLoader l = DataLoader.builder(ds).batchSize(50).shuffle(true).numWorkers(2).persistentWorkers(true).build()) {
            Set<Long> ids = new HashSet<>();
            Iterator<Batch> it = l.iterator();
            while (it.hasNext()) {
                try (Batch b = it.next()) {
                    BigIntVector id = (BigIntVector) b.root().getVector("id");
                    VarCharVector name = (VarCharVector) b.root().getVector("name");
                    for (int r = 0; r < b.size(); r++) {
                        assertThat(ids.add(id.get(r))).isTrue();
                        assertThat(name.getObject(r).toString()).isEqualTo("l" + id.get(r));
                    }
                }
            }
            assertThat(ids).hasSize(500);
            for (long pid : l.workerPids()) {
                String maps = Files.readString(Path.of("/proc/" + pid + "/maps"));
                assertThat(maps).as("worker pid %d loaded Lance itself", pid).contains("lance_jni");
            }
        }
    }

    @Test
    void aMissingOrForeignFolderIsAClearError() throws Exception {
        assertThatThrownBy(() -> LanceDataset.of(dir.resolve("none.lance"))).hasMessageContaining("none.lance does not exist");
        Path empty = Files.createDirectories(dir.resolve("empty.lance"));
        assertThatThrownBy(() -> LanceDataset.of(empty)).hasMessageContaining(empty + " is not a readable Lance dataset");
    }
}
