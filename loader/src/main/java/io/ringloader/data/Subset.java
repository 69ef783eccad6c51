package io.ringloader.data;

import org.apache.arrow.vector.types.pojo.Schema;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Some samples of a map-style dataset, as PyTorch's {@code Subset}: sample {@code i} is sample
 * {@code indices[i]} of {@code dataset}. A recipe like any other: the dataset travels with it, and each
 * worker opens it. A sample's random draws ({@link SampleWriter#random()}) and {@link SampleWriter#index()}
 * are the subset's own index, so a subset's batches are a function of its seed, epoch and indices alone.
 *
 * @param dataset the dataset the samples come from
 * @param indices its samples, in the subset's order (a repeat is read as often as it appears)
 */
public record Subset(MapDataset dataset, long[] indices) implements MapDataset {

    public Subset {
        if (dataset == null) throw new IllegalArgumentException("Subset: the dataset is null");
        if (indices == null) throw new IllegalArgumentException("Subset: the indices are null");
        indices = indices.clone();
        long size = dataset.size();
        for (int k = 0; k < indices.length; k++) {
            if (indices[k] < 0 || indices[k] >= size) {
                throw new IllegalArgumentException("Subset: indices[" + k + "] is " + indices[k] + ", but the dataset has " + size
                        + " samples (0 to " + (size - 1) + ")");
            }
        }
    }

    /**
     * {@code dataset} cut at random into parts of the given {@code fractions} of its samples (which must
     * add up to 1), as PyTorch's {@code random_split}: a permutation from {@code seed}, each part a run of
     * it. A part gets {@code floor(fraction * size)} samples, and the samples left over go one each to the
     * first parts. The same seed always gives the same split, whatever else the loader is told.
     */
    public static List<Subset> randomSplit(MapDataset dataset, long seed, double... fractions) {
        if (fractions == null || fractions.length == 0) throw new IllegalArgumentException("randomSplit: give the fractions, say 0.8, 0.1, 0.1");
        double sum = 0;
        for (int k = 0; k < fractions.length; k++) {
            if (!(fractions[k] >= 0 && fractions[k] <= 1)) {
                throw new IllegalArgumentException("randomSplit: fractions[" + k + "] is " + fractions[k] + "; each must be in [0, 1]");
            }
            sum += fractions[k];
        }
        if (Math.abs(sum - 1) > 1e-9) {
            throw new IllegalArgumentException("randomSplit: the fractions " + Arrays.toString(fractions) + " add up to " + sum + ", not 1");
        }
        long size = dataset.size();
        if (size > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("randomSplit: " + size + " samples are too many to split");
        long[] counts = new long[fractions.length];
        long given = 0;
        for (int k = 0; k < counts.length; k++) given += counts[k] = (long) Math.floor(fractions[k] * size);
        for (int k = 0; given < size; k = (k + 1) % counts.length, given++) counts[k]++;
        long[] order = new io.ringloader.sampler.RandomSampler().indices(size, seed, 0);
        List<Subset> parts = new ArrayList<>(counts.length);
        int from = 0;
        for (long count : counts) {
            parts.add(new Subset(dataset, Arrays.copyOfRange(order, from, from + (int) count)));
            from += (int) count;
        }
        return List.copyOf(parts);
    }

    @Override
    public Schema sampleSchema() {
        return dataset.sampleSchema();
    }

    @Override
    public long size() {
        return indices.length;
    }

    @Override
    public void open(WorkerContext context) throws Exception {
        dataset.open(context);
    }

    @Override
    public void read(long index, SampleWriter out) throws Exception {
        dataset.read(indices[Math.toIntExact(index)], out);
    }

    @Override
    public String describe(long index) {
        long of = indices[Math.toIntExact(index)];
        String where = dataset.describe(of);
        return "sample " + of + " of the subset's dataset" + (where == null ? "" : ", " + where);
    }

    @Override
    public int length(long index) {
        return dataset.length(indices[Math.toIntExact(index)]);
    }

    @Override
    public void close() throws Exception {
        dataset.close();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Subset s && dataset.equals(s.dataset) && Arrays.equals(indices, s.indices);
    }

    @Override
    public int hashCode() {
        return dataset.hashCode() * 31 + Arrays.hashCode(indices);
    }

    @Override
    public String toString() {
        return "Subset[dataset=" + dataset + ", indices=" + indices.length + "]";
    }
}
