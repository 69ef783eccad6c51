package io.ringloader.data;

/**
 * A stream of samples (a table scanned in order, files read one after another, a feed), cut into shards:
 * {@link #stream} is called once per shard and epoch, with {@link WorkerContext#shardIndex()} and
 * {@link WorkerContext#shardCount()} saying which, as PyTorch's {@code get_worker_info()} does. The shards
 * are the dataset's, a fixed number of them ({@code DataLoader.Builder.shards}, 8 by default), not the
 * workers': a worker may read several, and a shard's batches are the same whichever worker reads it. So
 * a shard must give the same samples in the same order every time it is started in the same epoch (a
 * successor, or a resumed loader, starts it again and drops the samples before its position). Shards may
 * be uneven or empty.
 */
public non-sealed interface IterableDataset extends Dataset {

    /** Starts the shard {@code context} names for one epoch (after {@link #open}; again for every epoch and shard). */
    SampleSource stream(WorkerContext context) throws Exception;

    /**
     * The samples of one shard for one epoch. A worker closes it when it is done with the shard (at the
     * shard's end, when it starts the shard afresh, at a new epoch, before the dataset's {@code close()}):
     * a source that holds a scan (a result set, a file reader) releases it there.
     */
    @FunctionalInterface
    interface SampleSource extends AutoCloseable {
        /** Writes the next sample into {@code out} and returns true, or returns false at the end of the shard. */
        boolean next(SampleWriter out) throws Exception;

        /**
         * Moves past the next {@code n} samples without writing them, for a shard started at a position (a
         * resumed loader, a replaced worker); returns how many there were, fewer at the shard's end (a
         * source that seeks and cannot tell returns {@code n}: its next {@code next()} finds the end). A
         * source that can seek, or skip cheaply (whole record batches by their row counts, say), says so
         * here; the default, -1, has the worker read the samples and drop them.
         */
        default long skip(long n) throws Exception {
            return -1;
        }

        @Override
        default void close() throws Exception {}
    }
}
