package io.ringloader.sampler;

import io.ringloader.data.WorkerContext;

import java.util.SplittableRandom;

/** Every sample once, in a permutation drawn from (seed, epoch): a new order each epoch, the same on every run. */
public record RandomSampler() implements Sampler {
    @Override
    public long[] indices(long datasetSize, long seed, int epoch) {
        long[] out = new SequentialSampler().indices(datasetSize, seed, epoch);
        shuffle(out, WorkerContext.random(seed, epoch, -1));
        return out;
    }

    /** Fisher-Yates. */
    static void shuffle(long[] a, SplittableRandom random) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            long t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
