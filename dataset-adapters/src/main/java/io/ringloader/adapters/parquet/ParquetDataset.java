package io.ringloader.adapters.parquet;

import io.ringloader.adapters.arrow.ArrowRows;
import io.ringloader.adapters.arrow.RecordBatchSource;
import io.ringloader.data.IterableDataset;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.dataset.file.FileFormat;
import org.apache.arrow.dataset.file.FileSystemDatasetFactory;
import org.apache.arrow.dataset.jni.NativeMemoryPool;
import org.apache.arrow.dataset.scanner.ScanOptions;
import org.apache.arrow.dataset.scanner.Scanner;
import org.apache.arrow.dataset.source.Dataset;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.ipc.ArrowReader;
import org.apache.arrow.vector.types.pojo.Schema;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Parquet files (through Arrow's dataset module) as a streaming dataset: file {@code k} belongs to shard
 * {@code k % shardCount}, and each worker scans its own files with its own native scanner, reading only
 * the selected columns. A directory stands for the files under it, in path order, leaving out those
 * whose names start with {@code .} or {@code _} (as pyarrow's datasets do). A shard started at a
 * position passes whole files by the row count in their footers, unopened; in the file it stops in, the
 * scanner's batches before the position are decoded and dropped, since Arrow Java's dataset API cannot
 * start a scan at a row group.
 *
 * <p>Before a worker scans a file, it verifies the checksums of the selected columns' pages that have
 * one ({@link ParquetChecksums}): a damaged page is an error naming the file, column, row group and
 * page. A file written without page checksums (Arrow's writers leave them out unless asked) cannot be
 * checked, and damage that still decodes goes through; the dataset logs once, when it is made, if its
 * first file has none.
 *
 * <p>The schema and every footer are read when the dataset is made; a missing file, or one that is not
 * Parquet, is an error there, naming it.
 */
public final class ParquetDataset implements IterableDataset {
    private static final Logger LOG = LoggerFactory.getLogger(ParquetDataset.class);

    private final String[] uris;
    private final long[] rowCounts;
    private final String[] columns;
    private final io.ringloader.data.SerializableSchema schema;

    private transient BufferAllocator allocator;

    private ParquetDataset(List<Path> given, List<String> columns) {
        List<Path> files = expand(given);
        this.uris = files.stream().map(f -> f.toAbsolutePath().toUri().toString()).toArray(String[]::new);
        this.rowCounts = new long[files.size()];
        ParquetFooter firstFooter = null;
        for (int f = 0; f < files.size(); f++) {
            ParquetFooter footer = ParquetFooter.read(files.get(f));
            if (f == 0) firstFooter = footer;
            rowCounts[f] = footer.rows();
        }
        Schema full;
        try (BufferAllocator a = new RootAllocator();
             FileSystemDatasetFactory factory = new FileSystemDatasetFactory(a, NativeMemoryPool.getDefault(), FileFormat.PARQUET, uris[0])) {
            full = factory.inspect();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(files.getFirst() + " is not a readable Parquet file: " + e.getMessage(), e);
        }
        ArrowRows.Selection selection = ArrowRows.select(full, columns, files.getFirst().toString());
        this.columns = selection.names();
        this.schema = new io.ringloader.data.SerializableSchema(selection.schema());
        if (!ParquetChecksums.hasChecksums(files.getFirst(), firstFooter, List.of(this.columns))) {
            LOG.info("{} has no page checksums, so damage that still decodes cannot be detected in it (write Parquet with"
                    + " page checksums: pyarrow's write_page_checksum=True, parquet-java's parquet.page.write-checksum.enabled)",
                    files.getFirst());
        }
    }

    /** The files, with each directory replaced by the files under it. */
    private static List<Path> expand(List<Path> given) {
        if (given.isEmpty()) throw new IllegalArgumentException("ParquetDataset needs at least one file or directory");
        List<Path> files = new ArrayList<>();
        for (Path p : given) {
            if (Files.isDirectory(p)) {
                try (Stream<Path> walk = Files.walk(p)) {
                    List<Path> found = walk.filter(Files::isRegularFile).filter(f -> !hidden(p, f)).sorted().toList();
                    if (found.isEmpty()) throw new IllegalArgumentException("the directory " + p + " has no files (names starting with . or _ are left out)");
                    files.addAll(found);
                } catch (IOException e) {
                    throw new IllegalArgumentException("cannot list the directory " + p + ": " + e, e);
                }
            } else if (Files.isRegularFile(p)) {
                files.add(p);
            } else {
                throw new IllegalArgumentException("Parquet file " + p + " does not exist");
            }
        }
        return files;
    }

    /** Whether a name on the way from {@code root} to {@code file} starts with . or _ (_SUCCESS, _metadata, .crc files). */
    private static boolean hidden(Path root, Path file) {
        for (Path name : root.relativize(file)) {
            String n = name.toString();
            if (n.startsWith(".") || n.startsWith("_")) return true;
        }
        return false;
    }

    /** The rows of {@code files} (a directory: the files under it); {@code columns} selects and orders columns (none: all). */
    public static ParquetDataset of(List<Path> files, String... columns) {
        return new ParquetDataset(files, List.of(columns));
    }

    @Override
    public Schema sampleSchema() {
        return schema.get();
    }

    @Override
    public void open(WorkerContext context) {
        allocator = new RootAllocator();
    }

    /** One shard: files k, k + shardCount, ..., scanned one after another with a native scanner of its own. */
    @Override
    public SampleSource stream(WorkerContext ctx) {
        return new RecordBatchSource() {
            /** The current file's factory, dataset, scanner and reader, closed in reverse. */
            private final List<AutoCloseable> open = new ArrayList<>();
            /** The current file's scan, or null between files. */
            private ArrowReader reader;
            private int file = ctx.shardIndex() - ctx.shardCount();

            @Override
            protected long pass(long n) {
                if (reader != null) return 0; // in a file: its batches are read
                long passed = 0;
                for (int next = file + ctx.shardCount(); next < uris.length; next += ctx.shardCount()) {
                    if (passed + rowCounts[next] > n) break;
                    passed += rowCounts[next];
                    file = next;
                }
                return passed;
            }

            @Override
            protected boolean advance() throws IOException {
                while (rows == null || row >= rows.rowCount()) {
                    if (reader != null && load(reader, file)) {
                        rows = new ArrowRows(reader.getVectorSchemaRoot(), columns, Path.of(java.net.URI.create(uris[file])), 0);
                        row = 0;
                        continue;
                    }
                    close();
                    file += ctx.shardCount();
                    if (file >= uris.length) return false;
                    reader = scan(file, open);
                    rows = null;
                }
                return true;
            }

            @Override
            public void close() {
                for (int i = open.size() - 1; i >= 0; i--) {
                    try {
                        open.get(i).close();
                    } catch (Exception e) {
                        throw new IllegalStateException("cannot close a Parquet scan: " + e, e);
                    }
                }
                open.clear();
                reader = null;
                rows = null;
            }
        };
    }

    private ArrowReader scan(int f, List<AutoCloseable> open) {
        Path file = Path.of(java.net.URI.create(uris[f]));
        ParquetFooter footer = ParquetFooter.read(file);
        if (footer.rows() != rowCounts[f]) {
            throw new IllegalStateException(file + " changed since the dataset was made: it has " + footer.rows() + " rows, not " + rowCounts[f]);
        }
        ParquetChecksums.verify(file, footer, List.of(columns));
        try {
            FileSystemDatasetFactory factory = new FileSystemDatasetFactory(allocator, NativeMemoryPool.getDefault(), FileFormat.PARQUET, uris[f]);
            open.add(factory);
            Dataset dataset = factory.finish();
            open.add(dataset);
            Scanner scanner = dataset.newScan(new ScanOptions(4096, Optional.of(columns)));
            open.add(scanner);
            ArrowReader reader = scanner.scanBatches();
            open.add(reader);
            return reader;
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(uris[f] + " cannot be scanned as Parquet: " + e.getMessage(), e);
        }
    }

    private boolean load(ArrowReader reader, int f) {
        try {
            return reader.loadNextBatch();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(uris[f] + " is a damaged Parquet file: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (allocator != null) allocator.close(); // the shards' scans were closed before, by the worker
        allocator = null;
    }
}
