package io.ringloader.loader;

import io.ringloader.sampler.BatchSampler;
import io.ringloader.worker.WorkerMode;

import java.time.Duration;
import java.util.List;

/**
 * What a {@link DataLoader} was built with, worked out once by its builder: the epochs and the worker set
 * read their settings here.
 *
 * @param batchSampler     the batches of an epoch (null for a streaming dataset)
 * @param batchSize        samples per batch
 * @param seed             the seed of the order and of every sample's random stream
 * @param mode             process, thread or inline
 * @param sizing           how many workers, how many batches ahead, and the rings' bytes
 * @param inOrder          deliver in sampler order, or as batches arrive
 * @param persistent       keep workers across epochs
 * @param timeout          how long a worker may take to deliver a batch
 * @param jvmOptions       extra options for process workers' JVMs
 * @param rank             this trainer's rank
 * @param worldSize        the number of trainers
 * @param pinWorkers       pin worker i to the i-th allowed CPU
 * @param warmWorkers      boot spare worker JVMs for the next loader
 * @param maxWorkerRestarts  replacements of lost workers this loader may make
 * @param skipFailedSamples  leave a sample whose read throws out of its batch (onSampleError SKIP)
 * @param maxSkippedCount    with SKIP, the most samples an epoch may skip (-1: see the fraction)
 * @param maxSkippedFraction with SKIP, the largest share of an epoch's samples it may skip (when the count is -1)
 * @param shards           the shards a streaming dataset is cut into, on each rank
 * @param remote           a worker host per remote worker slot (a host of N workers appears N times); they follow the local slots
 */
record LoaderSettings(BatchSampler batchSampler, int batchSize, long seed, WorkerMode mode, Sizing sizing,
                      boolean inOrder, boolean persistent, Duration timeout, List<String> jvmOptions, int rank, int worldSize, boolean pinWorkers, boolean warmWorkers,
                      int maxWorkerRestarts, boolean skipFailedSamples, long maxSkippedCount, double maxSkippedFraction, int shards,
                      List<io.ringloader.remote.RemoteHost> remote) {

    /** Workers at the start (1 for inline; the autotuner's first count with numWorkers(AUTO)). */
    int numWorkers() {
        return sizing.startWorkers();
    }

    /** The most local workers the loader may run at once. */
    int maxWorkers() {
        return sizing.maxWorkers();
    }

    /** Slots of its worker set: the local ones, then one per remote worker. */
    int slots() {
        return sizing.maxWorkers() + remote.size();
    }

    /** Where slot {@code slot}'s workers run: "local", or the worker host's name ({@code data-1:7070}). */
    String hostOf(int slot) {
        return slot < maxWorkers() ? LoaderStats.LOCAL : remote.get(slot - maxWorkers()).name();
    }

    /** Batches requested ahead per worker at the start. */
    int prefetch() {
        return sizing.prefetch();
    }

    long batchRingBytes() {
        return sizing.batchRingBytes();
    }

    long requestRingBytes() {
        return sizing.requestRingBytes();
    }

    boolean autotuned() {
        return sizing.autoWorkers() || sizing.autoPrefetch();
    }

    /** The most samples an epoch of {@code samples} may skip. */
    long maxSkipped(long samples) {
        return maxSkippedCount >= 0 ? maxSkippedCount : (long) Math.floor(maxSkippedFraction * samples);
    }

    /** "maxSkipped(10)" or "maxSkippedFraction(0.05)", for messages. */
    String describeMaxSkipped() {
        return maxSkippedCount >= 0 ? "maxSkipped(" + maxSkippedCount + ")" : "maxSkippedFraction(" + maxSkippedFraction + ")";
    }
}
