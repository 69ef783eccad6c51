package io.ringloader.worker;

import io.ringloader.os.Posix;
import io.ringloader.ring.RingDescriptor;

/**
 * Layout of the one shared-memory segment of a worker.
 *
 * <pre>
 *   0 +------------------------------------------------------------+
 *     | MAGIC int | workerId int | configLength long                 |
 *  16 | requestRingOffset long | batchRingOffset long                |
 *  32 | parentPid long | reading long: the sample the worker reads  |
 *     |   now (-1 between samples), for the trainer when it dies     |
 *     | ... (one page)                                              |
 * page+------------------------------------------------------------+
 *     | config: {@link WorkerConfig#encode} (dataset recipe,        |
 *     |   shipped classes, ids, seed), whole pages                  |
 *     +------------------------------------------------------------+
 *     | request ring: parent -> worker (batch requests, STOP)        |
 *     +------------------------------------------------------------+
 *     | batch ring: worker -> parent (READY, batches, errors, END)   |
 *     +------------------------------------------------------------+
 * </pre>
 */
final class WorkerSegment {
    private WorkerSegment() {}

    static final int MAGIC = 0x524c574b; // "RLWK"
    static final long MAGIC_OFFSET = 0;
    static final long WORKER_ID_OFFSET = 4;
    static final long CONFIG_LENGTH_OFFSET = 8;
    static final long REQUEST_RING_OFFSET = 16;
    static final long BATCH_RING_OFFSET = 24;
    static final long PARENT_PID_OFFSET = 32;
    static final long READING_OFFSET = 40;
    static final long CONTROL_LENGTH = Posix.PAGE_SIZE;

    static long pages(long bytes) {
        return (bytes + Posix.PAGE_SIZE - 1) & -Posix.PAGE_SIZE;
    }

    static long requestRingOffset(long configLength) {
        return CONTROL_LENGTH + pages(Math.max(1, configLength));
    }

    static long batchRingOffset(long configLength, long requestCapacity) {
        return requestRingOffset(configLength) + RingDescriptor.regionLength(requestCapacity);
    }

    static long totalLength(long configLength, long requestCapacity, long batchCapacity) {
        return batchRingOffset(configLength, requestCapacity) + RingDescriptor.regionLength(batchCapacity);
    }
}
