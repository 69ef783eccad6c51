package io.ringloader.adapters.arrow;

import io.ringloader.data.IterableDataset;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Arrow IPC streams (the stream format, {@code .arrows}), read front to back, as a streaming dataset:
 * record batch {@code k} of the files taken one after another belongs to shard {@code k % shardCount}.
 * A shard reads the headers of every batch but the bodies of its own only (the others' are passed with
 * a seek, see {@link IpcStreamFile}), and a shard started at a position passes its own batches before
 * it the same way: nothing before a resumed position is read but the batches' headers.
 */
public final class ArrowStreamDataset implements IterableDataset {
    private final String[] files;
    private final String[] columns;
    private final io.ringloader.data.SerializableSchema schema;
    private transient BufferAllocator allocator;

    private ArrowStreamDataset(List<Path> files, List<String> columns) {
        if (files.isEmpty()) throw new IllegalArgumentException("ArrowStreamDataset needs at least one file");
        this.files = files.stream().map(Path::toString).toArray(String[]::new);
        try (IpcStreamFile first = IpcStreamFile.open(files.getFirst())) {
            ArrowRows.Selection selection = selection(first.schema(), columns, files.getFirst());
            this.columns = selection.names();
            this.schema = new io.ringloader.data.SerializableSchema(selection.schema());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ArrowRows.Selection selection(Schema full, List<String> columns, Path file) {
        ArrowRows.Selection selection = ArrowRows.select(full, columns, file.toString());
        for (Field f : selection.schema().getFields()) {
            if (f.getDictionary() != null) {
                throw new IllegalArgumentException(file + ": column '" + f.getName() + "' is dictionary-encoded, which ArrowStreamDataset"
                        + " cannot read; write the stream with the column decoded, or leave it out of the columns");
            }
        }
        return selection;
    }

    public static ArrowStreamDataset of(List<Path> files, String... columns) {
        return new ArrowStreamDataset(files, List.of(columns));
    }

    @Override
    public Schema sampleSchema() {
        return schema.get();
    }

    @Override
    public void open(WorkerContext context) {
        allocator = new RootAllocator();
    }

    /** One shard: record batches k, k + shardCount, ... of the files taken one after another, through a file of its own. */
    @Override
    public SampleSource stream(WorkerContext ctx) {
        return new RecordBatchSource() {
            private int file = -1;
            private IpcStreamFile in;
            /** The current file's batches, loaded into {@link #root}; made again for a file of another schema. */
            private VectorSchemaRoot root;
            private VectorLoader loader;
            /** The index of the last batch whose header was read, over the files taken one after another. */
            private long batch = -1;
            /** The rows of this shard's batch whose header was read and whose body was not, or -1. */
            private long header = -1;

            /** Reads the header of this shard's next record batch into {@link #header}; false at the shard's end. */
            private boolean nextHeader() throws IOException {
                while (true) {
                    if (in == null) {
                        if (++file >= files.length) return false;
                        in = IpcStreamFile.open(Path.of(files[file]));
                        if (!selection(in.schema(), List.of(columns), Path.of(files[file])).schema().equals(schema.get())) {
                            throw new IllegalArgumentException(files[file] + ": its columns " + columns(in.schema()) + " differ from those of "
                                    + files[0] + ", " + schema.get().getFields() + "; every stream of an ArrowStreamDataset needs the same columns");
                        }
                        if (root != null && !root.getSchema().equals(in.schema())) {
                            root.close();
                            root = null;
                        }
                    }
                    long rowCount = in.nextBatch(); // passes the body of a batch of another shard
                    if (rowCount < 0) {
                        in.close();
                        in = null;
                        continue;
                    }
                    if (++batch % ctx.shardCount() == ctx.shardIndex()) {
                        header = rowCount;
                        return true;
                    }
                }
            }

            @Override
            protected long pass(long n) throws IOException {
                long passed = 0;
                while ((header >= 0 || nextHeader()) && passed + header <= n) {
                    in.pass();
                    passed += header;
                    header = -1;
                }
                return passed;
            }

            @Override
            protected boolean advance() throws IOException {
                while (rows == null || row >= rows.rowCount()) {
                    if (header < 0 && !nextHeader()) {
                        rows = null;
                        return false;
                    }
                    if (root == null) {
                        root = VectorSchemaRoot.create(in.schema(), allocator);
                        loader = new VectorLoader(root);
                    }
                    in.load(loader, allocator);
                    header = -1;
                    rows = new ArrowRows(root, columns, Path.of(files[file]), (int) batch);
                    row = 0;
                }
                return true;
            }

            @Override
            public void close() throws IOException {
                rows = null;
                try {
                    if (root != null) root.close();
                } finally {
                    root = null;
                    if (in != null) in.close();
                    in = null;
                }
            }
        };
    }

    private static List<String> columns(Schema schema) {
        return schema.getFields().stream().map(f -> f.getName() + ": " + f.getType()).toList();
    }

    @Override
    public void close() {
        if (allocator != null) allocator.close(); // the shards' readers were closed before, by the worker
        allocator = null;
    }
}
