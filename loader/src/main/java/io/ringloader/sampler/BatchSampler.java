package io.ringloader.sampler;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The batches of one epoch: which sample indices go together. The default groups a {@link Sampler}'s
 * order into batches of {@code batchSize}; supply your own for, say, batches of similar lengths.
 */
@FunctionalInterface
public interface BatchSampler extends Serializable {

    List<long[]> batches(long datasetSize, long seed, int epoch);

    /**
     * Batches of {@code batchSize} samples of similar length, from pools of 50 batches sorted by length
     * ({@link LengthBuckets}); the lengths come from {@code MapDataset.length}.
     */
    static LengthAwareBatchSampler bucketByLength(int batchSize) {
        return new LengthBuckets(batchSize, 50, false, 0, 1);
    }

    /**
     * Batches of as many samples as fit {@code maxTokens} padded tokens ({@link TokenBudget}), as
     * fairseq's {@code max_tokens}; the lengths come from {@code MapDataset.length}.
     */
    static LengthAwareBatchSampler maxTokens(int maxTokens) {
        return new TokenBudget(maxTokens, 0, 0, 1);
    }

    /**
     * Batches that fill {@code rows} packed rows of {@code rowLength} tokens all but a few
     * ({@link PackedBatches}), for a loader that packs them: {@code pad("tokens", Padding.pack(rows, rowLength))}.
     */
    static LengthAwareBatchSampler packed(int rows, int rowLength) {
        return new PackedBatches(rows, rowLength, 0, 1);
    }

    /** Consecutive runs of {@code batchSize} samples of {@code sampler}'s order; a short last batch unless {@code dropLast}. */
    static BatchSampler of(Sampler sampler, int batchSize, boolean dropLast) {
        return new SamplerBatches(sampler, batchSize, dropLast);
    }

    /**
     * {@link #of}: a record, so that its type and parameters are what a loader's state fingerprints
     * ({@code SamplerBatches[sampler=RandomSampler[], batchSize=256, dropLast=false]}).
     */
    record SamplerBatches(Sampler sampler, int batchSize, boolean dropLast) implements BatchSampler {
        public SamplerBatches {
            if (batchSize < 1) throw new IllegalArgumentException("batchSize must be at least 1, got " + batchSize);
        }

        @Override
        public List<long[]> batches(long size, long seed, int epoch) {
            long[] order = sampler.indices(size, seed, epoch);
            List<long[]> out = new ArrayList<>(order.length / batchSize + 1);
            for (int from = 0; from < order.length; from += batchSize) {
                int to = Math.min(order.length, from + batchSize);
                if (to - from < batchSize && dropLast) break;
                out.add(Arrays.copyOfRange(order, from, to));
            }
            return out;
        }
    }
}
