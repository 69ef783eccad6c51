package io.ringloader.loader;

import io.ringloader.worker.Worker;
import io.ringloader.worker.WorkerMode;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The decisions of a loader built with {@code numWorkers(AUTO)} or {@code prefetchFactor(AUTO)}: how many
 * workers, and how many batches ahead each. It runs on the epoch's thread, after a batch was delivered,
 * and measures only what the loader measures anyway:
 *
 * <ul>
 *   <li>the trainer's wait: the time spent inside {@code next()} ({@link LoaderStats#waiting()});</li>
 *   <li>each worker's busy time: what its batches' records say it spent building them;</li>
 *   <li>the CPU used: the trainer's process (its own threads, a thread worker's too) and each worker
 *       process ({@code /proc/PID/stat}), against the CPUs this process may use. What is free for another
 *       worker is the CPUs less the trainer's threads and one CPU per busy worker.</li>
 * </ul>
 *
 * The rules, over the interval since the last decision:
 * <ol>
 *   <li>The trainer waited ({@link #STALL}) while a worker sat idle: the workers are not asked far enough
 *       ahead. Double prefetchFactor, up to what the rings hold.</li>
 *   <li>The trainer waited while every worker was busy, and a CPU is free: add a worker, up to a worker
 *       per CPU and the memory budget's rings.</li>
 *   <li>The trainer did not wait, and the workers' busy time would fit into one worker fewer with room
 *       to spare ({@link #RETIRE_BELOW}): retire the last worker added.</li>
 * </ol>
 * No decision is taken while a worker starts or retires (what it would measure is the change itself),
 * or before a few batches were delivered. After a change it decides again soon ({@link #FIRST_INTERVAL});
 * each decision that changes nothing doubles the interval, up to {@link #LONGEST_INTERVAL}: a stable
 * job is looked at every few seconds, for the cost of a few {@code /proc} reads.
 *
 * <p>None of this can change a batch: a batch's samples come from the sampler and its contents from the
 * seed, the epoch and the sample index, whichever worker builds it and however many there are.
 */
final class Autotuner {
    static final long FIRST_INTERVAL = TimeUnit.MILLISECONDS.toNanos(200);
    static final long LONGEST_INTERVAL = TimeUnit.SECONDS.toNanos(10);
    /** The trainer waits when it spends more than this share of the interval waiting for data. */
    static final double STALL = 0.10;
    /** ... and does not wait below this one. */
    static final double NO_STALL = 0.02;
    /** A worker busy less than this share of the interval sat idle (waiting for requests, or for ring space). */
    static final double IDLE = 0.80;
    /** A worker is added only when at least this much of a CPU is free. */
    static final double FREE_FOR_A_WORKER = 0.4;
    /** One worker is retired when the others would be busy less than this share of the time doing all the work. */
    static final double RETIRE_BELOW = 0.70;
    /** Decisions are taken on no fewer batches (unless the interval grew four times as long). */
    static final int MIN_BATCHES = 4;
    /** Decisions kept for stats(): every change, and the most recent of the rest. */
    static final int KEPT = 200;
    /** Linux reports process CPU times in clock ticks of 1/100 s (USER_HZ, fixed by its ABI). */
    private static final long NANOS_PER_TICK = 10_000_000L;

    private final LoaderSettings settings;
    private final Sizing sizing;
    private final LoaderCounters counters;
    private final int cpus = Sizing.cores();
    private final List<TuningDecision> decisions = new ArrayList<>();
    private volatile int prefetch;
    private volatile int workers;
    private long interval = FIRST_INTERVAL;
    private long firstBatchAt;

    // The baseline: the figures at the start of the interval.
    private long at, wait, cpu, batches;
    private long[] busy, workerCpu;

    Autotuner(LoaderSettings settings, LoaderCounters counters) {
        this.settings = settings;
        this.sizing = settings.sizing();
        this.counters = counters;
        this.prefetch = sizing.prefetch();
        this.workers = sizing.startWorkers();
        this.busy = new long[sizing.maxWorkers()];
        this.workerCpu = new long[sizing.maxWorkers()];
    }

    /** Batches to ask ahead per worker now. */
    int prefetch() {
        return prefetch;
    }

    /** Workers to run now: those taking requests, or the count a stream's next epoch starts with. */
    int workers() {
        return workers;
    }

    synchronized List<TuningDecision> decisions() {
        return List.copyOf(decisions);
    }

    /** An epoch starts: the first interval begins at its first delivery (the wait for the first batch is a start-up's, not a rate's). */
    void newEpoch() {
        at = 0;
    }

    /** Starts a new interval now: at an epoch's start, and when a worker started or left. */
    void restart(WorkerSet ws) {
        long now = System.nanoTime();
        if (firstBatchAt == 0) firstBatchAt = now;
        at = now;
        wait = counters.waitNanos();
        cpu = processCpuNanos();
        batches = counters.batches();
        for (int w = 0; w < busy.length; w++) {
            busy[w] = counters.busyNanos(w);
            workerCpu[w] = cpuNanos(ws.get(w));
        }
    }

    /**
     * After a delivery in {@code epoch}: when the interval is over, decides and applies the decision to
     * {@code ws}, and returns it (else null). {@code workersNow}: whether workers may be added and retired
     * now (a map epoch's); otherwise a change of count is kept for the next epoch ({@link #workers()}).
     */
    TuningDecision step(int epoch, WorkerSet ws, boolean workersNow) {
        if (at == 0) {
            restart(ws);
            return null;
        }
        long now = System.nanoTime(), wall = now - at;
        if (wall < interval || ws.count(WorkerSet.Slot.STARTING) > 0 || ws.count(WorkerSet.Slot.RETIRING) > 0) return null;
        long delivered = counters.batches() - batches;
        if (delivered < MIN_BATCHES && wall < 4 * interval) return null;

        double stall = (counters.waitNanos() - wait) / (double) wall;
        List<Double> busyShare = new ArrayList<>();
        double busySum = 0, leastBusy = 1;
        long trainerCpu = processCpuNanos() - cpu, used = trainerCpu;
        int active = 0, last = -1;
        // This machine's workers only: a worker host's run on another machine's CPUs, and are not the
        // autotuner's to add or retire (they follow the local slots).
        for (int w = 0; w < ws.localSlots(); w++) {
            if (!ws.isActive(w)) continue;
            active++;
            last = w;
            double share = Math.min(1, (counters.busyNanos(w) - busy[w]) / (double) wall);
            busyShare.add(100 * share);
            busySum += share;
            leastBusy = Math.min(leastBusy, share);
            if (settings.mode() == WorkerMode.PROCESS) used += Math.max(0, cpuNanos(ws.get(w)) - workerCpu[w]);
        }
        double cpusUsed = used / (double) wall;
        // Free for another worker: the CPUs less the trainer's own threads and a CPU per busy worker. A
        // worker's JIT compiles on threads of its own for its first seconds; counted, they would keep the
        // loader from adding a worker through the whole warm-up, the time a short job has.
        double trainer = Math.max(0, trainerCpu / (double) wall - (settings.mode() == WorkerMode.THREAD ? busySum : 0));
        double free = cpus - trainer - busySum;

        String change = "none", reason;
        int before = prefetch;
        if (stall > STALL) {
            if (sizing.autoPrefetch() && leastBusy < IDLE && prefetch < sizing.maxPrefetch()) {
                prefetch = Math.min(sizing.maxPrefetch(), 2 * prefetch);
                change = "prefetchFactor " + before + " -> " + prefetch;
                reason = "the trainer waited while a worker was idle: ask further ahead";
            } else if (sizing.autoWorkers() && active < sizing.maxWorkers() && free >= FREE_FOR_A_WORKER) {
                int slot = -1;
                if (workersNow) {
                    try {
                        slot = ws.add();
                    } catch (RuntimeException e) {
                        DataLoader.LOG.warn("ringloader autotune: could not start another worker: {}", e.toString());
                        restart(ws);
                        return null;
                    }
                }
                workers = active + 1;
                change = workersNow ? "add worker " + slot : "add a worker for the next epoch";
                reason = String.format(java.util.Locale.ROOT, "the trainer waited and %.2f CPUs were free", free);
            } else if (sizing.autoWorkers() && active >= sizing.maxWorkers()) {
                reason = "the trainer waited, but the loader runs its most workers (" + sizing.maxWorkers() + ": a worker per CPU, within memoryBudget)";
            } else if (sizing.autoWorkers()) {
                reason = String.format(java.util.Locale.ROOT, "the trainer waited, but only %.2f CPUs were free: another worker would slow the others", free);
            } else {
                reason = "the trainer waited, but the workers were busy: nothing to ask further ahead for";
            }
        } else if (stall < NO_STALL && sizing.autoWorkers() && active > 1 && busySum < (active - 1) * RETIRE_BELOW) {
            if (workersNow) ws.retire(last);
            workers = active - 1;
            change = workersNow ? "retire worker " + last : "retire a worker at the next epoch";
            reason = String.format(java.util.Locale.ROOT, "the trainer did not wait, and %d worker%s would do the work of %d, %.0f%% busy",
                    active - 1, active == 2 ? "" : "s", active, 100 * busySum / (active - 1));
        } else {
            reason = stall > NO_STALL ? "the trainer waited a little: leave it" : "the trainer did not wait";
        }
        TuningDecision d = new TuningDecision(Duration.ofNanos(now - firstBatchAt), epoch, counters.batches(), Duration.ofNanos(wall),
                100 * stall, List.copyOf(busyShare), cpusUsed, free, cpus, workers, prefetch, change, reason);
        keep(d);
        interval = d.changed() ? FIRST_INTERVAL : Math.min(LONGEST_INTERVAL, 2 * interval);
        restart(ws);
        return d;
    }

    private synchronized void keep(TuningDecision d) {
        if (d.changed()) DataLoader.LOG.info("{}", d);
        else DataLoader.LOG.debug("{}", d);
        decisions.add(d);
        if (decisions.size() > KEPT) {
            // Drop the oldest decision that changed nothing; changes are the story, and stay.
            for (int i = 0; i < decisions.size(); i++) {
                if (!decisions.get(i).changed()) {
                    decisions.remove(i);
                    return;
                }
            }
        }
    }

    private static long processCpuNanos() {
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os.getProcessCpuTime();
    }

    /** The CPU time a worker's process used (utime + stime of /proc/PID/stat), or 0 (no process of its own, or gone). */
    private static long cpuNanos(Worker w) {
        if (w == null || w instanceof io.ringloader.worker.RemoteWorker || w.pid() == ProcessHandle.current().pid()) return 0;
        try {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc", Long.toString(w.pid()), "stat"));
            String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
            return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * NANOS_PER_TICK; // fields 14 and 15, utime and stime
        } catch (java.io.IOException | RuntimeException gone) {
            return 0;
        }
    }
}
