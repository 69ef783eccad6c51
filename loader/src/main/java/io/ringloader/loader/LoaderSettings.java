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
 * @param numWorkers       workers (1 for inline)
 * @param prefetch         batches requested ahead per worker
 * @param inOrder          deliver in sampler order, or as batches arrive
 * @param persistent       keep workers across epochs
 * @param timeout          how long a worker may take to deliver a batch
 * @param jvmOptions       extra options for process workers' JVMs
 * @param batchRingBytes   bytes of each worker's batch ring
 * @param requestRingBytes bytes of each worker's request ring
 * @param rank             this trainer's rank
 * @param worldSize        the number of trainers
 * @param pinWorkers       pin worker i to the i-th allowed CPU
 * @param warmWorkers      boot spare worker JVMs for the next loader
 */
record LoaderSettings(BatchSampler batchSampler, int batchSize, long seed, WorkerMode mode, int numWorkers, int prefetch,
                      boolean inOrder, boolean persistent, Duration timeout, List<String> jvmOptions, long batchRingBytes,
                      long requestRingBytes, int rank, int worldSize, boolean pinWorkers, boolean warmWorkers) {
}
