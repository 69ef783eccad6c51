package io.ringloader.loader;

import io.ringloader.worker.Worker;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/** The counters behind {@link DataLoader#stats()}: updated by the epochs, read at any time from any thread. */
final class LoaderCounters {
    private final AtomicLong batches = new AtomicLong(), samples = new AtomicLong(), waitNanos = new AtomicLong();
    private final AtomicLong restarts = new AtomicLong(), skipped = new AtomicLong();
    private final AtomicLong paddedValues = new AtomicLong(), paddingValues = new AtomicLong(), truncated = new AtomicLong();
    private volatile long firstNext, lastNext;
    private final AtomicLongArray workerBatches, workerBusy;
    /** The pid of the last worker of each slot that delivered a batch: stats() names it after the workers stopped. */
    private final AtomicLongArray workerPids;
    private final long batchRingBytes;
    private final int listed;
    private final java.util.function.IntFunction<String> hostOf;

    /**
     * {@code listed}: slots stats() names even before a worker of theirs delivered (those a loader starts with);
     * {@code hostOf}: where each slot's workers run.
     */
    LoaderCounters(int slots, int listed, long batchRingBytes, java.util.function.IntFunction<String> hostOf) {
        this.listed = listed;
        this.hostOf = hostOf;
        this.workerBatches = new AtomicLongArray(slots);
        this.workerBusy = new AtomicLongArray(slots);
        this.workerPids = new AtomicLongArray(slots);
        for (int w = 0; w < slots; w++) workerPids.set(w, -1);
        this.batchRingBytes = batchRingBytes;
    }

    /** A batch that worker {@code id} (process {@code pid}) built in {@code busyNanos}; returns the loader's batch count. */
    long delivered(int id, long pid, long busyNanos) {
        workerPids.set(id, pid);
        workerBatches.incrementAndGet(id);
        workerBusy.addAndGet(id, busyNanos);
        return batches.incrementAndGet();
    }

    /** Batches delivered so far. */
    long batches() {
        return batches.get();
    }

    /** Time spent waiting inside the loader so far. */
    long waitNanos() {
        return waitNanos.get();
    }

    /** Time slot {@code w}'s workers spent building the batches delivered so far. */
    long busyNanos(int w) {
        return workerBusy.get(w);
    }

    void samples(int rows) {
        samples.addAndGet(rows);
    }

    /** A batch's padded sequences: {@code values} steps in all, {@code padding} of them padding; {@code truncated} samples cut. */
    void padded(long values, long padding, int truncated) {
        paddedValues.addAndGet(values);
        paddingValues.addAndGet(padding);
        this.truncated.addAndGet(truncated);
    }

    /** A lost worker was replaced. */
    void restarted() {
        restarts.incrementAndGet();
    }

    long restarts() {
        return restarts.get();
    }

    /** Samples left out of a delivered batch (onSampleError SKIP). */
    void skipped(int n) {
        skipped.addAndGet(n);
    }

    /** A call into the loader that started at {@code startedNanos} and returns now. */
    void timed(long startedNanos) {
        long now = System.nanoTime();
        if (firstNext == 0) firstNext = startedNanos;
        lastNext = now;
        waitNanos.addAndGet(now - startedNanos);
    }

    /** The figures now; {@code workers} gives the current worker of each slot (or null), and is null when none run. */
    LoaderStats snapshot(java.util.function.IntFunction<Worker> workers, List<TuningDecision> tuning) {
        List<LoaderStats.WorkerStats> per = new ArrayList<>();
        for (int w = 0; w < workerBatches.length(); w++) {
            Worker worker = workers == null ? null : workers.apply(w);
            if (worker == null && workerPids.get(w) < 0 && w >= listed) continue; // a slot no worker ever had (an autotuned loader's)
            per.add(new LoaderStats.WorkerStats(w, hostOf.apply(w), worker == null ? workerPids.get(w) : worker.pid(), workerBatches.get(w),
                    Duration.ofNanos(workerBusy.get(w)), worker == null ? 0 : worker.batches().occupancy(),
                    worker == null ? batchRingBytes : worker.batches().capacity(), worker == null ? -1 : worker.privateMemoryBytes()));
        }
        return new LoaderStats(batches.get(), samples.get(), Duration.ofNanos(waitNanos.get()),
                Duration.ofNanos(lastNext - firstNext), restarts.get(), skipped.get(),
                new LoaderStats.Padding(paddedValues.get(), paddingValues.get(), truncated.get()), List.copyOf(per), tuning);
    }
}
