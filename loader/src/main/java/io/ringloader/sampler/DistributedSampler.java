package io.ringloader.sampler;

import io.ringloader.data.WorkerContext;

/**
 * One trainer's share when {@code worldSize} trainers read the same dataset, as PyTorch's
 * {@code DistributedSampler} does it: every rank draws the same (shuffled) order, which is padded by
 * wrapping around (or, with {@code dropLast}, cut) to a multiple of {@code worldSize}; rank {@code r}
 * takes positions {@code r, r + worldSize, r + 2 * worldSize, ...}. Every rank gets the same number of
 * samples, and together they cover the dataset.
 */
public record DistributedSampler(int rank, int worldSize, boolean shuffle, boolean dropLast) implements Sampler {
    public DistributedSampler {
        RankShare.check(rank, worldSize);
    }

    @Override
    public long[] indices(long datasetSize, long seed, int epoch) {
        long[] order = new SequentialSampler().indices(datasetSize, seed, epoch);
        if (shuffle) RandomSampler.shuffle(order, WorkerContext.random(seed, epoch, -1));
        return RankShare.share(order, rank, worldSize, dropLast);
    }
}
