package io.ringloader.sampler;

import io.ringloader.data.WorkerContext;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Samples drawn in proportion to their weights, as PyTorch's {@code WeightedRandomSampler}: {@code numSamples}
 * draws an epoch, with replacement (a sample may come several times, a light one never) or without (a
 * weighted random order of {@code numSamples} distinct samples: Efraimidis and Spirakis' keys
 * {@code log(u) / w}, largest first). The draws come from (seed, epoch) alone. One weight per sample of
 * the dataset; none negative, not all zero.
 *
 * @param weights     one per sample (need not sum to 1)
 * @param numSamples  draws an epoch
 * @param replacement whether a sample may be drawn more than once
 */
public record WeightedRandomSampler(double[] weights, long numSamples, boolean replacement) implements Sampler {

    public WeightedRandomSampler {
        if (weights == null || weights.length == 0) throw new IllegalArgumentException("WeightedRandomSampler: weights is empty: give one weight per sample");
        weights = weights.clone();
        long positive = 0;
        for (int i = 0; i < weights.length; i++) {
            double w = weights[i];
            if (!(w >= 0) || Double.isInfinite(w)) {
                throw new IllegalArgumentException("WeightedRandomSampler: weights[" + i + "] is " + w + "; a weight must be finite and 0 or more");
            }
            if (w > 0) positive++;
        }
        if (positive == 0) throw new IllegalArgumentException("WeightedRandomSampler: all " + weights.length + " weights are 0: no sample can be drawn");
        if (numSamples < 1) throw new IllegalArgumentException("WeightedRandomSampler: numSamples must be at least 1, got " + numSamples);
        if (!replacement && numSamples > positive) {
            throw new IllegalArgumentException("WeightedRandomSampler: numSamples is " + numSamples + " without replacement, but only " + positive
                    + " samples have a weight above 0: draw at most " + positive + ", or with replacement");
        }
        if (numSamples > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("WeightedRandomSampler: numSamples " + numSamples + " is too many for one epoch");
    }

    @Override
    public long[] indices(long datasetSize, long seed, int epoch) {
        if (datasetSize != weights.length) {
            throw new IllegalArgumentException("WeightedRandomSampler: weights has " + weights.length + " entries, the dataset " + datasetSize
                    + " samples: give one weight per sample");
        }
        SplittableRandom random = WorkerContext.random(seed, epoch, -4);
        long[] out = new long[(int) numSamples];
        if (replacement) {
            double[] cumulative = new double[weights.length];
            double total = 0;
            for (int i = 0; i < weights.length; i++) cumulative[i] = total += weights[i];
            for (int k = 0; k < out.length; k++) {
                double u = random.nextDouble() * total;
                int at = Arrays.binarySearch(cumulative, u);
                at = at >= 0 ? at + 1 : -at - 1; // the first sample whose cumulative weight is above u
                while (at < weights.length - 1 && weights[at] == 0) at++; // never a sample of weight 0
                out[k] = Math.min(at, weights.length - 1);
            }
            return out;
        }
        // Without replacement: every sample gets the key log(u) / w; the largest keys win, in order.
        Long[] order = new Long[weights.length];
        double[] keys = new double[weights.length];
        for (int i = 0; i < weights.length; i++) {
            order[i] = (long) i;
            double u = random.nextDouble();
            keys[i] = weights[i] == 0 ? Double.NEGATIVE_INFINITY : Math.log(u == 0 ? Double.MIN_VALUE : u) / weights[i];
        }
        Arrays.sort(order, (a, b) -> {
            int c = Double.compare(keys[(int) (long) b], keys[(int) (long) a]);
            return c != 0 ? c : Long.compare(a, b);
        });
        for (int k = 0; k < out.length; k++) out[k] = order[k];
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WeightedRandomSampler w && Arrays.equals(weights, w.weights) && numSamples == w.numSamples && replacement == w.replacement;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(weights) * 31 + Long.hashCode(numSamples) * 2 + (replacement ? 1 : 0);
    }

    /** Names the weights by count and content digest: what a loader's state fingerprints. */
    @Override
    public String toString() {
        return "WeightedRandomSampler[weights=" + weights.length + " values, digest " + Integers.digest(weights) + ", numSamples=" + numSamples
                + ", replacement=" + replacement + "]";
    }
}
