package io.ringloader.sampler;

/** Every sample once, in index order. */
public record SequentialSampler() implements Sampler {
    @Override
    public long[] indices(long datasetSize, long seed, int epoch) {
        long[] out = new long[Math.toIntExact(datasetSize)];
        for (int i = 0; i < out.length; i++) out[i] = i;
        return out;
    }
}
