package io.ringloader.loader;

import io.ringloader.batch.RecordHeader;
import io.ringloader.ring.RingDescriptor;
import io.ringloader.worker.WorkerMode;

/**
 * How many workers a loader runs, how many batches it asks each for ahead, and how much shared memory
 * each worker's rings get: worked out once, at {@code build()}, from the builder's settings and the
 * size of a batch. A fixed loader's figures are what it was given ({@code numWorkers}, {@code prefetchFactor})
 * or the defaults; an autotuned one's are where it starts and the most it may grow to.
 *
 * <p>The memory budget bounds the batch rings of all workers together: a batch lives in its worker's
 * ring from the moment it is built until the trainer closes it, so the rings are the memory batches in
 * flight can take. An autotuned loader sizes each ring from its share of the budget (up to 32 batches
 * ahead, the default's most), and never runs more workers than the budget has rings for.
 *
 * @param startWorkers     workers started with the loader (an autotuned one starts with 1)
 * @param maxWorkers       the most workers it may run: slots of its {@link WorkerSet}
 * @param prefetch         batches asked ahead per worker at the start
 * @param maxPrefetch      the most it may ask ahead per worker (its rings hold that many and two more)
 * @param batchRingBytes   bytes of each worker's batch ring
 * @param requestRingBytes bytes of each worker's request ring
 * @param memoryBudget     the budget the rings were sized in (0: a fixed loader given none)
 * @param autoWorkers      numWorkers(AUTO)
 * @param autoPrefetch     prefetchFactor(AUTO)
 */
