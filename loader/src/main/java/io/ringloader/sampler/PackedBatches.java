package io.ringloader.sampler;

import io.ringloader.data.WorkerContext;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Batches to pack ({@code Padding.pack(rows, rowLength)}): as many samples as fill {@code rows x rowLength}
 * tokens, all but a few. Each epoch the samples are shuffled and placed first-fit into the open batches of
 * a small window ({@value #WINDOW}); when a sample fits none and the window is full, its fullest batch is
 * closed. Short samples so fill the gaps long ones leave, and the samples still arrive in a shuffled
 * order, not sorted by length. Then the batches are shuffled.
 *
 * @param rows      rows of a packed batch
 * @param rowLength tokens of a row
 * @param rank      this process's rank, with {@code worldSize}: it takes every worldSize-th batch
 * @param worldSize processes sharing the epoch (1: just this one); every rank gets the same number of batches
 */
public record PackedBatches(int rows, int rowLength, int rank, int worldSize) implements LengthAwareBatchSampler {
    /** Open batches a sample may go into. */
    static final int WINDOW = 16;

    public PackedBatches {
        if (rows < 1 || rowLength < 1) {
            throw new IllegalArgumentException("PackedBatches: rows and rowLength must be at least 1, got " + rows + " and " + rowLength);
        }
        if ((long) rows * rowLength > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("PackedBatches: " + rows + " rows of " + rowLength + " tokens is more than 2^31 tokens a batch");
        }
        LengthBatches.checkRank(rank, worldSize);
    }

    /** Tokens a batch holds. */
    public int tokens() {
        return rows * rowLength;
    }

    @Override
    public List<long[]> batches(int[] lengths, long seed, int epoch) {
        long[] order = new SequentialSampler().indices(lengths.length, seed, epoch);
        RandomSampler.shuffle(order, WorkerContext.random(seed, epoch, -2));
        List<long[]> out = new ArrayList<>();
        List<Open> open = new ArrayList<>(WINDOW);
        for (long i : order) {
            int length = lengths[(int) i];
            if (length > tokens()) {
                throw new IllegalArgumentException("PackedBatches: sample " + i + " is " + length + " tokens long, more than a batch of "
                        + rows + " rows of " + rowLength + " holds: raise the rows (BatchSampler.packed(rows, rowLength)), or cut such samples");
            }
            Open into = null;
            for (Open b : open) {
                if (b.used + length <= tokens()) {
                    into = b;
                    break;
                }
            }
            if (into == null) {
                if (open.size() == WINDOW) {
                    Open fullest = open.getFirst();
                    for (Open b : open) if (b.used > fullest.used) fullest = b;
                    open.remove(fullest);
                    out.add(fullest.indices());
                }
                into = new Open();
                open.add(into);
            }
            into.add(i, length);
        }
        for (Open b : open) out.add(b.indices());
        return LengthBatches.shuffleAndShare(out, seed, epoch, rank, worldSize);
    }

    @Override
    public int maxBatchSize(int[] lengths) {
        return LengthBatches.mostSamples(lengths, tokens(), 0);
    }

    /** A batch being filled. */
    private static final class Open {
        private long[] indices = new long[8];
        private int n;
        private long used;

        void add(long index, int length) {
            if (n == indices.length) indices = Arrays.copyOf(indices, 2 * n);
            indices[n++] = index;
            used += length;
        }

        long[] indices() {
            return Arrays.copyOf(indices, n);
        }
    }
}
