package io.ringloader.worker;

import java.io.Serializable;
import java.util.Map;

/**
 * What a worker needs to start: the dataset recipe (serialized), the bytes of classes it may not find on
 * its own class path, and who it is.
 */
record WorkerConfig(byte[] dataset, Map<String, byte[]> classes, int workerId, int numWorkers, long seed,
                    int shardIndex, int shardCount) implements Serializable {
}
