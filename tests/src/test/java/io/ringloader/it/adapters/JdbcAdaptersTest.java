package io.ringloader.it.adapters;

import io.ringloader.adapters.jdbc.JdbcDataset;
import io.ringloader.adapters.jdbc.JdbcStreamDataset;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.SampleReadException;
import io.ringloader.testkit.Isolated;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** JDBC sources: SQLite files and a real PostgreSQL server, each worker with a connection of its own. */
@Isolated(timeout = "120s")
class JdbcAdaptersTest {
    @TempDir
    Path dir;

    static void fill(Connection c, int rows) throws Exception {
        try (Statement st = c.createStatement()) {
            st.execute("CREATE TABLE samples (id INTEGER PRIMARY KEY, x DOUBLE PRECISION, name TEXT, label INTEGER)");
        }
        c.setAutoCommit(false);
        try (PreparedStatement ins = c.prepareStatement("INSERT INTO samples VALUES (?, ?, ?, ?)")) {
            for (int i = 0; i < rows; i++) {
                ins.setInt(1, i);
                ins.setDouble(2, i * 0.25);
                if (i % 7 == 0) ins.setNull(3, java.sql.Types.VARCHAR); else ins.setString(3, "n" + i);
                ins.setInt(4, i % 3);
                ins.addBatch();
            }
            ins.executeBatch();
        }
        c.commit();
        c.setAutoCommit(true);
    }

    private static Set<Long> readAll(DataLoader l) {
        Set<Long> seen = new HashSet<>();
        for (Batch b : l) {
            try (b) {
                BigIntVector id = (BigIntVector) b.root().getVector("id");
                Float8Vector x = (Float8Vector) b.root().getVector("x");
                VarCharVector name = (VarCharVector) b.root().getVector("name");
                for (int r = 0; r < b.size(); r++) {
                    long i = id.get(r);
                    assertThat(seen.add(i)).as("row %d once", i).isTrue();
                    assertThat(x.get(r)).isEqualTo(i * 0.25);
                    if (i % 7 == 0) assertThat(name.isNull(r)).isTrue(); else assertThat(name.getObject(r).toString()).isEqualTo("n" + i);
                }
            }
        }
        return seen;
    }

    /** Whether process {@code pid} has {@code file} open. */
    private static boolean hasOpen(long pid, Path file) throws Exception {
        try (Stream<Path> fds = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            return fds.anyMatch(fd -> {
                try {
                    return Files.readSymbolicLink(fd).equals(file);
                } catch (Exception e) {
                    return false;
                }
            });
        }
    }

    /** A SQLite database at {@code db} with {@code rows} samples; returns its URL. */
    private static String sqlite(Path db, int rows) throws Exception {
        String url = "jdbc:sqlite:" + db;
        try (Connection c = DriverManager.getConnection(url)) {
            fill(c, rows);
        }
        return url;
    }

    @Test
    void sqliteByKeyAndStreamedEachWorkerWithItsOwnConnection() throws Exception {
        Path db = dir.resolve("samples.db");
        String url = sqlite(db, 1000);
        JdbcDataset ds = JdbcDataset.byKey(url, "SELECT id, x, name, label FROM samples", "id");
        assertThat(hasOpen(ProcessHandle.current().pid(), db)).as("the trainer keeps no connection").isFalse();
        try (DataLoader l = DataLoader.builder(ds).batchSize(50).shuffle(true).numWorkers(2).persistentWorkers(true).build()) {
            Iterator<Batch> it = l.iterator();
            it.next().close(); // from worker 0
            it.next().close(); // from worker 1: both have opened their connections by now
            for (long pid : l.workerPids()) assertThat(hasOpen(pid, db)).as("worker pid %d has its own connection to the file", pid).isTrue();
            while (it.hasNext()) it.next().close();
            assertThat(readAll(l)).hasSize(1000);
        }
        try (DataLoader l = DataLoader.builder(JdbcStreamDataset.of(url, "SELECT id, x, name FROM samples", "id")).batchSize(64).numWorkers(3).build()) {
            assertThat(readAll(l)).hasSize(1000);
        }
    }

