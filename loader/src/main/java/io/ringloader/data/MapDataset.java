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

    /**
     * The length of sample {@code index} (its tokens, frames, points), for batch samplers that group
     * samples by length ({@code BatchSampler.bucketByLength}, {@code BatchSampler.maxTokens}); -1 (the
     * default) when the dataset cannot tell without reading the sample. Called in the trainer, on the
     * dataset as it was given to the loader (not opened), through {@link #lengths}.
     */
    default int length(long index) {
        return -1;
    }

    /**
     * Every sample's length, read once when a loader with a length-aware batch sampler is built. The
     * default asks {@link #length} for each; a dataset that keeps its lengths in a column (or an index
     * file) can read them in one go.
     */
    default int[] lengths() {
        long size = size();
        if (size > Integer.MAX_VALUE - 8) throw new IllegalStateException("lengths of more than 2^31 samples do not fit an array");
        int[] out = new int[(int) size];
        for (int i = 0; i < out.length; i++) {
            out[i] = length(i);
            if (out[i] < 0) {
                throw new IllegalStateException(getClass().getSimpleName() + ".length(" + i + ") is " + out[i] + ": a length-aware batch sampler"
                        + " needs every sample's length from the dataset without reading it. Implement MapDataset.length(index) (or"
                        + " lengths()), or use a batch sampler that does not need lengths");
            }
        }
        return out;
    }
}