record Sizing(int startWorkers, int maxWorkers, int prefetch, int maxPrefetch, long batchRingBytes, long requestRingBytes,
              long memoryBudget, boolean autoWorkers, boolean autoPrefetch) {

    /** Bytes of batches the default prefetch keeps in flight per worker. */
    static final long PREFETCH_BYTES = 4L << 20;
    /** The most batches a worker is asked for ahead, by default or by the autotuner. */
    static final int MOST_PREFETCH = 32;
    /** The smallest batch ring of a loader whose ringBytes is not set (when its budget allows as much). */
    static final long MIN_RING_BYTES = 4L << 20;

    /**
     * @param mode          the workers' mode
     * @param numWorkers    the builder's numWorkers, {@link DataLoader#AUTO} included
     * @param prefetchFactor the builder's prefetchFactor: 0 for the default, or {@link DataLoader#AUTO}
     * @param ringBytes     the builder's ringBytes (0: sized here)
     * @param memoryBudget  the builder's memoryBudget (0: the machine's default, for an autotuned loader)
     * @param batchBytes    the estimated length of a batch of {@code rows} samples
     * @param cores         CPUs this process may use
     */
    static Sizing of(WorkerMode mode, int numWorkers, int prefetchFactor, long ringBytes, long memoryBudget, long batchBytes, int rows,
                     int cores) {
        long frame = RingDescriptor.frameLength(batchBytes);
        boolean autoWorkers = numWorkers == DataLoader.AUTO && mode != WorkerMode.INLINE;
        boolean autoPrefetch = prefetchFactor == DataLoader.AUTO && mode != WorkerMode.INLINE;
        int workers = mode == WorkerMode.INLINE ? 1 : numWorkers;
        if (!autoWorkers && !autoPrefetch) {
            int prefetch = mode == WorkerMode.INLINE ? 1 : prefetchFactor > 0 ? prefetchFactor : defaultPrefetch(batchBytes);
            long ring = ringBytes > 0 ? ringBytes : Math.max(MIN_RING_BYTES, RingDescriptor.capacityFor((prefetch + 2L) * frame));
            checkOneBatchFits(ring, ringBytes, batchBytes, rows);
            if (memoryBudget > 0 && workers * ring > memoryBudget) {
                throw new IllegalArgumentException("memoryBudget(" + memoryBudget + ") is less than the " + workers * ring + " bytes of the "
                        + workers + " workers' batch rings (" + ring + " bytes each, room for prefetchFactor(" + prefetch + ") + 2 batches"
                        + " of about " + batchBytes + " bytes): raise memoryBudget, or lower numWorkers, prefetchFactor or batchSize");
            }
            return new Sizing(workers, workers, prefetch, prefetch, ring, requestRing(prefetch, rows), memoryBudget, false, false);
        }
        long budget = memoryBudget > 0 ? memoryBudget : defaultBudget();
        String which = memoryBudget > 0 ? "memoryBudget(" + budget + ")" : "the default memoryBudget (" + budget + " bytes, from this machine's memory and /dev/shm)";
        long least = RingDescriptor.capacityFor(2 * frame);
        if (budget < least) {
            throw new IllegalArgumentException(which + " is too small for two batches of about " + batchBytes + " bytes (batchSize "
                    + rows + "): an autotuned loader needs room for the batch the trainer holds and the one being built."
                    + " Give memoryBudget at least " + least + " bytes, or lower batchSize");
        }
        int wanted = autoWorkers ? cores : workers;
        long ring;
        int maxPrefetch;
        if (!autoPrefetch) {
            int prefetch = prefetchFactor > 0 ? prefetchFactor : defaultPrefetch(batchBytes);
            ring = ringBytes > 0 ? ringBytes : Math.max(Math.min(MIN_RING_BYTES, budget), RingDescriptor.capacityFor((prefetch + 2L) * frame));
            maxPrefetch = prefetch;
        } else if (ringBytes > 0) {
            ring = ringBytes;
            maxPrefetch = (int) Math.clamp(RingDescriptor.capacityFor(ring) / frame - 2, 1, MOST_PREFETCH);
        } else {
            long share = Math.max(least, budget / wanted);
            long frames = Math.clamp(share / frame, 2, MOST_PREFETCH + 2L);
            while (frames > 2 && RingDescriptor.capacityFor(frames * frame) > share) frames--; // rings are whole pages
            ring = Math.max(Math.min(MIN_RING_BYTES, share), RingDescriptor.capacityFor(frames * frame));
            maxPrefetch = (int) Math.clamp(frames - 2, 1, MOST_PREFETCH);
        }
        checkOneBatchFits(ring, ringBytes, batchBytes, rows);
        if (ring > budget) {
            throw new IllegalArgumentException(which + " is less than one worker's batch ring of " + ring + " bytes (room for "
                    + "prefetchFactor(" + maxPrefetch + ") + 2 batches of about " + batchBytes + " bytes): raise memoryBudget, or lower "
                    + (ringBytes > 0 ? "ringBytes" : "prefetchFactor") + " or batchSize");
        }
        int maxWorkers = autoWorkers ? (int) Math.clamp(budget / ring, 1, Math.max(1, cores)) : workers;
        if (!autoWorkers && workers * ring > budget) {
            throw new IllegalArgumentException(which + " is less than the " + workers * ring + " bytes of numWorkers(" + workers
                    + ")'s batch rings (" + ring + " bytes each): raise memoryBudget, or lower numWorkers or batchSize");
        }
        int start = autoPrefetch ? Math.min(2, maxPrefetch) : maxPrefetch;
        return new Sizing(autoWorkers ? 1 : workers, maxWorkers, start, maxPrefetch, ring, requestRing(maxPrefetch, rows), budget,
                autoWorkers, autoPrefetch);
    }

    private static void checkOneBatchFits(long ring, long ringBytes, long batchBytes, int rows) {
        if (RingDescriptor.frameLength(batchBytes) > RingDescriptor.capacityFor(ring)) {
            throw new IllegalArgumentException("a batch of " + rows + " samples takes about " + batchBytes
                    + " bytes, more than ringBytes(" + ringBytes + "): raise ringBytes or lower batchSize");
        }
    }

    private static long requestRing(int prefetch, int rows) {
        return Math.max(64L << 10, (prefetch + 2L) * RingDescriptor.frameLength(RecordHeader.LENGTH + 8L * rows));
    }

    /**
     * PyTorch's 2 batches ahead, or more for small batches: a round trip between trainer and worker costs
     * tens of microseconds, longer than a worker takes to build a small batch, so a worker 2 batches ahead
     * would spend its time waiting for requests. Up to 32 batches, {@link #PREFETCH_BYTES} in all.
     */
    static int defaultPrefetch(long batchBytes) {
        return (int) Math.clamp(PREFETCH_BYTES / Math.max(1, batchBytes), 2, MOST_PREFETCH);
    }

    /** CPUs this process may use: its affinity mask, and the JVM's view of its container's limits. */
    static int cores() {
        return Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), io.ringloader.os.Posix.allowedCpus().length));
    }

    /**
     * An autotuned loader's memory budget when none is given: a quarter of the machine's memory, and no
     * more than half of what {@code /dev/shm} has free (the rings live there), whichever is less.
     */
    static long defaultBudget() {
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        long memory = os.getTotalMemorySize() / 4;
        long shm;
        try {
            shm = java.nio.file.Files.getFileStore(java.nio.file.Path.of("/dev/shm")).getUsableSpace() / 2;
        } catch (java.io.IOException e) {
            shm = memory;
        }
        return Math.max(64L << 20, Math.min(memory, shm));
    }
}
