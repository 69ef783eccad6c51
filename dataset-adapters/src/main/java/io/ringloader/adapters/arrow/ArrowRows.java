package io.ringloader.adapters.arrow;

import io.ringloader.batch.SchemaLayout;
import io.ringloader.data.Columns;
import io.ringloader.data.SampleWriter;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.BaseVariableWidthVector;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.Float2Vector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.SmallIntVector;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.UInt1Vector;
import org.apache.arrow.vector.UInt2Vector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.types.pojo.Schema;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/** Copies rows of one Arrow record batch into samples, column by column, straight from the vectors' memory. */
public final class ArrowRows implements AutoCloseable {
    private final VectorSchemaRoot root;
    private final FieldVector[] vectors;
    private final Path file;
    private final int batch;
    /** Which columns hold bfloat16 bits (uint16 vectors whose field says so). */
    private final boolean[] bfloat16;

    public ArrowRows(VectorSchemaRoot root, String[] columns, Path file, int batch) {
        this.root = root;
        this.vectors = new FieldVector[columns.length];
        this.bfloat16 = new boolean[columns.length];
        for (int c = 0; c < columns.length; c++) {
            vectors[c] = root.getVector(columns[c]);
            bfloat16[c] = Columns.DType.of(vectors[c].getField()) == Columns.DType.BFLOAT16;
        }
        this.file = file;
        this.batch = batch;
    }

    /** The field called {@code name}, or null (Arrow's {@code Schema.findField} throws instead). */
    public static org.apache.arrow.vector.types.pojo.Field field(Schema schema, String name) {
        for (var f : schema.getFields()) if (f.getName().equals(name)) return f;
        return null;
    }

    /** Columns chosen from a source's schema. */
    public record Selection(String[] names, Schema schema) {}

    /**
     * The columns {@code wanted} of {@code full} in that order (none: all of them), checked: a missing
     * column, or one ringloader cannot build batches of, is an error naming {@code source}.
     */
    public static Selection select(Schema full, java.util.List<String> wanted, String source) {
        String[] names = wanted.isEmpty() ? full.getFields().stream().map(org.apache.arrow.vector.types.pojo.Field::getName).toArray(String[]::new)
                : wanted.toArray(String[]::new);
        java.util.List<org.apache.arrow.vector.types.pojo.Field> fields = new java.util.ArrayList<>();
        for (String c : names) {
            var f = field(full, c);
            if (f == null) throw new IllegalArgumentException(source + " has no column '" + c + "'");
            fields.add(f);
        }
        Schema selected = new Schema(fields);
        check(selected);
        return new Selection(names, selected);
    }

    /** Fails on a schema whose columns ringloader cannot build batches of. */
    public static void check(Schema schema) {
        SchemaLayout.of(schema);
    }

    /** The rows of the record batch. */
    public int rowCount() {
        return root.getRowCount();
    }

    public void write(int row, SampleWriter out) {
        for (int c = 0; c < vectors.length; c++) {
            FieldVector v = vectors[c];
            if (v.isNull(row)) {
                out.setNull(c);
                continue;
            }
            switch (v) {
                case BigIntVector x -> out.setLong(c, x.get(row));
                case IntVector x -> out.setInt(c, x.get(row));
                case SmallIntVector x -> out.setShort(c, x.get(row));
                case TinyIntVector x -> out.setByte(c, x.get(row));
                case UInt1Vector x -> out.setByte(c, x.get(row));
                case Float4Vector x -> out.setFloat(c, x.get(row));
                case Float8Vector x -> out.setDouble(c, x.get(row));
                case BitVector x -> out.setBoolean(c, x.get(row) != 0);
                case BaseVariableWidthVector x -> {
                    long start = x.getStartOffset(row), end = x.getEndOffset(row);
                    out.setBytes(c, MemorySegment.ofAddress(x.getDataBuffer().memoryAddress() + start).reinterpret(end - start));
                }
                case Float2Vector x -> out.setFloat(c, x.getValueAsFloat(row));
                case UInt2Vector x -> {
                    if (bfloat16[c]) out.setFloat(c, Columns.fromBFloat16((short) x.get(row)));
                    else out.setShort(c, (short) x.get(row));
                }
                case ListVector x -> {
                    // A sequence: its steps' values are contiguous in the child (or the child's child, for
                    // steps of a fixed shape), copied in one go into the sample's segment.
                    int start = x.getElementStartIndex(row), steps = x.getElementEndIndex(row) - start;
                    FieldVector child = x.getDataVector();
                    int perStep = child instanceof FixedSizeListVector f ? f.getListSize() : 1;
                    BaseFixedWidthVector values = (BaseFixedWidthVector) (child instanceof FixedSizeListVector f ? f.getDataVector() : child);
                    if (child.getNullCount() > 0 || values.getNullCount() > 0) {
                        for (int k = start; k < start + steps; k++) {
                            for (int e = 0; e < perStep; e++) {
                                if (child.isNull(k) || values.isNull(k * perStep + e)) {
                                    throw new IllegalStateException(file + ", record batch " + batch + ", row " + row + ": column '" + v.getName()
                                            + "' has a null inside its list (element " + (k - start) + "): a sequence holds numbers only;"
                                            + " fill the nulls in the source (a pad id, say)");
                                }
                            }
                        }
                    }
                    long stepBytes = (long) perStep * values.getTypeWidth();
                    MemorySegment.copy(MemorySegment.ofAddress(values.getDataBuffer().memoryAddress() + start * stepBytes).reinterpret(steps * stepBytes), 0,
                            out.sequence(c, steps), 0, steps * stepBytes);
                }
                case FixedSizeListVector x -> {
                    BaseFixedWidthVector values = (BaseFixedWidthVector) x.getDataVector();
                    long bytes = (long) x.getListSize() * values.getTypeWidth();
                    MemorySegment.copy(MemorySegment.ofAddress(values.getDataBuffer().memoryAddress() + row * bytes).reinterpret(bytes), 0,
                            out.tensor(c), 0, bytes);
                }
                default -> throw new IllegalStateException(file + ", record batch " + batch + ": column '" + v.getName()
                        + "' is a " + v.getClass().getSimpleName() + ", which ringloader cannot copy");
            }
        }
    }

    @Override
    public void close() {
        root.close();
    }
}
