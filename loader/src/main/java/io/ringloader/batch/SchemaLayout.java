package io.ringloader.batch;

import io.ringloader.data.Columns;
import io.ringloader.data.Padding;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The trainer's side of {@link ColumnLayout}: reading layouts off an Arrow schema. */
public final class SchemaLayout {
    private SchemaLayout() {}

    /** The layouts of every column of {@code schema}, or an error naming a column ringloader cannot build. */
    public static List<ColumnLayout> of(Schema schema) {
        return of(schema, Map.of());
    }

    /**
     * The layouts of a batch of {@code schema}'s samples with the sequence columns of {@code padding}
     * padded or packed: the sample's columns, then the columns the worker derives (each one's lengths, a
     * packed one's documents and positions, and its mask if asked for), in the order of {@link #batchSchema}.
     */
    public static List<ColumnLayout> of(Schema schema, Map<String, Padding> padding) {
        List<ColumnLayout> out = new ArrayList<>();
        for (Field f : schema.getFields()) {
            ColumnLayout c = of(f);
            Padding p = padding.get(f.getName());
            if (p != null) {
                if (c.kind() != ColumnLayout.Kind.SEQUENCE) {
                    throw new IllegalArgumentException("pad(\"" + f.getName() + "\"): column '" + f.getName() + "' is " + f.getType()
                            + ", not a sequence column (Columns.sequence); only sequences can be padded");
                }
                c = new ColumnLayout(c.name(), c.kind(), c.dtype(), c.count(), ColumnLayout.Role.SAMPLE, -1, p);
            }
            out.add(c);
        }
        if (out.isEmpty()) throw new IllegalArgumentException("the sample schema has no columns");
        for (String name : padding.keySet()) {
            if (schema.getFields().stream().noneMatch(f -> f.getName().equals(name))) {
                throw new IllegalArgumentException("pad(\"" + name + "\"): the sample schema has no column '" + name + "'; its columns are "
                        + schema.getFields().stream().map(Field::getName).toList());
            }
        }
        int sampleColumns = out.size();
        for (int i = 0; i < sampleColumns; i++) {
            ColumnLayout c = out.get(i);
            if (c.padding() == null) continue;
            out.add(new ColumnLayout(c.name() + Padding.LENGTH_SUFFIX, ColumnLayout.Kind.FIXED, Columns.DType.INT32, 1,
                    ColumnLayout.Role.LENGTH, i, null));
            if (c.padding().packs()) {
                out.add(new ColumnLayout(c.name() + Padding.DOCUMENT_SUFFIX, ColumnLayout.Kind.SEQUENCE, Columns.DType.INT32, 1,
                        ColumnLayout.Role.DOCUMENT, i, c.padding()));
                out.add(new ColumnLayout(c.name() + Padding.POSITION_SUFFIX, ColumnLayout.Kind.SEQUENCE, Columns.DType.INT32, 1,
                        ColumnLayout.Role.POSITION, i, c.padding()));
            }
            if (c.padding().mask()) {
                out.add(new ColumnLayout(c.name() + Padding.MASK_SUFFIX, ColumnLayout.Kind.SEQUENCE, Columns.DType.INT8, 1,
                        ColumnLayout.Role.MASK, i, c.padding()));
            }
        }
        Map<String, Integer> seen = new HashMap<>();
        for (ColumnLayout c : out) {
            if (seen.put(c.name(), 1) != null) {
                throw new IllegalArgumentException("column '" + c.name() + "' appears twice in a batch: the sample schema has a column of"
                        + " the name the padding of a sequence column gives its lengths, mask, documents or positions; rename that column");
            }
        }
        return List.copyOf(out);
    }

