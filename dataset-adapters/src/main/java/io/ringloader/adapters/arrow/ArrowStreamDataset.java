package io.ringloader.adapters.arrow;

import io.ringloader.data.IterableDataset;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowStreamReader;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

/**
 * Arrow IPC streams (the stream format, {@code .arrows}), read front to back, as a streaming dataset:
 * record batch {@code k} of the files taken one after another belongs to shard {@code k % shardCount},
 * so every worker reads its own batches and every row is read once per epoch.
 */
public final class ArrowStreamDataset implements IterableDataset {
    private final String[] files;
    private final String[] columns;
    private final io.ringloader.data.SerializableSchema schema;
    private transient BufferAllocator allocator;

    private ArrowStreamDataset(List<Path> files, List<String> columns) {
        if (files.isEmpty()) throw new IllegalArgumentException("ArrowStreamDataset needs at least one file");
        this.files = files.stream().map(Path::toString).toArray(String[]::new);
        try (BufferAllocator a = new RootAllocator(); ArrowStreamReader r = reader(files.getFirst(), a)) {
            Schema full = r.getVectorSchemaRoot().getSchema();
            ArrowRows.Selection selection = ArrowRows.select(full, columns, files.getFirst().toString());
            this.columns = selection.names();
            this.schema = new io.ringloader.data.SerializableSchema(selection.schema());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static ArrowStreamDataset of(List<Path> files, String... columns) {
        return new ArrowStreamDataset(files, List.of(columns));
    }

    private static ArrowStreamReader reader(Path file, BufferAllocator allocator) {
        try {
            InputStream in = Files.newInputStream(file);
            ArrowStreamReader r = new ArrowStreamReader(in, allocator);
            r.getVectorSchemaRoot(); // reads the schema message: a file that is not a stream fails here
            return r;
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("Arrow IPC stream " + file + " does not exist", e);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(file + " is not an Arrow IPC stream: " + e.getMessage(), e);
        }
    }

    @Override
    public Schema sampleSchema() {
        return schema.get();
    }

    @Override
    public void open(WorkerContext context) {
        allocator = new RootAllocator();
    }

    /** One shard: record batches k, k + shardCount, ... of the files taken one after another, through a reader of its own. */
    @Override
    public SampleSource stream(WorkerContext ctx) {
        return new RecordBatchSource() {
            private int file = -1;
            private long batch = -1;

            @Override
            protected boolean advance() throws IOException {
                while (rows == null || row >= reader.getVectorSchemaRoot().getRowCount()) {
                    // The next record batch of this shard.
                    if (reader == null || !loadNext(reader, file)) {
                        close();
                        if (++file >= files.length) return false;
                        reader = reader(Path.of(files[file]), allocator);
                        rows = null;
                        continue;
                    }
                    if (++batch % ctx.shardCount() != ctx.shardIndex()) continue;
                    rows = new ArrowRows(reader.getVectorSchemaRoot(), columns, Path.of(files[file]), (int) batch);
                    row = 0;
                }
                return true;
            }

            @Override
            public void close() throws IOException {
                rows = null;
                if (reader == null) return;
                try {
                    reader.close();
                } finally {
                    reader = null;
                }
            }
        };
    }

    private boolean loadNext(org.apache.arrow.vector.ipc.ArrowReader reader, int file) {
        try {
            return reader.loadNextBatch();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(files[file] + " is a damaged Arrow IPC stream: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (allocator != null) allocator.close(); // the shards' readers were closed before, by the worker
        allocator = null;
    }
}
