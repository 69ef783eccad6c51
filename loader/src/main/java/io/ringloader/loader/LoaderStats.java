package io.ringloader.loader;

import java.time.Duration;
import java.util.List;

/**
 * What a loader has done so far. Cheap to take at any time.
 *
 * @param batches  batches handed to the trainer
 * @param samples  samples in them
 * @param waiting  time spent inside the loader's {@code next()}, waiting for data: the trainer's data stall
 *                 when the trainer iterates the loader itself; a {@code DjlDataset}'s prefetch thread's wait
 *                 when that thread does (the trainer's stall is then {@code DjlDataset.waiting()})
 * @param elapsed  time from the first {@code next()} to the last
 * @param workerRestarts lost workers (died, or hung and killed) replaced by fresh ones
 * @param samplesSkipped samples left out of their batches because their read threw ({@code onSampleError(SKIP)})
 * @param padding  what the padded sequence columns delivered ({@code DataLoader.Builder.pad})
 * @param workers  per worker (per slot, for an autotuned loader: those that ever had a worker)
 * @param tuning   an autotuned loader's decisions, oldest first: every one that changed something, and the
 *                 most recent of those that did not (empty for a loader of fixed numWorkers and prefetchFactor)
 */
public record LoaderStats(long batches, long samples, Duration waiting, Duration elapsed, long workerRestarts, long samplesSkipped,
                          Padding padding, List<WorkerStats> workers, List<TuningDecision> tuning) {

    /**
     * @param values    steps delivered in padded sequence columns, padding included (tokens, for token ids)
     * @param padding   of them, padding
     * @param truncated samples cut to a fixed padded length ({@code Padding.toLength(n).truncate()})
     */
    public record Padding(long values, long padding, long truncated) {
        /** The share of the delivered steps that is padding, 0 to 1 (0 when nothing was padded). */
        public double share() {
            return values == 0 ? 0 : (double) padding / values;
        }
    }

    /** The most private memory one worker holds ({@link WorkerStats#privateMemoryBytes}), or -1 when none has a process of its own. */
    public long largestWorkerPrivateMemoryBytes() {
        return workers.stream().mapToLong(WorkerStats::privateMemoryBytes).max().orElse(-1);
    }

    /** The share of the trainer's time spent waiting for data, in percent. */
    public double stallPercent() {
        return elapsed.isZero() ? 0 : 100.0 * waiting.toNanos() / elapsed.toNanos();
    }

    /** {@link WorkerStats#host()} of a worker on the trainer's machine. */
    public static final String LOCAL = "local";

    /** Per worker host ({@link WorkerStats#host()}, "local" for the trainer's own), in the order of the slots. */
    public java.util.Map<String, HostStats> hosts() {
        java.util.Map<String, HostStats> by = new java.util.LinkedHashMap<>();
        for (WorkerStats w : workers) {
            by.merge(w.host(), new HostStats(w.host(), 1, w.batches(), w.busy()),
                    (a, b) -> new HostStats(a.host(), a.workers() + 1, a.batches() + b.batches(), a.busy().plus(b.busy())));
        }
        return by;
    }

    /**
     * One worker host's share of the work.
     *
     * @param host    its name ({@code data-1:7070}), or "local"
     * @param workers its worker slots in this loader
     * @param batches batches its workers built
     * @param busy    time they spent building them
     */
    public record HostStats(String host, int workers, long batches, Duration busy) {}

    /**
     * @param id             worker id
     * @param host           where it runs: "local" for the trainer's machine, else its worker host ({@code data-1:7070},
     *                       as given to {@code remoteWorkers})
     * @param pid            the process it runs in (on its host, for a remote worker); once the workers stopped (after an epoch without
     *                       persistentWorkers), that of the last one of this id that delivered a batch;
     *                       -1 if none did
     * @param batches        batches it built
     * @param busy           time it spent building them
     * @param ringBytesInUse bytes of its batch ring now taken (batches built and not yet released)
     * @param ringCapacity   bytes of its batch ring
     * @param privateMemoryBytes the memory its process holds of its own now ({@code RssAnon}: heap,
     *                       metaspace, code, stacks; not the shared rings), or -1 (a thread or in-line
     *                       worker, or one that stopped). Read from {@code /proc/PID/status} by each
     *                       {@code stats()} call, some tens of microseconds a worker: take stats now and
     *                       then (an epoch, a log line), not for every batch
     */
    public record WorkerStats(int id, String host, long pid, long batches, Duration busy, long ringBytesInUse, long ringCapacity,
                              long privateMemoryBytes) {}
}
