package io.ringloader.loader;

import io.ringloader.batch.BatchReader;
import org.apache.arrow.vector.VectorSchemaRoot;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One batch, as the trainer receives it: Arrow vectors whose buffers are the worker's bytes in shared
 * memory, read without a copy. {@link #close()} hands the space back to the worker; until then the batch
 * stays valid, however many later batches the trainer reads meanwhile.
 */
public final class Batch implements AutoCloseable {
    private final VectorSchemaRoot root;
    private final BatchReader reader;
    private final int epoch;
    private final long index;
    private final long[] sampleIndices;
    private final int workerId;
    private final int rows;
    private final AtomicBoolean closed = new AtomicBoolean();

    Batch(VectorSchemaRoot root, BatchReader reader, int epoch, long index, long[] sampleIndices, int workerId) {
        this.root = root;
        this.reader = reader;
        this.rows = root.getRowCount();
        this.epoch = epoch;
        this.index = index;
        this.sampleIndices = sampleIndices;
        this.workerId = workerId;
    }

    /**
     * The batch's columns. Do not use them after {@link #close()}: the loader then fills the same vectors
     * with a later batch (as Arrow's {@code ArrowReader} does with its root).
     */
    public VectorSchemaRoot root() {
        if (closed.get()) throw new IllegalStateException("batch " + index + " of epoch " + epoch + " is closed");
        return root;
    }

    /** Samples in the batch. */
    public int size() {
        return rows;
    }

    public int epoch() {
        return epoch;
    }

    /** The batch's position in its epoch (for a streaming dataset: k, its position in its shard). */
    public long index() {
        return index;
    }

    /** The dataset indices of the samples, in row order; null for a streaming dataset. */
    public long[] sampleIndices() {
        return sampleIndices == null ? null : sampleIndices.clone();
    }

    /** The worker that built it. */
    public int workerId() {
        return workerId;
    }

    public boolean isClosed() {
        return closed.get();
    }

    /** Releases the batch's shared memory to its worker. Idempotent; safe from any thread. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) reader.recycle(root);
    }

    @Override
    public String toString() {
        return "Batch[epoch " + epoch + ", #" + index + ", " + rows + " samples, worker " + workerId + "]";
    }
}
