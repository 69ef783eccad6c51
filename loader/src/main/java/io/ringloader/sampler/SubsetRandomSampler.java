package io.ringloader.sampler;

import io.ringloader.data.WorkerContext;

import java.util.Arrays;

/**
 * The given sample indices in a new random order every epoch, from (seed, epoch), as PyTorch's
 * {@code SubsetRandomSampler}: a validation split of a dataset without a dataset of its own, say.
 *
 * @param subset the indices; each must be a sample of the dataset (a repeat is drawn as often as it appears)
 */
public record SubsetRandomSampler(long[] subset) implements Sampler {

    public SubsetRandomSampler {
        if (subset == null || subset.length == 0) throw new IllegalArgumentException("SubsetRandomSampler: the subset of indices is empty");
        subset = subset.clone();
        for (int k = 0; k < subset.length; k++) {
            if (subset[k] < 0) throw new IllegalArgumentException("SubsetRandomSampler: subset[" + k + "] is " + subset[k] + "; indices are 0 or more");
        }
    }

    @Override
    public long[] indices(long datasetSize, long seed, int epoch) {
        for (int k = 0; k < subset.length; k++) {
            if (subset[k] >= datasetSize) {
                throw new IllegalArgumentException("SubsetRandomSampler: subset[" + k + "] is " + subset[k] + ", but the dataset has "
                        + datasetSize + " samples (0 to " + (datasetSize - 1) + ")");
            }
        }
        long[] out = subset.clone();
        RandomSampler.shuffle(out, WorkerContext.random(seed, epoch, -5));
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SubsetRandomSampler s && Arrays.equals(subset, s.subset);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(subset);
    }

    /** Names the subset by size and content digest: what a loader's state fingerprints. */
    @Override
    public String toString() {
        return "SubsetRandomSampler[subset=" + subset.length + " indices, digest " + Integers.digest(subset) + "]";
    }
}
