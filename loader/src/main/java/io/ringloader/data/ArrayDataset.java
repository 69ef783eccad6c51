package io.ringloader.data;

import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.Serial;
import java.lang.reflect.Array;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.List;

/**
 * A map-style dataset over Java arrays, for quick starts and tests: one array per column, one element per
 * sample. The arrays travel to every worker with the recipe (each worker holds a copy), so keep large
 * data in files or a database and use a dataset that reads it.
 *
 * <pre>{@code
 * MapDataset ds = ArrayDataset.builder()
 *         .tensor("features", features)   // float[n][16]: a float32 tensor column of shape [16]
 *         .column("label", labels)        // long[n]: an int64 column
 *         .build();
 * MapDataset points = ArrayDataset.ofRecords(List.of(new Point(1f, 2f, 0), ...));
 * }</pre>
 */
public final class ArrayDataset implements MapDataset {
    @Serial
    private static final long serialVersionUID = 1;

    private final String[] names;
    private final Object[] columns;
    private final int[][] shapes;
    private final int size;
    private transient Schema schema;

    private ArrayDataset(List<String> names, List<Object> columns, List<int[]> shapes) {
        this.names = names.toArray(String[]::new);
        this.columns = columns.toArray();
        this.shapes = shapes.toArray(int[][]::new);
        this.size = columns.isEmpty() ? 0 : Array.getLength(columns.getFirst());
        for (int c = 0; c < this.columns.length; c++) {
            int n = Array.getLength(this.columns[c]);
            if (n != size) {
                throw new IllegalArgumentException("column '" + this.names[c] + "' has " + n + " samples, column '"
                        + this.names[0] + "' has " + size + ": every column needs one element per sample");
            }
        }
        sampleSchema(); // checks the element types now, not in a worker
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A dataset of Java records: one column per component (numbers, booleans, strings, byte[] and float[]). */
    public static <R extends Record> ArrayDataset ofRecords(List<R> records) {
        if (records.isEmpty()) throw new IllegalArgumentException("ofRecords needs at least one record (it reads the columns off the first)");
        Class<?> type = records.getFirst().getClass();
        Builder b = builder();
        for (RecordComponent rc : type.getRecordComponents()) {
            Class<?> t = rc.getType();
            Object column = Array.newInstance(t, records.size());
            var accessor = rc.getAccessor();
            accessor.setAccessible(true); // a record declared in a method or a notebook cell is not public
            for (int i = 0; i < records.size(); i++) {
                try {
                    Array.set(column, i, accessor.invoke(records.get(i)));
                } catch (ReflectiveOperationException e) {
                    throw new IllegalArgumentException("cannot read component " + rc.getName() + " of " + type.getName(), e);
                }
            }
            if (t == float[].class) b.tensor(rc.getName(), (float[][]) column);
            else b.column(rc.getName(), column);
        }
        return b.build();
    }

    @Override
    public Schema sampleSchema() {
        if (schema == null) {
            List<Field> fields = new ArrayList<>();
            for (int c = 0; c < columns.length; c++) fields.add(field(names[c], columns[c], shapes[c]));
            schema = new Schema(fields);
        }
        return schema;
    }

    private static Field field(String name, Object column, int[] shape) {
        return switch (column) {
            case float[][] ignored -> Columns.tensor(name, Columns.DType.FLOAT32, shape);
            case float[] ignored -> Columns.float32(name);
            case double[] ignored -> Columns.float64(name);
            case long[] ignored -> Columns.int64(name);
            case int[] ignored -> Columns.int32(name);
            case short[] ignored -> Columns.int16(name);
            case byte[] ignored -> Columns.int8(name);
            case boolean[] ignored -> Columns.bool(name);
            case String[] ignored -> Columns.utf8(name);
            case byte[][] ignored -> Columns.binary(name);
            default -> throw new IllegalArgumentException("column '" + name + "' is a " + column.getClass().getSimpleName()
                    + "; ArrayDataset takes float[][] (tensors), float[], double[], long[], int[], short[], byte[], boolean[], String[] and byte[][]");
        };
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void read(long index, SampleWriter out) {
        int i = Math.toIntExact(index);
        for (int c = 0; c < columns.length; c++) {
            switch (columns[c]) {
                case float[][] a -> out.setFloats(c, a[i]);
                case float[] a -> out.setFloat(c, a[i]);
                case double[] a -> out.setDouble(c, a[i]);
                case long[] a -> out.setLong(c, a[i]);
                case int[] a -> out.setInt(c, a[i]);
                case short[] a -> out.setShort(c, a[i]);
                case byte[] a -> out.setByte(c, a[i]);
                case boolean[] a -> out.setBoolean(c, a[i]);
                case String[] a -> {
                    if (a[i] == null) out.setNull(c); else out.setString(c, a[i]);
                }
                case byte[][] a -> {
                    if (a[i] == null) out.setNull(c); else out.setBytes(c, a[i]);
                }
                default -> throw new IllegalStateException("unreachable: checked in the constructor");
            }
        }
    }

    /** Collects the columns of an {@link ArrayDataset}. */
    public static final class Builder {
        private final List<String> names = new ArrayList<>();
        private final List<Object> columns = new ArrayList<>();
        private final List<int[]> shapes = new ArrayList<>();

        /** A scalar column: float[], double[], long[], int[], short[], byte[], boolean[], String[] or byte[][]. */
        public Builder column(String name, Object values) {
            if (values instanceof float[][] rows) return tensor(name, rows);
            names.add(name);
            columns.add(values);
            shapes.add(null);
            return this;
        }

        /** A float32 tensor column of the given shape (default: flat, the length of the first row). */
        public Builder tensor(String name, float[][] rows, int... shape) {
            int length = rows.length == 0 ? 0 : rows[0].length;
            int[] s = shape.length == 0 ? new int[] {length} : shape;
            long n = 1;
            for (int d : s) n *= d;
            for (int i = 0; i < rows.length; i++) {
                if (rows[i].length != n) {
                    throw new IllegalArgumentException("tensor column '" + name + "': row " + i + " has " + rows[i].length
                            + " values, the shape " + java.util.Arrays.toString(s) + " needs " + n);
                }
            }
            names.add(name);
            columns.add(rows);
            shapes.add(s);
            return this;
        }

        public ArrayDataset build() {
            return new ArrayDataset(names, columns, shapes);
        }
    }
}
