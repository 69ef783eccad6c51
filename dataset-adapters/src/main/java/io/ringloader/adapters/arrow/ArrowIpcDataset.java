package io.ringloader.adapters.arrow;

import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Arrow IPC files (the file format, {@code .arrow}) as one map-style dataset: sample {@code i} is row
 * {@code i} of the files taken one after another. Each worker maps the files in {@link #open} and reads
 * rows in place from the mapping (no read into the heap); values go straight into the batch.
 *
 * <pre>{@code
 * MapDataset ds = ArrowIpcDataset.of(List.of(Path.of("part-0.arrow"), Path.of("part-1.arrow")), "image", "label");
 * }</pre>
 *
 * The files' footers are read when the dataset is made (in the trainer), so a missing or damaged file,
 * or files whose schemas differ, are errors there, naming the file.
 */
public final class ArrowIpcDataset implements MapDataset {
    private final String[] files;
    private final String[] columns;
    /** Row where each file starts, and the total at the end. */
    private final long[] fileStarts;
    private transient Schema schema;

    private transient List<MappedArrowFile> mapped;
    private transient BufferAllocator allocator;
    private transient List<ArrowRows> sources;
    /** The file of each of {@link #sources}. */
    private transient List<MappedArrowFile> sourceFiles;
    private transient long[] batchStarts;

    private ArrowIpcDataset(List<Path> files, List<String> columns) {
        if (files.isEmpty()) throw new IllegalArgumentException("ArrowIpcDataset needs at least one file");
        this.files = files.stream().map(Path::toString).toArray(String[]::new);
        List<MappedArrowFile> opened = MappedArrowFile.openAll(files);
        try {
            Schema first = opened.getFirst().schema();
            this.columns = columns.isEmpty() ? first.getFields().stream().map(Field::getName).toArray(String[]::new)
                    : columns.toArray(String[]::new);
            this.fileStarts = new long[opened.size() + 1];
            for (int f = 0; f < opened.size(); f++) {
                MappedArrowFile m = opened.get(f);
                for (String c : this.columns) {
                    Field want = ArrowRows.field(first, c);
                    if (want == null) {
                        throw new IllegalArgumentException(m.path() + " has no column '" + c + "'; its columns are "
                                + first.getFields().stream().map(Field::getName).toList());
                    }
                    Field have = ArrowRows.field(m.schema(), c);
                    if (have == null || !have.getType().equals(want.getType()) || !have.getChildren().equals(want.getChildren())) {
                        throw new IllegalArgumentException("column '" + c + "' of " + m.path() + " is " + (have == null ? "missing" : have.getType())
                                + ", but " + opened.getFirst().path() + " has " + want.getType() + ": the files of one dataset must agree");
                    }
                }
                fileStarts[f + 1] = fileStarts[f] + Arrays.stream(m.batchRows()).sum();
            }
            this.schema = select(first);
            ArrowRows.check(schema); // fails here, in the trainer, on a column type that cannot be copied
        } finally {
            opened.forEach(MappedArrowFile::close);
        }
    }

    /** All rows of {@code files}; {@code columns} selects and orders columns (none: all of them). */
    public static ArrowIpcDataset of(List<Path> files, String... columns) {
        return new ArrowIpcDataset(files, List.of(columns));
    }

    private Schema select(Schema full) {
        List<Field> fields = new ArrayList<>();
        for (String c : columns) fields.add(ArrowRows.field(full, c));
        return new Schema(fields);
    }

    @Override
    public Schema sampleSchema() {
        if (schema == null) {
            try (MappedArrowFile m = MappedArrowFile.open(Path.of(files[0]))) {
                schema = select(m.schema());
            }
        }
        return schema;
    }

    @Override
    public long size() {
        return fileStarts[fileStarts.length - 1];
    }

    /** Maps every file and loads every record batch's vectors over the mapping. */
    @Override
    public void open(WorkerContext context) {
        allocator = new RootAllocator();
        mapped = MappedArrowFile.openAll(Arrays.stream(files).map(Path::of).toList());
        sources = new ArrayList<>();
        sourceFiles = new ArrayList<>();
        List<Long> starts = new ArrayList<>();
        long row = 0;
        for (MappedArrowFile m : mapped) {
            long[] rows = m.batchRows();
            for (int b = 0; b < rows.length; b++) {
                VectorSchemaRoot root = m.load(b, allocator);
                sources.add(new ArrowRows(root, columns, m.path(), b));
                sourceFiles.add(m);
                starts.add(row);
                row += rows[b];
            }
        }
        starts.add(row);
        batchStarts = starts.stream().mapToLong(Long::longValue).toArray();
    }

    @Override
    public void read(long index, SampleWriter out) {
        int b = Arrays.binarySearch(batchStarts, index);
        if (b < 0) b = -b - 2;
        while (b + 1 < batchStarts.length - 1 && batchStarts[b + 1] == index) b++; // skip empty batches
        try {
            sources.get(b).write((int) (index - batchStarts[b]), out);
        } catch (InternalError e) {
            // The JVM's word for a SIGBUS in a mapped page: the file is shorter than the mapping now.
            throw changedUnderTheReader(sourceFiles.get(b), b, index, e);
        }
    }

    private static IllegalStateException changedUnderTheReader(MappedArrowFile m, int batch, long index, InternalError e) {
        long now;
        try {
            now = java.nio.file.Files.size(m.path());
        } catch (java.io.IOException gone) {
            now = -1;
        }
        return new IllegalStateException(m.path() + " changed under the reader while sample " + index + " was read from it: it was "
                + m.mappedBytes() + " bytes when the worker mapped it, and is " + (now < 0 ? "gone" : now + " bytes") + " now (truncated or"
                + " rewritten by another process). An Arrow IPC file must stay as it is while a loader reads it: write a new file and"
                + " rename it into place instead (" + e.getMessage() + ")", e);
    }

    @Override
    public void close() {
        if (sources != null) sources.forEach(ArrowRows::close);
        if (mapped != null) mapped.forEach(MappedArrowFile::close);
        if (allocator != null) allocator.close();
        sources = null;
        sourceFiles = null;
        mapped = null;
        allocator = null;
    }
}
