package io.ringloader.data;

/**
 * A dataset of {@link #size()} samples, read by index. {@link #read} writes sample {@code index} straight
 * into the batch being built (in shared memory), through the {@link SampleWriter}: there is no
 * per-sample object for the loader to copy.
 *
 * <pre>{@code
 * record Squares(int n) implements MapDataset {
 *     public Schema sampleSchema() { return Columns.schema(Columns.float32("x"), Columns.int64("label")); }
 *     public long size() { return n; }
 *     public void read(long i, SampleWriter out) { out.setFloat(0, i * i); out.setLong(1, i % 10); }
 * }
 * }</pre>
 */
public non-sealed interface MapDataset extends Dataset {
    /** The number of samples; indices run from 0 to {@code size() - 1}. */
    long size();

    /**
     * Writes sample {@code index} into {@code out}: every column once (or {@link SampleWriter#setNull}).
     * Random numbers drawn from {@link SampleWriter#random()} are the same whatever worker reads the
     * sample, so results do not depend on the number of workers.
     */
    void read(long index, SampleWriter out) throws Exception;

    /**
     * Where sample {@code index} comes from, in the words of its source ("line 300 of train.csv", a file,
     * a key), for the loader's error messages about it, such as a sample too large for its ring; null
     * (the default) when the index says it all. Called in the worker, after {@link #open}.
     */
    default String describe(long index) {
        return null;
    }
}
