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
import io.ringloader.data.Columns;
import io.ringloader.data.Padding;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Schema;
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
import java.util.function.BiConsumer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A Lance dataset read by process workers, each with its own Lance (Rust) runtime. */
@Isolated(timeout = "120s")
class LanceAdapterTest {
    @TempDir
    Path dir;

    private Path lance(int rows) throws Exception {
        return lance("samples.lance", ParquetAdapterTest.SCHEMA, rows, (root, i) -> {
            ((BigIntVector) root.getVector("id")).setSafe(i, i);
            ((org.apache.arrow.vector.Float8Vector) root.getVector("score")).setSafe(i, i / 2.0);
            ((VarCharVector) root.getVector("name")).setSafe(i, ("l" + i).getBytes(StandardCharsets.UTF_8));
        });
    }

    /** A Lance dataset {@code name} of {@code rows} rows of {@code schema}, row i written by {@code fill}. */
    private Path lance(String name, Schema schema, int rows, BiConsumer<VectorSchemaRoot, Integer> fill) throws Exception {
        Path path = dir.resolve(name);
        BufferAllocator a = new RootAllocator(); // Lance keeps references to what it imported until the JVM ends
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (VectorSchemaRoot root = VectorSchemaRoot.create(schema, a);
             ArrowStreamWriter w = new ArrowStreamWriter(root, null, bytes)) {
            w.start();
            root.allocateNew();
            for (int i = 0; i < rows; i++) fill.accept(root, i);
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
    void listColumnsAreSequencesOfNumbersOrOfFixedSizeStepsThatTheWorkersPad() throws Exception {
        Schema schema = Columns.schema(Columns.int64("id"), Columns.sequence("tokens", Columns.DType.INT32),
                Columns.sequence("points", Columns.DType.FLOAT32, 2));
        Path path = lance("lists.lance", schema, 200, (root, i) -> {
            ((BigIntVector) root.getVector("id")).setSafe(i, i);
            ListVector tokens = (ListVector) root.getVector("tokens");
            IntVector ids = (IntVector) tokens.getDataVector();
            int at = tokens.startNewValue(i);
            for (int j = 0; j < i % 7; j++) ids.setSafe(at + j, i * 100 + j);
            tokens.endValue(i, i % 7);
            ListVector points = (ListVector) root.getVector("points");
            FixedSizeListVector steps = (FixedSizeListVector) points.getDataVector();
            Float4Vector xy = (Float4Vector) steps.getDataVector();
            int step = points.startNewValue(i);
            for (int k = 0; k < i % 3; k++) {
                steps.setNotNull(step + k);
                xy.setSafe(2 * (step + k), i);
                xy.setSafe(2 * (step + k) + 1, -k);
            }
            points.endValue(i, i % 3);
        });
        LanceDataset ds = LanceDataset.of(path);
        assertThat(ds.sampleSchema().findField("tokens").getType()).isInstanceOf(ArrowType.List.class);
        Set<Long> seen = new HashSet<>();
        try (DataLoader l = DataLoader.builder(ds).batchSize(32).shuffle(true).numWorkers(2).pad("tokens", Padding.toLongest().value(-1))
                .pad("points", Padding.toLongest()).build()) {
            for (Batch b : l) {
                try (b) {
                    BigIntVector id = (BigIntVector) b.root().getVector("id");
                    IntVector tokens = (IntVector) ((ListVector) b.root().getVector("tokens")).getDataVector();
                    Float4Vector xy = (Float4Vector) ((FixedSizeListVector) ((ListVector) b.root().getVector("points")).getDataVector()).getDataVector();
                    int width = tokens.getValueCount() / b.size(), steps = xy.getValueCount() / 2 / b.size();
                    for (int r = 0; r < b.size(); r++) {
                        long i = id.get(r);
                        assertThat(seen.add(i)).isTrue();
                        for (int j = 0; j < width; j++) assertThat(tokens.get(r * width + j)).isEqualTo(j < i % 7 ? (int) (i * 100 + j) : -1);
                        for (int k = 0; k < steps; k++) {
                            assertThat(xy.get(2 * (r * steps + k))).isEqualTo(k < i % 3 ? i : 0f);
                            assertThat(xy.get(2 * (r * steps + k) + 1)).isEqualTo(k < i % 3 ? -k : 0f);
                        }
                    }
                }
            }
        }
        assertThat(seen).hasSize(200);
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
