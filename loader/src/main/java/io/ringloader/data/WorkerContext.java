package io.ringloader.data;

import java.util.SplittableRandom;

/**
 * Who a worker is, for a dataset's {@link Dataset#open} and {@link IterableDataset#stream}: its id, the
 * number of workers, the loader's seed, the epoch, and (for streaming datasets) its shard.
 *
 * @param workerId    0 to {@code numWorkers - 1}; 0 when batches are built on the caller's thread
 * @param numWorkers  the number of workers (1 when batches are built on the caller's thread; with
 *                    {@code numWorkers(AUTO)}, the most the loader may run, as workers come and go). Which
 *                    samples a worker reads is the loader's business: a dataset must not shard by it
 * @param seed        the loader's seed
 * @param epoch       the current epoch (0 in {@code open})
 * @param shardIndex  in {@link IterableDataset#stream}, the shard to read (across all ranks: rank r's shards
 *                    are {@code r * shards} to {@code (r + 1) * shards - 1}); in {@code open}, the first of this rank's
 * @param shardCount  how many shards there are, of all ranks
 * @param pid         the process this worker runs in
 * @param timeoutMillis the loader's {@code timeout}: a worker that delivers no batch for that long is
 *                    declared hung. A dataset that waits on something (a server, with retries) keeps its
 *                    own waiting well inside it, so that its error, naming what it waited for, reaches
 *                    the trainer first. 0 when unknown.
 */
public record WorkerContext(int workerId, int numWorkers, long seed, int epoch, int shardIndex, int shardCount, long pid,
                            long timeoutMillis) {

    /** A context without a known timeout. */
    public WorkerContext(int workerId, int numWorkers, long seed, int epoch, int shardIndex, int shardCount, long pid) {
        this(workerId, numWorkers, seed, epoch, shardIndex, shardCount, pid, 0);
    }

    /** The same context in another epoch. */
    public WorkerContext withEpoch(int epoch) {
        return new WorkerContext(workerId, numWorkers, seed, epoch, shardIndex, shardCount, pid, timeoutMillis);
    }

    /**
     * The random stream of one sample in this epoch, derived from (seed, epoch, sample index) alone:
     * the same whatever worker, mode or number of workers reads the sample. (PyTorch seeds a generator
     * per worker instead, so its augmentations change with {@code num_workers}.) In a stream, prefer the
     * writer's {@code SampleWriter.random()}: it is keyed by the shard too, where a position repeats from
     * shard to shard.
     */
    public SplittableRandom random(long sampleIndex) {
        return random(seed, epoch, sampleIndex);
    }

    public static SplittableRandom random(long seed, int epoch, long key) {
        return new SplittableRandom(mix(mix(seed ^ 0x5DEECE66DL) + epoch * 0x9E3779B97F4A7C15L + mix(key)));
    }

    /** A 64-bit finaliser (SplitMix64), so that nearby inputs give unrelated seeds. */
    public static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