    @Test
    void aMissingTableOrAVanishedRowIsAClearError() throws Exception {
        Path db = dir.resolve("samples.db");
        String url = sqlite(db, 100);
        assertThatThrownBy(() -> JdbcDataset.byKey(url, "SELECT id FROM absent", "id"))
                .hasMessageContaining(url).hasMessageContaining("no such table: absent");
        JdbcDataset ds = JdbcDataset.byKey(url, "SELECT id, x, name, label FROM samples", "id");
        try (Connection c = DriverManager.getConnection(url); Statement st = c.createStatement()) {
            st.execute("DELETE FROM samples WHERE id = 42");
        }
        try (DataLoader l = DataLoader.builder(ds).batchSize(10).numWorkers(2).build()) {
            assertThatThrownBy(() -> readAll(l)).isInstanceOf(SampleReadException.class)
                    .hasMessageContaining("sample 42").hasMessageContaining("the row with key 42 (sample 42) is gone");
        }
    }

    @Test
    void sqliteIsOpenedReadOnlyAndAMissingFileIsNamedNeverCreated() throws Exception {
        Path db = dir.resolve("samples.db");
        String url = sqlite(db, 100);
        Path absent = dir.resolve("absent.db");
        assertThatThrownBy(() -> JdbcDataset.byKey("jdbc:sqlite:" + absent, "SELECT id FROM samples", "id"))
                .hasMessageContaining("the SQLite database file " + absent + " does not exist");
        assertThat(absent).as("byKey on a missing file creates none").doesNotExist();
        JdbcDataset ds = JdbcDataset.byKey(url, "SELECT id, x, name, label FROM samples", "id");
        JdbcStreamDataset stream = JdbcStreamDataset.of(url, "SELECT id, x, name FROM samples", "id");
        Files.delete(db);
        try (DataLoader l = DataLoader.builder(ds).batchSize(10).numWorkers(1).build()) {
            assertThatThrownBy(() -> readAll(l)).hasMessageContaining(url).hasMessageContaining("does not exist");
        }
        try (DataLoader l = DataLoader.builder(stream).batchSize(10).numWorkers(1).build()) {
            assertThatThrownBy(() -> readAll(l)).hasMessageContaining(url).hasMessageContaining("does not exist");
        }
        assertThat(db).as("the workers created no empty database in its place").doesNotExist();
    }

    @Test
    void postgresqlServesEachWorkerOverItsOwnConnectionAndItsDeathIsAClearError() throws Exception {
        try (PostgresServer pg = PostgresServer.start()) {
            try (Connection c = DriverManager.getConnection(pg.url())) {
                fill(c, 2000);
            }
            // Each sample carries the server-side id of the connection that read it.
            String query = "SELECT id, x, name, label, pg_backend_pid() AS backend FROM samples";
            try (DataLoader l = DataLoader.builder(JdbcDataset.byKey(pg.url(), query, "id")).batchSize(100).numWorkers(2).build()) {
                Set<Long> backends = new HashSet<>();
                long rows = 0;
                for (Batch b : l) {
                    try (b) {
                        BigIntVector backend = (BigIntVector) b.root().getVector("backend");
                        for (int r = 0; r < b.size(); r++) backends.add(backend.get(r));
                        rows += b.size();
                    }
                }
                assertThat(rows).isEqualTo(2000);
                assertThat(backends).as("server connections that served the samples").hasSize(2);
            }
            try (DataLoader l = DataLoader.builder(JdbcStreamDataset.of(pg.url(), "SELECT id, x, name FROM samples", "id")).batchSize(128).numWorkers(2).build()) {
                assertThat(readAll(l)).hasSize(2000);
            }
            // The server dies in the middle of an epoch.
            try (DataLoader l = DataLoader.builder(JdbcDataset.byKey(pg.url(), query, "id")).batchSize(100).numWorkers(2).build()) {
                Iterator<Batch> it = l.iterator();
                // Batches 0 and 1 come from workers 0 and 1: both have connected (in open()) before the kill,
                // which then hits them while they read, not while they connect.
                it.next().close();
                it.next().close();
                pg.kill();
                assertThatThrownBy(() -> {
                    while (it.hasNext()) it.next().close();
                }).isInstanceOf(SampleReadException.class).hasMessageContaining("jdbc:postgresql://127.0.0.1:" + pg.port);
            }
        }
        assertThatThrownBy(() -> JdbcDataset.byKey("jdbc:postgresql://127.0.0.1:1/postgres?user=x", "SELECT 1 AS id", "id"))
                .hasMessageContaining("cannot connect to jdbc:postgresql://127.0.0.1:1").hasMessageContaining("is the server up");
    }
}
