package io.ringloader.data;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Writes one sample into the batch being built, in place, in shared memory. Columns are addressed by
 * position in {@link Dataset#sampleSchema()} (look names up once with {@link #column}). Every column must
 * be written once per sample, or set null; a column left unwritten is an error that names it.
 */
public interface SampleWriter {

    /** The index of the sample being written (for a streaming dataset: its position in the shard). */
    long index();

    /** This sample's random stream: see {@link WorkerContext#random(long)}. */
    SplittableRandom random();

    /** The position of column {@code name}, or an exception that lists the columns. */
    int column(String name);

    void setByte(int column, byte value);

    void setShort(int column, short value);

    void setInt(int column, int value);

    void setLong(int column, long value);

    void setFloat(int column, float value);

    void setDouble(int column, double value);

    void setBoolean(int column, boolean value);

    /** Marks the column null for this sample (not for tensor columns). */
    void setNull(int column);

    /**
     * The sample's slot of a tensor column: a view of the shared memory the trainer will read, to fill
     * in place (a decoder can write pixels straight into it). Little-endian, 64-byte aligned when the
     * tensor's size is a multiple of 64 bytes. Its size is the tensor's element count times the
     * element width.
     */
    MemorySegment tensor(int column);

    /**
     * Copies {@code values} into a float32 tensor column's slot, or makes them this sample's sequence of a
     * float32 sequence column ({@code values.length / step} steps).
     */
    void setFloats(int column, float[] values);

    /** {@link #setFloats} for int32 tensor and sequence columns (token ids). */
    void setInts(int column, int[] values);

    /** {@link #setFloats} for int64 tensor and sequence columns. */
    void setLongs(int column, long[] values);

    /**
     * This sample's segment of a sequence column, {@code length} steps long: a view of the shared memory
     * the trainer will read, to fill in place (a tokenizer can write its ids straight into it). Its size
     * is {@code length} times the step's element count times the element width; little-endian. Ask once
     * per sample, for the length the sample has; 0 is an empty sequence. A write outside it fails the
     * batch with an error naming the column, the sample and the sizes.
     */
    MemorySegment sequence(int column, int length);

    /** Appends the UTF-8 bytes of {@code value} to a utf8 column. */
    void setString(int column, String value);

    /** Appends {@code value} to a binary (or utf8) column. */
    void setBytes(int column, byte[] value);

    /** Appends the bytes of {@code value} to a binary (or utf8) column. */
    void setBytes(int column, MemorySegment value);
}
