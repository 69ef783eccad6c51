package io.ringloader.adapters.jdbc;

import io.ringloader.data.IterableDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.vector.types.pojo.Schema;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Properties;

/**
 * A query as a streaming dataset: worker {@code k} of {@code n} reads the rows whose integer
 * {@code shardColumn} is congruent to {@code k} mod {@code n}, in one scan over its own connection.
 */
public final class JdbcStreamDataset implements IterableDataset {
    private final String url;
    private final Properties properties;
    private final String query;
    private final String shardColumn;
    private final SqlColumns columns;

    private transient Connection connection;

    private JdbcStreamDataset(String url, Properties properties, String query, String shardColumn) {
        this.url = url;
        this.properties = properties;
        this.query = query;
        this.shardColumn = shardColumn;
        try (Connection c = JdbcDataset.connect(url, properties);
             PreparedStatement shape = c.prepareStatement("SELECT * FROM (" + query + ") AS q WHERE 1 = 0");
             ResultSet empty = shape.executeQuery()) {
            this.columns = SqlColumns.of(empty.getMetaData(), url);
        } catch (SQLException e) {
            throw new IllegalArgumentException("cannot read the columns of " + query + " from " + url + ": " + e.getMessage(), e);
        }
    }

    public static JdbcStreamDataset of(String url, String query, String shardColumn) {
        return new JdbcStreamDataset(url, new Properties(), query, shardColumn);
    }

    public static JdbcStreamDataset of(String url, String query, String shardColumn, Properties properties) {
        return new JdbcStreamDataset(url, properties, query, shardColumn);
    }

    @Override
    public Schema sampleSchema() {
        return columns.schema();
    }

    @Override
    public void open(WorkerContext context) throws SQLException {
        connection = JdbcDataset.connect(url, properties);
    }

    /**
     * One shard's scan: its own statement and result set on the worker's connection, closed when the
     * worker is done with it. Started at a position (a resumed loader, a replaced worker), it seeks in the
     * database: SQLite and PostgreSQL skip the rows before it with OFFSET, so they never reach the worker;
     * other databases move the cursor past them.
     */
    @Override
    public SampleSource stream(WorkerContext ctx) {
        int n = ctx.shardCount();
        String shardQuery = "SELECT * FROM (" + query + ") AS q WHERE ((q." + shardColumn + " % " + n + ") + " + n + ") % " + n
                + " = " + ctx.shardIndex() + " ORDER BY q." + shardColumn;
        return new SampleSource() {
            private PreparedStatement statement;
            private ResultSet rows;

            private void execute(long offset) throws SQLException {
                String sql = offset == 0 ? shardQuery : shardQuery + offsetClause(offset);
                try {
                    statement = connection.prepareStatement(sql);
                    rows = statement.executeQuery();
                } catch (SQLException e) {
                    close();
                    throw new SQLException(url + ": shard " + ctx.shardIndex() + " of " + n + " cannot run " + sql + ": " + e.getMessage(), e);
                }
            }

            @Override
            public boolean next(SampleWriter out) throws SQLException {
                if (rows == null) execute(0);
                try {
                    if (!rows.next()) return false;
                    columns.write(rows, out);
                    return true;
                } catch (SQLException e) {
                    throw new SQLException(url + ": reading shard " + ctx.shardIndex() + " of " + n + " failed at row " + out.index()
                            + ": " + e.getMessage(), e);
                }
            }

            /** Before the first row, OFFSET where the database has it (the count is then n; next() finds the end); else the cursor. */
            @Override
            public long skip(long count) throws SQLException {
                if (rows == null && offsetClause(count) != null) {
                    execute(count);
                    return count;
                }
                if (rows == null) execute(0);
                for (long i = 0; i < count; i++) if (!rows.next()) return i;
                return count;
            }

            @Override
            public void close() throws SQLException {
                try {
                    if (rows != null) rows.close();
                } finally {
                    rows = null;
                    if (statement != null) statement.close();
                    statement = null;
                }
            }
        };
    }

    /** " OFFSET n" in this database's words, or null where it has none that works without a LIMIT. */
    private String offsetClause(long offset) {
        if (url.startsWith("jdbc:sqlite:")) return " LIMIT -1 OFFSET " + offset;
        if (url.startsWith("jdbc:postgresql:")) return " OFFSET " + offset;
        return null;
    }

    @Override
    public void close() throws SQLException {
        if (connection != null) connection.close(); // the shards' scans were closed before, by the worker
        connection = null;
    }
}
