package io.ringloader.batch;

import io.ringloader.data.Columns;
import io.ringloader.data.Padding;

/**
 * How one column of a batch is laid out: which Arrow buffers it has and how wide a value is. Derived from
 * the Arrow schema in the trainer ({@link SchemaLayout}) and shipped to the workers, which so never build
 * an Arrow {@code Schema} (whose class initialisation alone costs a third of a second of a worker's
 * start-up).
 *
 * @param name    the field name
 * @param kind    the buffer layout
 * @param dtype   the element type of fixed, tensor and sequence columns, null otherwise
 * @param count   elements per sample of a tensor (1 for a scalar); elements per step of a sequence
 * @param role    who writes it: the sample, or the worker from another column (a padded sequence's lengths)
 * @param source  for a derived column, the position of the column it is derived from; -1 otherwise
 * @param padding for a sequence column the loader pads, how; null otherwise
 */
public record ColumnLayout(String name, Kind kind, Columns.DType dtype, int count, Role role, int source, Padding padding) {

    /** Arrow buffer layouts ringloader writes. */
    public enum Kind {
        /** validity + values: Int, FloatingPoint. */
        FIXED,
        /** validity + bit-packed values: Bool. */
        BOOL,
        /** validity + int32 offsets + bytes: Utf8, Binary. */
        VARIABLE,
        /** FixedSizeList of a numeric type: list validity, then the child's validity + values. */
        TENSOR,
        /**
         * List of a numeric type, or of a FixedSizeList of one ({@code count} &gt; 1): list validity + int32
         * offsets (in steps), [the steps' validity], the elements' validity + values.
         */
        SEQUENCE
    }

    /** Who writes a column. */
    public enum Role {
        /** The dataset, for each sample. */
        SAMPLE,
        /** The worker, at the end of the batch: each sample's length in the padded sequence {@code source}. */
        LENGTH,
        /** The worker: 1 where the padded sequence {@code source} has a value, 0 where padding is. */
        MASK,
        /** The worker, per value of the packed sequence {@code source}: the row of its sample, -1 for padding. */
        DOCUMENT,
        /** The worker, per value of the packed sequence {@code source}: its position in its sample. */
        POSITION
    }

    /** A column the sample writes. */
    public ColumnLayout(String name, Kind kind, Columns.DType dtype, int count) {
        this(name, kind, dtype, count, Role.SAMPLE, -1, null);
    }

    /** Bytes per element of fixed, tensor and sequence columns, 0 otherwise. */
    public int width() {
        return dtype == null ? 0 : dtype.width();
    }

    /** Bytes of one sample's value: a tensor's slot, or a fixed value; of one step of a sequence. */
    public long slotBytes() {
        return (long) width() * count;
    }

    /** A sequence of fixed-shape steps ({@code List<FixedSizeList>}), which has one Arrow level more. */
    public boolean hasSteps() {
        return kind == Kind.SEQUENCE && count > 1;
    }

    /** Written by the sample (not derived by the worker from another column). */
    public boolean isSampleColumn() {
        return role == Role.SAMPLE;
    }
}
