package io.ringloader.loader;

import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * One decision of an autotuned loader ({@code numWorkers(AUTO)} or {@code prefetchFactor(AUTO)}): what it
 * measured over the interval since the last one, and what it changed. {@link #toString()} is its log line.
 *
 * @param at           time since the loader's first batch
 * @param epoch        the epoch it was taken in
 * @param batches      batches the loader had delivered by then
 * @param interval     how long it measured
 * @param stallPercent the share of the interval the trainer spent waiting for data, in percent
 * @param busyPercent  per worker that took requests throughout, the share of the interval it spent building batches
 * @param cpusUsed     CPUs the trainer's process and the worker processes used over the interval
 * @param cpusFree     CPUs free for another worker: {@code cpus} less the trainer's threads and the workers' busy shares
 * @param cpus         CPUs this process may use
 * @param workers      workers after the decision (one it just added still starts; one it retired finishes its batches)
 * @param prefetch     batches asked ahead per worker after it
 * @param change       what it changed ("add worker 1", "retire worker 2", "prefetchFactor 2 -> 4"), or "none"
 * @param reason       why, in words
 */
public record TuningDecision(Duration at, int epoch, long batches, Duration interval, double stallPercent, List<Double> busyPercent,
                             double cpusUsed, double cpusFree, int cpus, int workers, int prefetch, String change, String reason) {

    public boolean changed() {
        return !change.equals("none");
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "ringloader autotune at %.1f s (epoch %d, batch %d): over %d ms the trainer waited %.1f%%, workers busy %s,"
                        + " %.2f of %d CPUs used (%.2f free for a worker) -> %s (%s); now %d worker%s, prefetchFactor %d",
                at.toNanos() / 1e9, epoch, batches, interval.toMillis(), stallPercent,
                busyPercent.stream().map(b -> String.format(Locale.ROOT, "%.0f%%", b)).collect(Collectors.joining(" ", "[", "]")),
                cpusUsed, cpus, cpusFree, change, reason, workers, workers == 1 ? "" : "s", prefetch);
    }
}
