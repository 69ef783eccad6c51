package io.ringloader.sampler;

import io.ringloader.data.WorkerContext;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Batches of {@code batchSize} samples of similar length, so that padding each batch to its longest
 * wastes little: each epoch the samples are shuffled, cut into pools of {@code poolBatches} batches, each
 * pool sorted by length and cut into batches, and the batches shuffled (the "sortish" bucketing of
 * torchtext's BucketIterator and fairseq). A larger pool pads less and mixes less.
 *
 * @param batchSize   samples per batch
 * @param poolBatches batches per sorted pool (50 is a common choice)
 * @param dropLast    leave out a pool's short last batch
 * @param rank        this process's rank, with {@code worldSize}: it takes every worldSize-th batch
 * @param worldSize   processes sharing the epoch (1: just this one); every rank gets the same number of batches
 */
public record LengthBuckets(int batchSize, int poolBatches, boolean dropLast, int rank, int worldSize) implements LengthAwareBatchSampler {

    public LengthBuckets {
        if (batchSize < 1) throw new IllegalArgumentException("LengthBuckets: batchSize must be at least 1, got " + batchSize);
        if (poolBatches < 1) throw new IllegalArgumentException("LengthBuckets: poolBatches must be at least 1, got " + poolBatches);
        LengthBatches.checkRank(rank, worldSize);
    }

    @Override
    public List<long[]> batches(int[] lengths, long seed, int epoch) {
        long[] order = new SequentialSampler().indices(lengths.length, seed, epoch);
        RandomSampler.shuffle(order, WorkerContext.random(seed, epoch, -2));
        List<long[]> out = new ArrayList<>();
        int pool = (int) Math.min(Integer.MAX_VALUE, (long) batchSize * poolBatches);
        for (int from = 0; from < order.length; from += pool) {
            Long[] p = Arrays.stream(order, from, Math.min(order.length, from + pool)).boxed().toArray(Long[]::new);
            Arrays.sort(p, Comparator.comparingInt(i -> lengths[(int) (long) i])); // stable: ties keep the shuffled order
            for (int b = 0; b < p.length; b += batchSize) {
                int to = Math.min(p.length, b + batchSize);
                if (to - b < batchSize && dropLast) break;
                long[] batch = new long[to - b];
                for (int k = b; k < to; k++) batch[k - b] = p[k];
                out.add(batch);
            }
        }
        return LengthBatches.shuffleAndShare(out, seed, epoch, rank, worldSize);
    }

    @Override
    public int maxBatchSize(int[] lengths) {
        return batchSize;
    }
}
