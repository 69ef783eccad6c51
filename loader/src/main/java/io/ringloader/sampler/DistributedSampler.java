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
        if (worldSize < 1) throw new IllegalArgumentException("worldSize must be at least 1, got " + worldSize);
        if (rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank must be in [0, " + worldSize + "), got " + rank);
        }
    }

    @Override
    public long[] indices(long datasetSize, long seed, int epoch) {
        long[] order = new SequentialSampler().indices(datasetSize, seed, epoch);
        if (shuffle) RandomSampler.shuffle(order, WorkerContext.random(seed, epoch, -1));
        int n = order.length;
        int perRank = dropLast ? n / worldSize : (n + worldSize - 1) / worldSize;
        long[] mine = new long[perRank];
        for (int i = 0; i < perRank; i++) mine[i] = order[(rank + i * worldSize) % Math.max(1, n)];
        return mine;
    }
}
