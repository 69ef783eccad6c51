package io.ringloader.adapters.jdbc;

import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.vector.types.pojo.Schema;

import java.sql.Connection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

/**
 * A table or query as a map-style dataset, read by key: sample {@code i} is the row whose key is the
 * i-th smallest. The keys are listed once, in the trainer, when the dataset is made; each worker opens
 * its own connection in {@link #open} (never shared, never inherited) and reads a sample with one
 * prepared statement.
 *
 * <pre>{@code
 * MapDataset ds = JdbcDataset.byKey("jdbc:sqlite:data/train.db", "SELECT id, x1, x2, label FROM samples", "id");
 * MapDataset pg = JdbcDataset.byKey("jdbc:postgresql://127.0.0.1:5432/db", "SELECT ... FROM t", "id", credentials);
 * }</pre>
 *
 * {@code SQLite} (embedded) and PostgreSQL drivers come with ringloader; others work when on the class path.
 */
public final class JdbcDataset implements MapDataset {
    private final String url;
    private final Properties properties;
    private final String sql;
    private final long[] keys;
    private final SqlColumns columns;

    private transient Connection connection;
    private transient PreparedStatement statement;

    private JdbcDataset(String url, Properties properties, String query, String key) {
        this.url = url;
        this.properties = properties;
        this.sql = "SELECT * FROM (" + query + ") AS q WHERE q." + key + " = ?";
        try (Connection c = connect(url, properties);
             PreparedStatement st = c.prepareStatement("SELECT q." + key + " FROM (" + query + ") AS q ORDER BY q." + key);
             ResultSet rs = st.executeQuery()) {
            List<Long> k = new ArrayList<>();
            while (rs.next()) k.add(rs.getLong(1));
            this.keys = k.stream().mapToLong(Long::longValue).toArray();
            try (PreparedStatement shape = c.prepareStatement("SELECT * FROM (" + query + ") AS q WHERE 1 = 0");
                 ResultSet empty = shape.executeQuery()) {
                this.columns = SqlColumns.of(empty.getMetaData(), url);
            }
        } catch (SQLException e) {
            throw new IllegalArgumentException("cannot read the keys of " + query + " from " + url + ": " + e.getMessage(), e);
        }
    }

    /** The rows of {@code query}, ordered by the integer column {@code key}. */
    public static JdbcDataset byKey(String url, String query, String key) {
        return new JdbcDataset(url, new Properties(), query, key);
    }

    /** The same, with connection properties (user, password, ...). */
    public static JdbcDataset byKey(String url, String query, String key, Properties properties) {
        return new JdbcDataset(url, properties, query, key);
    }

    /**
     * A connection to {@code url}. A SQLite database is opened read-only (a loader only reads, and
     * SQLite's default mode would create a missing file, empty, in its place): a missing file is an
     * error naming it.
     */
    static Connection connect(String url, Properties properties) throws SQLException {
        Properties p = properties;
        if (url.startsWith(SQLITE)) {
            Path file = sqliteFile(url);
            if (file != null && !Files.isRegularFile(file)) {
                throw new SQLException(url + ": the SQLite database file " + file + " does not exist (ringloader opens SQLite read-only and"
                        + " never creates a database)");
            }
            p = new Properties();
            p.putAll(properties);
            p.setProperty("open_mode", "1"); // SQLITE_OPEN_READONLY, without SQLITE_OPEN_CREATE
        }
        try {
            return DriverManager.getConnection(url, p);
        } catch (SQLException e) {
            throw new SQLException("cannot connect to " + url + ": " + e.getMessage()
                    + (url.startsWith(SQLITE) ? "" : " (is the server up, and the address right?)"), e);
        }
    }

    private static final String SQLITE = "jdbc:sqlite:";

    /** The file of a SQLite URL ({@code jdbc:sqlite:path}, {@code jdbc:sqlite:file:path?...}), or null for an in-memory database. */
    static Path sqliteFile(String url) {
        String rest = url.substring(SQLITE.length());
        if (rest.startsWith("file:")) rest = rest.substring(5);
        int q = rest.indexOf('?');
        String options = q < 0 ? "" : rest.substring(q);
        if (q >= 0) rest = rest.substring(0, q);
        if (rest.isEmpty() || rest.equals(":memory:") || rest.startsWith(":resource:") || options.contains("mode=memory")) return null;
        return Path.of(rest);
    }

    @Override
    public Schema sampleSchema() {
        return columns.schema();
    }

    @Override
    public long size() {
        return keys.length;
    }

    /** This worker's own connection and statement. */
    @Override
    public void open(WorkerContext context) throws SQLException {
        connection = connect(url, properties);
        try {
            statement = connection.prepareStatement(sql);
        } catch (SQLException e) {
            throw new SQLException(url + ": cannot prepare " + sql + ": " + e.getMessage() + " (did the database change after the dataset was made?)", e);
        }
    }

    @Override
    public void read(long index, SampleWriter out) throws SQLException {
        long key = keys[Math.toIntExact(index)];
        statement.setLong(1, key);
        try (ResultSet rs = statement.executeQuery()) {
            if (!rs.next()) {
                throw new IllegalStateException(url + ": the row with key " + key + " (sample " + index + ") is gone; the table changed"
                        + " after the dataset listed its keys");
            }
            columns.write(rs, out);
        } catch (SQLException e) {
            throw new SQLException(url + ": reading the row with key " + key + " (sample " + index + ") failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() throws SQLException {
        try {
            if (statement != null) statement.close();
        } finally {
            if (connection != null) connection.close();
            statement = null;
            connection = null;
        }
    }
}
