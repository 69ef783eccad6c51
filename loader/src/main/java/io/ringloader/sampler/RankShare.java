package io.ringloader.sampler;

/**
 * One trainer's share of another sampler's order when {@code worldSize} trainers read the same dataset
 * ({@link Sampler#distributed(int, int)}): every rank computes the same order from (seed, epoch), padded
 * by wrapping around to a multiple of {@code worldSize} (or cut, with {@code dropLast}); rank {@code r}
 * takes positions {@code r, r + worldSize, ...}, as PyTorch's {@code DistributedSampler} does.
 */
public record RankShare(Sampler sampler, int rank, int worldSize, boolean dropLast) implements Sampler {
    public RankShare {
        if (sampler == null) throw new IllegalArgumentException("RankShare: the sampler is null");
        check(rank, worldSize);
    }

    @Override
    public long[] indices(long datasetSize, long seed, int epoch) {
        return share(sampler.indices(datasetSize, seed, epoch), rank, worldSize, dropLast);
    }

    /** Rank {@code rank}'s positions of {@code order}: the same number for every rank. */
    static long[] share(long[] order, int rank, int worldSize, boolean dropLast) {
        int n = order.length;
        int perRank = dropLast ? n / worldSize : (n + worldSize - 1) / worldSize;
        long[] mine = new long[perRank];
        for (int i = 0; i < perRank; i++) mine[i] = order[(rank + i * worldSize) % Math.max(1, n)];
        return mine;
    }

    static void check(int rank, int worldSize) {
        if (worldSize < 1) throw new IllegalArgumentException("worldSize must be at least 1, got " + worldSize);
        if (rank < 0 || rank >= worldSize) throw new IllegalArgumentException("rank must be in [0, " + worldSize + "), got " + rank);
    }
}
