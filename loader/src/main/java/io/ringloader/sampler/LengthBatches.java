package io.ringloader.sampler;

import io.ringloader.data.WorkerContext;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** What the length-aware batch samplers share: the order of their batches, a rank's share of them, their most samples. */
final class LengthBatches {
    private LengthBatches() {}

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

    /** The most samples of these lengths a batch of {@code tokens} tokens holds (empty samples take none), at most {@code cap} (0: none). */
    static int mostSamples(int[] lengths, int tokens, int cap) {
        int shortest = Integer.MAX_VALUE;
        for (int l : lengths) shortest = Math.min(shortest, l);
        long most = lengths.length;
        if (shortest > 0) most = Math.min(most, tokens / shortest);
        if (cap > 0) most = Math.min(most, cap);
        return (int) Math.max(1, most);
    }
}
