package io.ringloader.it.adapters;

import io.ringloader.adapters.arrow.ArrowStreamDataset;
import io.ringloader.adapters.jdbc.JdbcStreamDataset;
import io.ringloader.adapters.parquet.ParquetDataset;
import io.ringloader.data.IterableDataset;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderState;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.FieldVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every stream adapter, read by shards of the dataset's own: the same batches for any number of workers,
 * and a resume (which skips each shard to its position: whole record batches for Arrow and Parquet,
 * OFFSET in the database for JDBC) that gives the batches of a run without a stop.
 */
@Isolated(timeout = "180s")
class StreamAdaptersResumeTest {
    @TempDir
    Path dir;

    private static List<String> take(Iterator<Batch> it, int n) {
        List<String> out = new ArrayList<>();
        while (out.size() < n && it.hasNext()) {
            try (Batch b = it.next()) {
                StringBuilder s = new StringBuilder("#" + b.index());
                for (FieldVector v : b.root().getFieldVectors()) {
                    for (int r = 0; r < v.getValueCount(); r++) {
                        Object o = v.getObject(r);
                        s.append(';').append(o instanceof byte[] bytes ? java.util.Arrays.toString(bytes) : String.valueOf(o));
                    }
                }
                out.add(s.toString());
            }
        }
        return out;
    }

    private static void resumesExactly(String what, IterableDataset ds, int batch, int at) {
        List<String> clean;
        try (DataLoader l = DataLoader.builder(ds).batchSize(batch).build()) {
            clean = take(l.iterator(), Integer.MAX_VALUE);
        }
        assertThat(clean.size()).as("%s: batches in an epoch", what).isGreaterThan(at);
        List<String> got = new ArrayList<>();
        LoaderState state;
        try (DataLoader l = DataLoader.builder(ds).batchSize(batch).numWorkers(3).build()) {
            List<String> all = take(l.iterator(), Integer.MAX_VALUE);
            assertThat(all).as("%s with 3 process workers", what).isEqualTo(clean);
        }
        try (DataLoader l = DataLoader.builder(ds).batchSize(batch).numWorkers(2).build()) {
            got.addAll(take(l.iterator(), at));
            state = l.state();
        }
        try (DataLoader l = DataLoader.builder(ds).batchSize(batch).numWorkers(1).mode(WorkerMode.THREAD).resumeFrom(state).build()) {
            got.addAll(take(l.iterator(), Integer.MAX_VALUE));
        }
        assertThat(got).as("%s resumed after %d batches", what, at).isEqualTo(clean);
    }

    @Test
    void arrowStreamsResumeExactly() throws Exception {
        Path a = ArrowFiles.write(dir.resolve("a.arrows"), 0, 13, 40, true);
        Path b = ArrowFiles.write(dir.resolve("b.arrows"), 1000, 7, 25, true);
        resumesExactly("Arrow IPC streams", ArrowStreamDataset.of(List.of(a, b)), 16, 11);
    }

    /** Bytes this process has read from files and sockets so far ({@code rchar} of {@code /proc/self/io}). */
    private static long bytesRead() throws java.io.IOException {
        for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/io"))) {
            if (line.startsWith("rchar:")) return Long.parseLong(line.substring(6).trim());
        }
        throw new IllegalStateException("/proc/self/io has no rchar");
    }

    /** Bytes read by an in-line loader of one shard resumed after {@code at} batches, up to its first batch. */
    private static long bytesReadToResume(IterableDataset ds, int batch, int at, List<String> clean) throws Exception {
        LoaderState state;
        try (DataLoader l = DataLoader.builder(ds).batchSize(batch).shards(1).build()) {
            clean.addAll(take(l.iterator(), Integer.MAX_VALUE));
        }
        try (DataLoader l = DataLoader.builder(ds).batchSize(batch).shards(1).build()) {
            take(l.iterator(), at);
            state = l.state();
        }
        long before = bytesRead();
        try (DataLoader l = DataLoader.builder(ds).batchSize(batch).shards(1).resumeFrom(state).build()) {
            assertThat(take(l.iterator(), 1)).as("the first batch after the resume").containsExactly(clean.get(at));
        }
        return bytesRead() - before;
    }

    @Test
    void aResumedArrowStreamSeeksPastTheBatchesBeforeItsPosition() throws Exception {
        Path file = ArrowFiles.write(dir.resolve("big.arrows"), 0, 40, 20_000, true); // ~40 batches of ~1 MB
        long size = java.nio.file.Files.size(file);
        List<String> clean = new ArrayList<>();
        long read = bytesReadToResume(ArrowStreamDataset.of(List.of(file)), 20_000, 36, clean);
        // Read and dropped, the 36 batches before the position would be 90% of the file; passed, only their headers are read.
        assertThat(read).as("bytes read to resume at batch 36 of %d in a %d-byte stream", clean.size(), size).isLessThan(size / 5);
    }

    @Test
    void aResumedParquetShardPassesWholeFilesByTheirFooters() throws Exception {
        List<Path> files = new ArrayList<>();
        for (int f = 0; f < 8; f++) files.addAll(ParquetAdapterTest.parquet(dir.resolve("p" + f), 100_000 * f, 100_000 * (f + 1)));
        long size = 0;
        for (Path f : files) size += java.nio.file.Files.size(f);
        List<String> clean = new ArrayList<>();
        // Batch 7 * 25 + 1 is in the last file: the seven before it are passed by their row counts, unopened.
        long read = bytesReadToResume(ParquetDataset.of(files), 4_000, 7 * 25 + 1, clean);
        assertThat(read).as("bytes read to resume in the last of 8 Parquet files, %d bytes in all", size).isLessThan(size / 3);
    }

    @Test
    void parquetResumesExactly() throws Exception {
        List<Path> files = new ArrayList<>();
        for (int f = 0; f < 10; f++) files.addAll(ParquetAdapterTest.parquet(dir.resolve("p" + f), 100 * f, 100 * f + 60 + 7 * f));
        resumesExactly("Parquet", ParquetDataset.of(files), 16, 9);
    }

    @Test
    void jdbcStreamsResumeExactlySeekingWithOffset() throws Exception {
        String url = "jdbc:sqlite:" + dir.resolve("samples.db");
        try (Connection c = DriverManager.getConnection(url)) {
            JdbcAdaptersTest.fill(c, 1000);
        }
        resumesExactly("a SQLite stream", JdbcStreamDataset.of(url, "SELECT id, x, name FROM samples", "id"), 24, 17);
        try (PostgresServer pg = PostgresServer.start()) {
            try (Connection c = DriverManager.getConnection(pg.url())) {
                JdbcAdaptersTest.fill(c, 1000);
            }
            resumesExactly("a PostgreSQL stream", JdbcStreamDataset.of(pg.url(), "SELECT id, x, name FROM samples", "id"), 24, 23);
        }
    }
}
