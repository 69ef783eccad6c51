package io.ringloader.adapters.lance;

import com.lancedb.lance.Dataset;
import io.ringloader.adapters.arrow.ArrowRows;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A Lance dataset (a folder) as a map-style dataset: sample {@code i} is row {@code i}, read with Lance's
 * {@code take}. Lance runs a Rust async runtime behind JNI; each worker opens the dataset, and so builds
 * its own runtime, in {@link #open}: the case of LanceDB's PyTorch workers that hung after {@code fork()}.
 */
public final class LanceDataset implements MapDataset {
    private final String path;
    private final String[] columns;
    private final long size;
    private final io.ringloader.data.SerializableSchema schema;

    private transient BufferAllocator allocator;
    private transient Dataset dataset;
    private transient List<String> columnList;

    private LanceDataset(Path path, List<String> columns) {
        if (!Files.isDirectory(path)) throw new IllegalArgumentException("Lance dataset " + path + " does not exist (a Lance dataset is a folder)");
        this.path = path.toString();
        try (BufferAllocator a = new RootAllocator(); Dataset ds = open(this.path, a)) {
            Schema full = ds.getSchema();
            ArrowRows.Selection selection = ArrowRows.select(full, columns, "Lance dataset " + path);
            this.columns = selection.names();
            this.schema = new io.ringloader.data.SerializableSchema(selection.schema());
            this.size = ds.countRows();
        }
    }

    private static Dataset open(String path, BufferAllocator allocator) {
        try {
            return Dataset.open(path, allocator);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(path + " is not a readable Lance dataset: " + e.getMessage(), e);
        }
    }

    /** The rows of the Lance dataset at {@code path}; {@code columns} selects and orders columns (none: all). */
    public static LanceDataset of(Path path, String... columns) {
        return new LanceDataset(path, List.of(columns));
    }

    @Override
    public Schema sampleSchema() {
        return schema.get();
    }

    @Override
    public long size() {
        return size;
    }

    /** This worker's own dataset handle, and with it its own Lance (Rust) runtime. */
    @Override
    public void open(WorkerContext context) {
        allocator = new RootAllocator();
        dataset = open(path, allocator);
        columnList = List.of(columns);
    }

    @Override
    public void read(long index, SampleWriter out) throws IOException {
        try (ArrowReader r = dataset.take(List.of(index), columnList)) {
            if (!r.loadNextBatch() || r.getVectorSchemaRoot().getRowCount() != 1) {
                throw new IOException("Lance dataset " + path + " has no row " + index);
            }
            new ArrowRows(r.getVectorSchemaRoot(), columns, Path.of(path), 0).write(0, out);
        }
    }

    @Override
    public void close() {
        if (dataset != null) dataset.close();
        if (allocator != null) allocator.close();
        dataset = null;
        allocator = null;
    }
}
