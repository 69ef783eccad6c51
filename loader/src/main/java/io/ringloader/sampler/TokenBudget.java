package io.ringloader.sampler;

import io.ringloader.data.WorkerContext;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Batches under a budget of tokens instead of a fixed number of samples, as fairseq's {@code max_tokens}:
 * samples sorted by length (shuffled first, so that equal lengths come in a new order each epoch) are
 * taken greedily while a batch padded to its longest sample, {@code samples x longest}, stays within
 * {@code maxTokens} (and within {@code maxSamples}); then the batches are shuffled. Short samples make
 * large batches, long ones small: every batch costs about the same.
 *
 * @param maxTokens  the most padded tokens a batch may hold
 * @param maxSamples the most samples a batch may hold (0: no limit but the budget)
 * @param rank       this process's rank, with {@code worldSize}: it takes every worldSize-th batch
 * @param worldSize  processes sharing the epoch (1: just this one); every rank gets the same number of batches
 */
public record TokenBudget(int maxTokens, int maxSamples, int rank, int worldSize) implements LengthAwareBatchSampler {

    public TokenBudget {
        if (maxTokens < 1) throw new IllegalArgumentException("TokenBudget: maxTokens must be at least 1, got " + maxTokens);
        if (maxSamples < 0) throw new IllegalArgumentException("TokenBudget: maxSamples must be 0 (no limit) or more, got " + maxSamples);
        LengthBatches.checkRank(rank, worldSize);
    }

    @Override
    public List<long[]> batches(int[] lengths, long seed, int epoch) {
        long[] order = new SequentialSampler().indices(lengths.length, seed, epoch);
        RandomSampler.shuffle(order, WorkerContext.random(seed, epoch, -2));
        Long[] sorted = Arrays.stream(order).boxed().toArray(Long[]::new);
        Arrays.sort(sorted, Comparator.comparingInt(i -> lengths[(int) (long) i]));
        List<long[]> out = new ArrayList<>();
        int cap = maxSamples == 0 ? Integer.MAX_VALUE : maxSamples;
        long[] batch = new long[Math.min(cap, Math.max(1, lengths.length))];
        int n = 0, longest = 0;
        for (Long boxed : sorted) {
            long i = boxed;
            int length = lengths[(int) i];
            if (length > maxTokens) {
                throw new IllegalArgumentException("TokenBudget: sample " + i + " is " + length + " tokens long, more than maxTokens ("
                        + maxTokens + ") allows in a batch of its own: raise maxTokens, or cut such samples (Padding.toLength(n).truncate())");
            }
            int wider = Math.max(longest, length);
            if (n > 0 && ((long) (n + 1) * wider > maxTokens || n == cap)) {
                out.add(Arrays.copyOf(batch, n));
                n = 0;
                wider = length;
            }
            if (n == batch.length) batch = Arrays.copyOf(batch, Math.min(cap, 2 * n));
            batch[n++] = i;
            longest = wider;
        }
        if (n > 0) out.add(Arrays.copyOf(batch, n));
        return LengthBatches.shuffleAndShare(out, seed, epoch, rank, worldSize);
    }

    @Override
    public int maxBatchSize(int[] lengths) {
        return LengthBatches.mostSamples(lengths, maxTokens, maxSamples);
    }
}
