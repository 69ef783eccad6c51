package io.ringloader.worker;

import io.ringloader.batch.ColumnLayout;

import java.io.Serializable;
import java.util.List;
import java.util.Map;

/**
 * What a worker needs to start: the dataset recipe (serialized), the bytes of classes it may not find on
 * its own class path, the layout of a batch's columns, and who it is.
 */
record WorkerConfig(byte[] dataset, Map<String, byte[]> classes, List<ColumnLayout> columns, int workerId, int numWorkers, long seed,
                    int shardIndex, int shardCount) implements Serializable {
}
