package io.ringloader.sampler;

import io.ringloader.data.WorkerContext;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
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
        checkRank(rank, worldSize);
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
        return shuffleAndShare(out, seed, epoch, rank, worldSize);
    }

    @Override
    public int maxBatchSize(int[] lengths) {
        int shortest = Integer.MAX_VALUE;
        for (int l : lengths) shortest = Math.min(shortest, l);
        long most = lengths.length;
        if (shortest > 0) most = Math.min(most, maxTokens / shortest); // empty samples cost no tokens
        if (maxSamples > 0) most = Math.min(most, maxSamples);
        return (int) Math.max(1, most);
    }

    /**
     * The batches in an order drawn from (seed, epoch); with {@code worldSize} &gt; 1, this rank's share:
     * every worldSize-th batch from {@code rank}, the remainder left out so that every rank takes as many.
     */
    static List<long[]> shuffleAndShare(List<long[]> batches, long seed, int epoch, int rank, int worldSize) {
        Collections.shuffle(batches, new java.util.Random(WorkerContext.random(seed, epoch, -3).nextLong()));
        if (worldSize == 1) return batches;
        int each = batches.size() / worldSize;
        List<long[]> mine = new ArrayList<>(each);
        for (int k = 0; k < each; k++) mine.add(batches.get(k * worldSize + rank));
        return mine;
    }

    static void checkRank(int rank, int worldSize) {
        if (worldSize < 1 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("rank must be in [0, worldSize) and worldSize at least 1, got rank " + rank + " of " + worldSize);
        }
    }
}
