package io.ringloader.batch;

import io.ringloader.data.Columns;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

import java.util.ArrayList;
import java.util.List;

/** The trainer's side of {@link ColumnLayout}: reading layouts off an Arrow schema. */
public final class SchemaLayout {
    private SchemaLayout() {}

    /** The layouts of every column of {@code schema}, or an error naming a column ringloader cannot build. */
    public static List<ColumnLayout> of(Schema schema) {
        List<ColumnLayout> out = new ArrayList<>();
        for (Field f : schema.getFields()) out.add(of(f));
        if (out.isEmpty()) throw new IllegalArgumentException("the sample schema has no columns");
        return List.copyOf(out);
    }

    static ColumnLayout of(Field f) {
        ArrowType t = f.getType();
        if (t instanceof ArrowType.Bool) return new ColumnLayout(f.getName(), ColumnLayout.Kind.BOOL, null, 1);
        if (t instanceof ArrowType.Utf8 || t instanceof ArrowType.Binary) return new ColumnLayout(f.getName(), ColumnLayout.Kind.VARIABLE, null, 1);
        Columns.DType d = Columns.DType.of(t);
        if (d != null) return new ColumnLayout(f.getName(), ColumnLayout.Kind.FIXED, d, 1);
        if (t instanceof ArrowType.FixedSizeList list && f.getChildren().size() == 1) {
            Columns.DType e = Columns.DType.of(f.getChildren().getFirst().getType());
            if (e != null) return new ColumnLayout(f.getName(), ColumnLayout.Kind.TENSOR, e, list.getListSize());
        }
        throw new IllegalArgumentException("column '" + f.getName() + "' has type " + t + (f.getChildren().isEmpty() ? "" : " of " + f.getChildren())
                + ", which ringloader cannot build batches of. Use integers, float32/64, bool, utf8, binary,"
                + " or a fixed-size tensor of a numeric type (see io.ringloader.data.Columns).");
    }
}
