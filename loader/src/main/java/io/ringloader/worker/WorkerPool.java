package io.ringloader.worker;

import io.ringloader.os.ChildProcess;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Spare worker JVMs, booted ahead of time for the next loader of this JVM ({@code
 * DataLoader.Builder.warmWorkers(true)} asks for them).
 *
 * <p>A spare is a fresh JVM that has never served a loader: it has booted, armed its parent-death signal
 * and waits on stdin. A loader that takes one lays out the segment and tells it the segment's name; the
 * expensive part of a worker's start, the JVM's, is already done. Spares are never recycled: a worker
 * that served a loader exits with it, so nothing of one loader's dataset (its classes, its static state,
 * its connections) can reach the next. Spares are kept per list of worker JVM options, since those are
 * fixed when a JVM starts.
 *
 * <p>Spares end with this JVM (a shutdown hook closes their stdin and stops them; the parent-death
 * signal covers a {@code kill -9}), or with {@link #shutdown()}.
 */
public final class WorkerPool {
    private WorkerPool() {}

    private static final Map<List<String>, ArrayDeque<ChildProcess>> SPARES = new HashMap<>();
    private static final Map<List<String>, Integer> STARTING = new HashMap<>();
    private static boolean hookInstalled;
    /** Bumped by {@link #shutdown()}: a spare that finishes starting after it is stopped, not kept. */
    private static int generation;

    /** A spare started with {@code jvmOptions}, preferring one that has booted; null if there is none. */
    static synchronized ChildProcess take(List<String> jvmOptions) {
        ArrayDeque<ChildProcess> spares = SPARES.get(jvmOptions);
        if (spares == null) return null;
        spares.removeIf(c -> !c.isAlive());
        for (ChildProcess c : spares) {
            if (c.saidReady()) {
                spares.remove(c);
                return c;
            }
        }
        return spares.pollFirst();
    }

    /** Starts spares in the background until there are {@code count} for {@code jvmOptions}. */
    public static synchronized void keep(List<String> jvmOptions, int count) {
        List<String> key = List.copyOf(jvmOptions);
        ArrayDeque<ChildProcess> spares = SPARES.computeIfAbsent(key, k -> new ArrayDeque<>());
        spares.removeIf(c -> !c.isAlive());
        int missing = count - spares.size() - STARTING.getOrDefault(key, 0);
        if (missing <= 0) return;
        if (!hookInstalled) {
            Runtime.getRuntime().addShutdownHook(new Thread(WorkerPool::shutdown, "ringloader-spares-shutdown"));
            hookInstalled = true;
        }
        STARTING.merge(key, missing, Integer::sum);
        int started = generation;
        for (int i = 0; i < missing; i++) {
            ProcessWorker.spawnSpare(key).whenComplete((child, failure) -> {
                boolean keepIt;
                synchronized (WorkerPool.class) {
                    STARTING.merge(key, -1, Integer::sum);
                    keepIt = child != null && started == generation;
                    if (keepIt) SPARES.computeIfAbsent(key, k -> new ArrayDeque<>()).add(child);
                }
                if (child != null && !keepIt) child.stop(0);
            });
        }
    }

    /** The pids of the spares for {@code jvmOptions} (booted or booting). */
    public static synchronized List<Long> spares(List<String> jvmOptions) {
        ArrayDeque<ChildProcess> spares = SPARES.get(jvmOptions);
        return spares == null ? List.of() : spares.stream().filter(ChildProcess::isAlive).map(ChildProcess::pid).toList();
    }

    /** Waits until {@code count} spares for {@code jvmOptions} have booted; false on timeout. */
    public static boolean awaitBooted(List<String> jvmOptions, int count, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            synchronized (WorkerPool.class) {
                ArrayDeque<ChildProcess> spares = SPARES.get(jvmOptions);
                if (spares != null && spares.stream().filter(c -> c.isAlive() && c.saidReady()).count() >= count) return true;
            }
            Thread.sleep(5);
        }
        return false;
    }

    /** Stops every spare: their stdin is closed (they exit), then they are stopped for good. */
    public static void shutdown() {
        List<ChildProcess> all = new ArrayList<>();
        synchronized (WorkerPool.class) {
            SPARES.values().forEach(all::addAll);
            SPARES.clear();
            generation++;
        }
        for (ChildProcess c : all) {
            try {
                c.process().getOutputStream().close();
            } catch (java.io.IOException ignored) {
                // already gone
            }
        }
        for (ChildProcess c : all) c.stop(200);
    }
}
