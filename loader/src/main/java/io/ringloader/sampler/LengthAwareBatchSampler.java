package io.ringloader.sampler;

import java.util.List;

/**
 * A batch sampler that groups samples by their lengths, which the loader reads once from the dataset
 * ({@code MapDataset.lengths()}) without reading the samples. Like every batch sampler, its batches are a
 * function of the lengths, the seed and the epoch alone.
 */
public interface LengthAwareBatchSampler extends BatchSampler {

    /** The batches of epoch {@code epoch}, given every sample's length. */
    List<long[]> batches(int[] lengths, long seed, int epoch);

    /** The most samples a batch of these lengths can hold: the loader sizes its request rings by it. */
    int maxBatchSize(int[] lengths);

    /** A length-aware sampler cannot make batches without the lengths. */
    @Override
    default List<long[]> batches(long datasetSize, long seed, int epoch) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " needs the samples' lengths: batches(lengths, seed, epoch)");
    }
}