    /**
     * The Arrow schema of a batch: the sample schema, with the padded sequence columns marked
     * ({@link Columns#PADDED}, or {@link Columns#PACKED} with the row length), then each one's
     * {@code <name>_length} (int32), a packed one's {@code <name>_document} and {@code <name>_position}
     * (int32 sequences), and {@code <name>_mask} (a sequence of int8) where asked for.
     */
    public static Schema batchSchema(Schema sampleSchema, Map<String, Padding> padding) {
        if (padding.isEmpty()) return sampleSchema;
        List<Field> fields = new ArrayList<>();
        List<Field> derived = new ArrayList<>();
        for (Field f : sampleSchema.getFields()) {
            Padding p = padding.get(f.getName());
            if (p == null) {
                fields.add(f);
                continue;
            }
            String key = p.packs() ? Columns.PACKED : Columns.PADDED, mark = p.packs() ? Integer.toString(p.length()) : "true";
            Map<String, String> meta = new LinkedHashMap<>(f.getMetadata() == null ? Map.of() : f.getMetadata());
            meta.put(key, mark);
            FieldType t = f.getFieldType();
            fields.add(new Field(f.getName(), new FieldType(t.isNullable(), t.getType(), t.getDictionary(), meta), f.getChildren()));
            derived.add(new Field(f.getName() + Padding.LENGTH_SUFFIX, FieldType.notNullable(Columns.DType.INT32.arrowType()), null));
            if (p.packs()) {
                derived.add(marked(Columns.sequence(f.getName() + Padding.DOCUMENT_SUFFIX, Columns.DType.INT32), key, mark));
                derived.add(marked(Columns.sequence(f.getName() + Padding.POSITION_SUFFIX, Columns.DType.INT32), key, mark));
            }
            if (p.mask()) derived.add(marked(Columns.sequence(f.getName() + Padding.MASK_SUFFIX, Columns.DType.INT8), key, mark));
        }
        fields.addAll(derived);
        return new Schema(fields, sampleSchema.getCustomMetadata());
    }

    /** A derived sequence column, not nullable, with {@code key} set in its metadata. */
    private static Field marked(Field sequence, String key, String value) {
        Map<String, String> meta = new LinkedHashMap<>(sequence.getMetadata());
        meta.put(key, value);
        return new Field(sequence.getName(), new FieldType(false, sequence.getType(), null, meta), sequence.getChildren());
    }

    static ColumnLayout of(Field f) {
        ArrowType t = f.getType();
        if (t instanceof ArrowType.Bool) return new ColumnLayout(f.getName(), ColumnLayout.Kind.BOOL, null, 1);
        if (t instanceof ArrowType.Utf8 || t instanceof ArrowType.Binary) return new ColumnLayout(f.getName(), ColumnLayout.Kind.VARIABLE, null, 1);
        Columns.DType d = Columns.DType.of(f);
        if (d != null) return new ColumnLayout(f.getName(), ColumnLayout.Kind.FIXED, d, 1);
        if (t instanceof ArrowType.FixedSizeList list && f.getChildren().size() == 1) {
            Columns.DType e = Columns.DType.of(f.getChildren().getFirst());
            if (e != null) return new ColumnLayout(f.getName(), ColumnLayout.Kind.TENSOR, e, list.getListSize());
        }
        if (t instanceof ArrowType.List && f.getChildren().size() == 1) {
            Field child = f.getChildren().getFirst();
            Columns.DType e = Columns.DType.of(child);
            if (e != null) return new ColumnLayout(f.getName(), ColumnLayout.Kind.SEQUENCE, e, 1);
            if (child.getType() instanceof ArrowType.FixedSizeList step && child.getChildren().size() == 1) {
                Columns.DType s = Columns.DType.of(child.getChildren().getFirst());
                if (s != null) return new ColumnLayout(f.getName(), ColumnLayout.Kind.SEQUENCE, s, step.getListSize());
            }
        }
        throw new IllegalArgumentException("column '" + f.getName() + "' has type " + t + (f.getChildren().isEmpty() ? "" : " of " + f.getChildren())
                + ", which ringloader cannot build batches of. Use integers, float16/bfloat16/float32/float64, bool, utf8, binary,"
                + " a fixed-size tensor of a numeric type, or a sequence (list) of numbers or of fixed-size tensors"
                + " (see io.ringloader.data.Columns).");
    }
}
