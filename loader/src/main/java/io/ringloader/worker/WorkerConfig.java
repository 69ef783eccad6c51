package io.ringloader.worker;

import io.ringloader.batch.ColumnLayout;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * What a worker needs to start: the dataset recipe (serialized), the bytes of classes it may not find on
 * its own class path, the layout of a batch's columns, who it is, and the CPU to pin it to (-1: none).
 */
record WorkerConfig(byte[] dataset, Map<String, byte[]> classes, List<ColumnLayout> columns, int workerId, int numWorkers, long seed,
                    int shardIndex, int shardCount, int cpu) implements Serializable {
}
