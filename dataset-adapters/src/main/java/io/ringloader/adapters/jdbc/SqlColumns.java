package io.ringloader.adapters.jdbc;

import io.ringloader.data.Columns;
import io.ringloader.data.SampleWriter;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.Serializable;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.List;

/** How the columns of a query become sample columns, and how a row is written into a sample. */
final class SqlColumns implements Serializable {
    enum Kind { LONG, DOUBLE, BOOL, TEXT, BYTES }

    private final String[] names;
    private final Kind[] kinds;

    private SqlColumns(String[] names, Kind[] kinds) {
        this.names = names;
        this.kinds = kinds;
    }

    /** Reads the column types off a result set's metadata; a type it cannot map is an error naming the column. */
    static SqlColumns of(ResultSetMetaData md, String source) throws SQLException {
        int n = md.getColumnCount();
        String[] names = new String[n];
        Kind[] kinds = new Kind[n];
        for (int c = 1; c <= n; c++) {
            names[c - 1] = md.getColumnLabel(c);
            kinds[c - 1] = switch (md.getColumnType(c)) {
                case Types.TINYINT, Types.SMALLINT, Types.INTEGER, Types.BIGINT -> Kind.LONG;
                case Types.REAL, Types.FLOAT, Types.DOUBLE, Types.NUMERIC, Types.DECIMAL -> Kind.DOUBLE;
                case Types.BOOLEAN, Types.BIT -> Kind.BOOL;
                case Types.CHAR, Types.VARCHAR, Types.LONGVARCHAR, Types.NCHAR, Types.NVARCHAR, Types.LONGNVARCHAR, Types.CLOB -> Kind.TEXT;
                case Types.BINARY, Types.VARBINARY, Types.LONGVARBINARY, Types.BLOB -> Kind.BYTES;
                default -> throw new IllegalArgumentException(source + ": column '" + md.getColumnLabel(c) + "' has SQL type "
                        + md.getColumnTypeName(c) + ", which ringloader cannot map; cast it in the query (to an integer, a float, text or bytes)");
            };
        }
        return new SqlColumns(names, kinds);
    }

    Schema schema() {
        List<Field> fields = new ArrayList<>();
        for (int c = 0; c < names.length; c++) {
            fields.add(switch (kinds[c]) {
                case LONG -> Columns.int64(names[c]);
                case DOUBLE -> Columns.float64(names[c]);
                case BOOL -> Columns.bool(names[c]);
                case TEXT -> Columns.utf8(names[c]);
                case BYTES -> Columns.binary(names[c]);
            });
        }
        return new Schema(fields);
    }

    /** Writes the current row of {@code rs} into {@code out}. */
    void write(ResultSet rs, SampleWriter out) throws SQLException {
        for (int c = 0; c < kinds.length; c++) {
            switch (kinds[c]) {
                case LONG -> {
                    long v = rs.getLong(c + 1);
                    if (rs.wasNull()) out.setNull(c); else out.setLong(c, v);
                }
                case DOUBLE -> {
                    double v = rs.getDouble(c + 1);
                    if (rs.wasNull()) out.setNull(c); else out.setDouble(c, v);
                }
                case BOOL -> {
                    boolean v = rs.getBoolean(c + 1);
                    if (rs.wasNull()) out.setNull(c); else out.setBoolean(c, v);
                }
                case TEXT -> {
                    String v = rs.getString(c + 1);
                    if (v == null) out.setNull(c); else out.setString(c, v);
                }
                case BYTES -> {
                    byte[] v = rs.getBytes(c + 1);
                    if (v == null) out.setNull(c); else out.setBytes(c, v);
                }
            }
        }
    }
}
