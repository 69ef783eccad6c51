package io.ringloader.data;

/**
 * A stream of samples (a table scanned in order, files read one after another, a feed). Each worker
 * reads its own shard, which {@link WorkerContext#shardIndex()} and {@link WorkerContext#shardCount()}
 * describe, as PyTorch's {@code get_worker_info()} does. Shards may be uneven or empty.
 */
public non-sealed interface IterableDataset extends Dataset {

    /** Starts this worker's shard for one epoch (called again every epoch, after {@link #open}). */
    SampleSource stream(WorkerContext context) throws Exception;

    /** The samples of one shard for one epoch. */
    @FunctionalInterface
    interface SampleSource {
        /** Writes the next sample into {@code out} and returns true, or returns false at the end of the shard. */
        boolean next(SampleWriter out) throws Exception;
    }
}
