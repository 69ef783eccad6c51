package io.ringloader.data;

import java.io.Serializable;

/**
 * How the workers turn a sequence column ({@link Columns#sequence}) into a dense array per batch, as a
 * PyTorch {@code collate_fn} with {@code pad_sequence} does, but in the worker, into shared memory:
 * {@code DataLoader.Builder.pad("tokens", Padding.toLongest())}.
 *
 * <p>The padded column keeps its name and its Arrow type ({@code List}), with every row of a batch the
 * same length: its values are one {@code [batch, length, step...]} array, which DJL takes as an NDArray
 * without a copy. Beside it the worker writes {@code <name>_length} (int32: each sample's length,
 * after any cut) and, with {@link #withMask}, {@code <name>_mask} (int8: 1 for a value, 0 for padding,
 * {@code [batch, length]}).
 *
 * @param length   0 to pad each batch to its longest sample; otherwise every batch's length
 * @param value    the pad value, converted to the column's element type
 * @param truncates with a fixed length: cut longer samples to it (counted in {@code stats()}), instead of
 *                 failing the batch with an error naming the sample
 * @param mask     also write the {@code <name>_mask} column
 */
public record Padding(int length, double value, boolean truncates, boolean mask) implements Serializable {

    /** Suffix of the column of each sample's length. */
    public static final String LENGTH_SUFFIX = "_length";
    /** Suffix of the mask column. */
    public static final String MASK_SUFFIX = "_mask";

    public Padding {
        if (length < 0) throw new IllegalArgumentException("Padding.toLength: the length must be positive, got " + length);
        if (truncates && length == 0) throw new IllegalArgumentException("Padding.truncate needs a fixed length (Padding.toLength(n))");
    }

    /** Each batch padded to its longest sample, with zeros. */
    public static Padding toLongest() {
        return new Padding(0, 0, false, false);
    }

    /** Every batch padded to {@code length}; a longer sample fails its batch unless {@link #truncate}. */
    public static Padding toLength(int length) {
        if (length <= 0) throw new IllegalArgumentException("Padding.toLength: the length must be positive, got " + length);
        return new Padding(length, 0, false, false);
    }

    /** Pads with {@code value} instead of 0 (a tokenizer's pad id, say). */
    public Padding value(double value) {
        return new Padding(length, value, truncates, mask);
    }

    /** Cuts samples longer than the fixed length to it; {@code stats()} counts them. */
    public Padding truncate() {
        return new Padding(length, value, true, mask);
    }

    /** Also writes {@code <name>_mask}: 1 where a value is, 0 where padding is. */
    public Padding withMask() {
        return new Padding(length, value, truncates, true);
    }
}
