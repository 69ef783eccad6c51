package io.ringloader.sampler;

import java.io.Serializable;

/**
 * The order of a map-style dataset's samples in one epoch. Given the seed and the epoch, the order is
 * always the same: it does not depend on the number of workers or where they run.
 */
@FunctionalInterface
public interface Sampler extends Serializable {

    /** The sample indices of {@code epoch}, in the order they are to be read. */
    long[] indices(long datasetSize, long seed, int epoch);

    /** 0, 1, 2, ... every epoch. */
    static Sampler sequential() {
        return new SequentialSampler();
    }

    /** A fresh permutation every epoch, reproducible from (seed, epoch). */
    static Sampler shuffled() {
        return new RandomSampler();
    }

    /** This trainer's part of the data when {@code worldSize} trainers each read their own (PyTorch's DistributedSampler). */
    static Sampler distributed(int rank, int worldSize, boolean shuffle) {
        return new DistributedSampler(rank, worldSize, shuffle, false);
    }

    /**
     * This trainer's share of this sampler's order when {@code worldSize} trainers read the same dataset
     * ({@link RankShare}): {@code new WeightedRandomSampler(w, n, true).distributed(rank, worldSize)}.
     */
    default Sampler distributed(int rank, int worldSize) {
        return new RankShare(this, rank, worldSize, false);
    }

    /** Samples drawn in proportion to {@code weights} ({@link WeightedRandomSampler}), {@code numSamples} an epoch. */
    static Sampler weighted(double[] weights, long numSamples, boolean replacement) {
        return new WeightedRandomSampler(weights, numSamples, replacement);
    }

    /** The samples {@code indices} in a new random order every epoch ({@link SubsetRandomSampler}). */
    static Sampler subset(long... indices) {
        return new SubsetRandomSampler(indices);
    }
}
