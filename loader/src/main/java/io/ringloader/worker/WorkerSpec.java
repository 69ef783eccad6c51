package io.ringloader.worker;

import io.ringloader.batch.ColumnLayout;

import java.util.List;

/**
 * Everything needed to start one worker.
 *
 * @param id              0 to {@code numWorkers - 1}
 * @param numWorkers      the loader's number of workers
 * @param seed            the loader's seed
 * @param shardIndex      the first shard of a streaming dataset on this rank (a request's shard s is shardIndex + s)
 * @param shardCount      the number of shards of all ranks
 * @param recipe          the dataset
 * @param columns         the layout of a batch's columns
 * @param requestCapacity bytes of the request ring
 * @param batchCapacity   bytes of the batch ring
 * @param jvmOptions      extra options for a process worker's JVM
 * @param cpu             the CPU to pin the worker to, or -1
 * @param tmpDir          the java.io.tmpdir of a process worker (the loader removes it), or null
 * @param timeoutMillis   the loader's timeout, for the datasets' own budgets ({@link io.ringloader.data.WorkerContext#timeoutMillis})
 */
public record WorkerSpec(int id, int numWorkers, long seed, int shardIndex, int shardCount, Recipe recipe, List<ColumnLayout> columns,
                         long requestCapacity, long batchCapacity, List<String> jvmOptions, int cpu, java.nio.file.Path tmpDir,
                         long timeoutMillis) {
}
