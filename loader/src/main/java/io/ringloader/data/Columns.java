package io.ringloader.data;

import org.apache.arrow.vector.types.FloatingPointPrecision;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/** Arrow fields for the column types ringloader builds batches of, and the schema of a sample. */
public final class Columns {
    private Columns() {}

    /** Field metadata key of a tensor column's shape, e.g. {@code "3,224,224"}. */
    public static final String SHAPE = "ringloader.shape";

    /** Element types of scalar and tensor columns. */
    public enum DType {
        INT8(new ArrowType.Int(8, true), 1), UINT8(new ArrowType.Int(8, false), 1),
        INT16(new ArrowType.Int(16, true), 2), INT32(new ArrowType.Int(32, true), 4),
        INT64(new ArrowType.Int(64, true), 8),
        FLOAT32(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE), 4),
        FLOAT64(new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE), 8);

        private final ArrowType arrowType;
        private final int width;

        DType(ArrowType arrowType, int width) {
            this.arrowType = arrowType;
            this.width = width;
        }

        public ArrowType arrowType() {
            return arrowType;
        }

        /** Bytes per element. */
        public int width() {
            return width;
        }

        /** The element type of an Arrow numeric type, or null when it is not one ringloader supports. */
        public static DType of(ArrowType type) {
            for (DType d : values()) if (d.arrowType.equals(type)) return d;
            if (type instanceof ArrowType.Int i && !i.getIsSigned()) {
                return switch (i.getBitWidth()) {
                    case 16 -> INT16; // unsigned 16/32/64 read as the signed type of the same width
                    case 32 -> INT32;
                    case 64 -> INT64;
                    default -> null;
                };
            }
            return null;
        }
    }

    public static Schema schema(Field... fields) {
        return new Schema(List.of(fields));
    }

    private static Field scalar(String name, ArrowType type) {
        return new Field(name, FieldType.nullable(type), null);
    }

    public static Field int8(String name) {
        return scalar(name, DType.INT8.arrowType());
    }

    public static Field uint8(String name) {
        return scalar(name, DType.UINT8.arrowType());
    }

    public static Field int16(String name) {
        return scalar(name, DType.INT16.arrowType());
    }

    public static Field int32(String name) {
        return scalar(name, DType.INT32.arrowType());
    }

    public static Field int64(String name) {
        return scalar(name, DType.INT64.arrowType());
    }

    public static Field float32(String name) {
        return scalar(name, DType.FLOAT32.arrowType());
    }

    public static Field float64(String name) {
        return scalar(name, DType.FLOAT64.arrowType());
    }

    public static Field bool(String name) {
        return scalar(name, ArrowType.Bool.INSTANCE);
    }

    public static Field utf8(String name) {
        return scalar(name, ArrowType.Utf8.INSTANCE);
    }

    public static Field binary(String name) {
        return scalar(name, ArrowType.Binary.INSTANCE);
    }

    /**
     * A dense tensor of {@code shape} per sample: an Arrow {@code FixedSizeList<type>} of the element count,
     * with the shape in the field's metadata. In a batch its values are one contiguous
     * {@code [batch, shape...]} array, which DJL can use as an NDArray without a copy.
     */
    public static Field tensor(String name, DType type, int... shape) {
        if (shape.length == 0) throw new IllegalArgumentException("tensor column '" + name + "' needs a shape");
        long n = 1;
        for (int d : shape) {
            if (d <= 0) throw new IllegalArgumentException("tensor column '" + name + "' has a non-positive dimension: " + Arrays.toString(shape));
            n *= d;
        }
        String shapeText = Arrays.stream(shape).mapToObj(Integer::toString).collect(Collectors.joining(","));
        Field element = new Field("item", FieldType.notNullable(type.arrowType()), null);
        return new Field(name, new FieldType(false, new ArrowType.FixedSizeList(Math.toIntExact(n)), null, Map.of(SHAPE, shapeText)),
                List.of(element));
    }

    /** The shape of a tensor column (from its metadata; a flat list when it has none). */
    public static int[] shape(Field field) {
        if (!(field.getType() instanceof ArrowType.FixedSizeList list)) {
            throw new IllegalArgumentException("column '" + field.getName() + "' is not a tensor column: " + field.getType());
        }
        String text = field.getMetadata() == null ? null : field.getMetadata().get(SHAPE);
        if (text == null || text.isBlank()) return new int[] {list.getListSize()};
        return Arrays.stream(text.split(",")).map(String::strip).mapToInt(Integer::parseInt).toArray();
    }
}
