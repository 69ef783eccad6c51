package io.ringloader.batch;

import io.ringloader.data.Columns;

/**
 * How one column of a sample schema is laid out in a batch: which Arrow buffers it has and how wide a
 * value is. Derived from the Arrow schema in the trainer ({@link SchemaLayout}) and shipped to the
 * workers, which so never build an Arrow {@code Schema} (whose class initialisation alone costs a
 * third of a second of a worker's start-up).
 *
 * @param name   the field name
 * @param kind   the buffer layout
 * @param dtype  the element type of fixed and tensor columns, null otherwise
 * @param count  elements per sample: 1, or a tensor's element count
 */
public record ColumnLayout(String name, Kind kind, Columns.DType dtype, int count) {

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

    /** Bytes per element of fixed and tensor columns, 0 otherwise. */
    public int width() {
        return dtype == null ? 0 : dtype.width();
    }

    /** Bytes of one sample's value: a tensor's slot, or a fixed value. */
    public long slotBytes() {
        return (long) width() * count;
    }

}
