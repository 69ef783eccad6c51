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

    /**
     * Field metadata key of a tensor column's shape, e.g. {@code "3,224,224"}; of a sequence column's
     * shape, with {@code *} for its length, e.g. {@code "*,80"}.
     */
    public static final String SHAPE = "ringloader.shape";

    /**
     * Field metadata key of an element type Arrow has no type for: {@code "bfloat16"} on a 16-bit
     * unsigned integer field, whose values are then bfloat16 bits (an Arrow reader that does not know the
     * key sees them as uint16).
     */
    public static final String DTYPE = "ringloader.dtype";

    /**
     * Field metadata key of a sequence column whose batches are padded ({@code "true"}): every row of a
     * batch then has the same length, and its values are one dense {@code [batch, length, ...]} array.
     */
    public static final String PADDED = "ringloader.padded";
    /**
     * Field metadata of a packed sequence column and of the per-value columns beside it: the row length
     * of the {@code [rows, length, step...]} array its values are ({@code Padding.pack}).
     */
    public static final String PACKED = "ringloader.packed";

    /** Element types of scalar and tensor columns. */
    public enum DType {
        INT8(new ArrowType.Int(8, true), 1), UINT8(new ArrowType.Int(8, false), 1),
        INT16(new ArrowType.Int(16, true), 2), INT32(new ArrowType.Int(32, true), 4),
        INT64(new ArrowType.Int(64, true), 8),
        FLOAT32(new ArrowType.FloatingPoint(FloatingPointPrecision.SINGLE), 4),
        FLOAT64(new ArrowType.FloatingPoint(FloatingPointPrecision.DOUBLE), 8),
        /** IEEE 754 half precision: Arrow's {@code FloatingPoint(HALF)}. */
        FLOAT16(new ArrowType.FloatingPoint(FloatingPointPrecision.HALF), 2),
        /**
         * bfloat16 (the upper half of a float32): stored as uint16 bits in a field whose metadata says
         * {@code ringloader.dtype=bfloat16} ({@link #DTYPE}), as Arrow has no type of its own for it.
         */
        BFLOAT16(new ArrowType.Int(16, false), 2);

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

        /** True for the floating-point types, of any precision. */
        public boolean isFloatingPoint() {
            return this == FLOAT16 || this == BFLOAT16 || this == FLOAT32 || this == FLOAT64;
        }

        /**
         * The element type of a field of a numeric type (its metadata tells bfloat16 from uint16), or null
         * when it is not one ringloader supports.
         */
        public static DType of(Field field) {
            if (field.getMetadata() != null && "bfloat16".equals(field.getMetadata().get(DTYPE))) {
                return field.getType() instanceof ArrowType.Int i && i.getBitWidth() == 16 ? BFLOAT16 : null;
            }
            return of(field.getType());
        }

        /**
         * The element type of an Arrow numeric type, or null when it is not one ringloader supports. A
         * 16-bit unsigned type is INT16 here: only its field's metadata can say bfloat16 ({@link #of(Field)}).
         */
        public static DType of(ArrowType type) {
            for (DType d : values()) if (d != BFLOAT16 && d.arrowType.equals(type)) return d;
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

    /** The bfloat16 nearest {@code value} (ties to even), as its 16 bits. NaN stays NaN. */
    public static short toBFloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) return (short) ((bits >>> 16) | 0x40); // quiet NaN, sign kept
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }

    /** The float of bfloat16 bits (exact: bfloat16 is a float32 with its low 16 bits zero). */
    public static float fromBFloat16(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    public static Schema schema(Field... fields) {
        return new Schema(List.of(fields));
    }

    private static Field scalar(String name, ArrowType type) {
        return new Field(name, FieldType.nullable(type), null);
    }

    /** A nullable scalar column of any element type, bfloat16 included. */
    public static Field scalar(String name, DType type) {
        return new Field(name, new FieldType(true, type.arrowType(), null, dtypeMetadata(type)), null);
    }

    /** A non-null field of the element type, for the child of a tensor or sequence column. */
    private static Field element(String name, DType type) {
        return new Field(name, new FieldType(false, type.arrowType(), null, dtypeMetadata(type)), null);
    }

    private static Map<String, String> dtypeMetadata(DType type) {
        return type == DType.BFLOAT16 ? Map.of(DTYPE, "bfloat16") : null;
    }

    /** A half-precision (IEEE 754 binary16) scalar column; write it with {@code setFloat}. */
    public static Field float16(String name) {
        return scalar(name, DType.FLOAT16);
    }

    /** A bfloat16 scalar column ({@link DType#BFLOAT16}); write it with {@code setFloat}. */
    public static Field bfloat16(String name) {
        return scalar(name, DType.BFLOAT16);
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
        String shapeText = shapeText(shape);
        return new Field(name, new FieldType(false, new ArrowType.FixedSizeList(Math.toIntExact(n)), null, Map.of(SHAPE, shapeText)),
                List.of(element("item", type)));
    }

    /**
     * A variable-length sequence per sample (token ids, audio samples, a time series): an Arrow
     * {@code List<type>}. A sample asks {@code SampleWriter.sequence(column, length)} for its segment and
     * fills it in place. In a batch it is one {@code ListVector} (offsets and values) over shared memory;
     * {@code DataLoader.Builder.pad} makes it a dense {@code [batch, length]} array instead.
     */
    public static Field sequence(String name, DType type) {
        return new Field(name, new FieldType(false, ArrowType.List.INSTANCE, null, Map.of(SHAPE, "*")), List.of(element("item", type)));
    }

    /**
     * A variable-length sequence of fixed-shape steps ({@code [*, 80]}: audio frames of 80 mel bins): an
     * Arrow {@code List<FixedSizeList<type>>}, whose length is the number of steps.
     */
    public static Field sequence(String name, DType type, int... stepShape) {
        if (stepShape.length == 0) return sequence(name, type);
        Field step = tensor("item", type, stepShape);
        String shapeText = "*," + Columns.shapeText(stepShape);
        return new Field(name, new FieldType(false, ArrowType.List.INSTANCE, null, Map.of(SHAPE, shapeText)), List.of(step));
    }

    private static String shapeText(int[] shape) {
        return Arrays.stream(shape).mapToObj(Integer::toString).collect(Collectors.joining(","));
    }

    /** The shape of one step of a sequence column: {@code []} for a sequence of scalars, {@code [80]} for {@code [*, 80]}. */
    public static int[] stepShape(Field field) {
        if (!(field.getType() instanceof ArrowType.List) || field.getChildren().size() != 1) {
            throw new IllegalArgumentException("column '" + field.getName() + "' is not a sequence column: " + field.getType());
        }
        Field child = field.getChildren().getFirst();
        return child.getType() instanceof ArrowType.FixedSizeList ? shape(child) : new int[0];
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
