package io.ringloader.batch;

import io.ringloader.data.Columns;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

import java.util.ArrayList;
import java.util.List;

/**
 * How one column of a sample schema is laid out in a batch: which Arrow buffers it has and how wide a
 * value is. Derived once from the schema, on both sides of the ring.
 *
 * @param name   the field name
 * @param kind   the buffer layout
 * @param width  bytes per element (fixed and tensor columns), 0 otherwise
 * @param count  elements per sample: 1, or a tensor's element count
 */
public record ColumnLayout(String name, Kind kind, int width, int count) {

    /** Arrow buffer layouts ringloader writes. */
    public enum Kind {
        /** validity + values: Int, FloatingPoint. */
        FIXED,
        /** validity + bit-packed values: Bool. */
        BOOL,
        /** validity + int32 offsets + bytes: Utf8, Binary. */
        VARIABLE,
        /** FixedSizeList of a numeric type: list validity, then the child's validity + values. */
        TENSOR
    }

    /** Bytes of one sample's value: a tensor's slot, or a fixed value. */
    public long slotBytes() {
        return (long) width * count;
    }

    /** The layouts of every column of {@code schema}, or an error naming a column it cannot build. */
    public static List<ColumnLayout> of(Schema schema) {
        List<ColumnLayout> out = new ArrayList<>();
        for (Field f : schema.getFields()) out.add(of(f));
        if (out.isEmpty()) throw new IllegalArgumentException("the sample schema has no columns");
        return List.copyOf(out);
    }

    static ColumnLayout of(Field f) {
        ArrowType t = f.getType();
        if (t instanceof ArrowType.Bool) return new ColumnLayout(f.getName(), Kind.BOOL, 0, 1);
        if (t instanceof ArrowType.Utf8 || t instanceof ArrowType.Binary) return new ColumnLayout(f.getName(), Kind.VARIABLE, 0, 1);
        Columns.DType d = Columns.DType.of(t);
        if (d != null) return new ColumnLayout(f.getName(), Kind.FIXED, d.width(), 1);
        if (t instanceof ArrowType.FixedSizeList list && f.getChildren().size() == 1) {
            Columns.DType e = Columns.DType.of(f.getChildren().getFirst().getType());
            if (e != null) return new ColumnLayout(f.getName(), Kind.TENSOR, e.width(), list.getListSize());
        }
        throw new IllegalArgumentException("column '" + f.getName() + "' has type " + t + (f.getChildren().isEmpty() ? "" : " of " + f.getChildren())
                + ", which ringloader cannot build batches of. Use integers, float32/64, bool, utf8, binary,"
                + " or a fixed-size tensor of a numeric type (see io.ringloader.data.Columns).");
    }
}
