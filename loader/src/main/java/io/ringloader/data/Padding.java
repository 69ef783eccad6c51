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
 * <p><b>Packing</b> ({@link #pack}), for pre-training: no sample is padded; the batch's samples, one after
 * the other, fill rows of {@code length} steps (a sample that does not fit the rest of a row goes on in
 * the next), and only the last row's tail is padding. The column stays a list of each sample's values,
 * whose value array is the {@code [rows, length, step...]} packing itself, in place: packing copies
 * nothing. Beside it the worker writes, per value of that array, {@code <name>_document} (int32: the
 * row in the batch of the sample the value belongs to, -1 for padding) and {@code <name>_position}
 * (int32: its position in its sample, 0 for padding), for block-diagonal attention and position ids;
 * {@code <name>_length} per sample, and with {@link #withMask} the {@code <name>_mask} of the array.
 * Batches of {@code BatchSampler.packed(rows, length)} fill their rows all but a few steps.
 *
 * @param length   0 to pad each batch to its longest sample; otherwise every batch's length; packed: the row length
 * @param value    the pad value, converted to the column's element type
 * @param truncates with a fixed length: cut longer samples to it (counted in {@code stats()}), instead of
 *                 failing the batch with an error naming the sample
 * @param mask     also write the {@code <name>_mask} column
 * @param packs    pack the samples into rows of {@code length} instead of padding each one
 * @param rows     packed: every batch's rows (0: as many as its samples fill)
 */
public record Padding(int length, double value, boolean truncates, boolean mask, boolean packs, int rows) implements Serializable {

    /** Suffix of the column of each sample's length. */
    public static final String LENGTH_SUFFIX = "_length";
    /** Suffix of the mask column. */
    public static final String MASK_SUFFIX = "_mask";
    /** Suffix of a packed column's document ids: per value, the row in the batch of its sample. */
    public static final String DOCUMENT_SUFFIX = "_document";
    /** Suffix of a packed column's positions: per value, its position in its sample. */
    public static final String POSITION_SUFFIX = "_position";

    public Padding {
        if (length < 0) throw new IllegalArgumentException("Padding.toLength: the length must be positive, got " + length);
        if (truncates && length == 0) throw new IllegalArgumentException("Padding.truncate needs a fixed length (Padding.toLength(n))");
        if (packs && length == 0) throw new IllegalArgumentException("Padding.pack: the row length must be positive, got 0");
        if (packs && truncates) throw new IllegalArgumentException("Padding.pack cuts nothing: a sample longer than a row goes on in the next; drop truncate()");
        if (rows < 0 || rows > 0 && !packs) throw new IllegalArgumentException("Padding: rows (" + rows + ") are a packing's, 0 or more");
        if ((long) rows * length > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Padding.pack(" + rows + ", " + length + "): more than 2^31 steps a batch");
        }
    }

    /** Pads each sample ({@link #packs} false). */
    public Padding(int length, double value, boolean truncates, boolean mask) {
        this(length, value, truncates, mask, false, 0);
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

    /**
     * Packs each batch's samples into as many rows of {@code rowLength} steps as they fill (the last one
     * padded), with {@code <name>_document} and {@code <name>_position} beside them.
     */
    public static Padding pack(int rowLength) {
        if (rowLength <= 0) throw new IllegalArgumentException("Padding.pack: the row length must be positive, got " + rowLength);
        return new Padding(rowLength, 0, false, false, true, 0);
    }

    /**
     * Packs each batch's samples into exactly {@code rows} rows of {@code rowLength} steps (rows they do
     * not fill are padding), for a model that wants one shape; a batch of more steps than the rows hold
     * fails naming its size. {@code BatchSampler.packed(rows, rowLength)} makes batches that fit.
     */
    public static Padding pack(int rows, int rowLength) {
        if (rows <= 0 || rowLength <= 0) {
            throw new IllegalArgumentException("Padding.pack(rows, rowLength): both must be positive, got " + rows + ", " + rowLength);
        }
        return new Padding(rowLength, 0, false, false, true, rows);
    }

    /** Pads with {@code value} instead of 0 (a tokenizer's pad id, say). */
    public Padding value(double value) {
        return new Padding(length, value, truncates, mask, packs, rows);
    }

    /** Cuts samples longer than the fixed length to it; {@code stats()} counts them. */
    public Padding truncate() {
        return new Padding(length, value, true, mask, packs, rows);
    }

    /** Also writes {@code <name>_mask}: 1 where a value is, 0 where padding is. */
    public Padding withMask() {
        return new Padding(length, value, truncates, true, packs, rows);
    }
}
