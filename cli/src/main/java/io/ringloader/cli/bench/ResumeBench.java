package io.ringloader.cli.bench;

import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderState;
import io.ringloader.os.Posix;
import io.ringloader.worker.WorkerMode;

import java.util.Arrays;
import java.util.Iterator;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;

/**
 * {@code ringloader bench --workload resume [--workers N]}: what surviving costs, on {@code tiny}'s dataset
 * (1,024 batches of 256) with process workers.
 * <ul>
 *   <li>{@code resume}: from building a loader with {@code resumeFrom} a state at batch 900 to holding that
 *       batch, against a fresh loader's first batch, interleaved, 5 of each (medians). Resuming reads no
 *       sample before the state, so both should cost a loader's start-up.</li>
 *   <li>{@code replace}: a worker killed with {@code kill -9} in the middle of an epoch, 5 times: from the kill
 *       to the kernel's report of its exit (the trainer's rings close then), and the longest wait for a batch
 *       after it (the successor's JVM boot, its dataset's open, and its first batch).</li>
 * </ul>
 */
final class ResumeBench {
    private ResumeBench() {}

    private static final int RESUME_AT = 900, ROUNDS = 5;

    static void run(int workers) throws Exception {
        LoaderState state;
        try (DataLoader l = loader(0, null)) {
            Iterator<Batch> it = l.iterator();
            for (int i = 0; i < RESUME_AT; i++) it.next().close();
            state = l.state();
        }
        double[] fresh = new double[ROUNDS], resumed = new double[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            fresh[r] = firstBatchMillis(workers, null, 0);
            resumed[r] = firstBatchMillis(workers, state, RESUME_AT);
        }
        double f = median(fresh), s = median(resumed);
        System.out.println(String.format(Locale.ROOT,
                "{\"impl\":\"ringloader-process\",\"workload\":\"resume\",\"workers\":%d,\"resume_at\":%d,\"batches\":1024,"
                        + "\"resume_ms\":%.1f,\"fresh_ms\":%.1f,\"ratio\":%.2f,\"all_resume_ms\":%s,\"all_fresh_ms\":%s}",
                workers, RESUME_AT, s, f, s / f, round(resumed), round(fresh)));

        double[] exit = new double[ROUNDS], stall = new double[ROUNDS], next = new double[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            try (DataLoader l = loader(workers, null)) {
                Iterator<Batch> it = l.iterator();
                for (int i = 0; i < 100 + 37 * r; i++) it.next().close();
                long victim = l.workerPids().get(r % workers);
                long[] exitedAt = new long[1];
                CompletableFuture<Void> exited = ProcessHandle.of(victim).orElseThrow().onExit().thenRun(() -> exitedAt[0] = System.nanoTime());
                long killed = System.nanoTime();
                Posix.kill(victim, Posix.SIGKILL);
                long last = killed, longest = 0;
                for (int i = 0; i < 200 && it.hasNext(); i++) {
                    it.next().close();
                    long now = System.nanoTime();
                    if (i == 0) next[r] = (now - killed) / 1e6;
                    longest = Math.max(longest, now - last);
                    last = now;
                }
                exited.join();
                exit[r] = (exitedAt[0] - killed) / 1e6;
                stall[r] = longest / 1e6;
                if (l.stats().workerRestarts() != 1) throw new IllegalStateException("bench: expected 1 replacement, the loader made " + l.stats().workerRestarts());
            }
        }
        System.out.println(String.format(Locale.ROOT,
                "{\"impl\":\"ringloader-process\",\"workload\":\"replace\",\"workers\":%d,\"kill_to_exit_ms\":%.1f,\"kill_to_next_batch_ms\":%.1f,"
                        + "\"longest_wait_after_kill_ms\":%.1f,\"all_longest_wait_ms\":%s}",
                workers, median(exit), median(next), median(stall), round(stall)));
    }

    private static DataLoader loader(int workers, LoaderState from) {
        DataLoader.Builder b = LoaderBench.builder(new Workloads.Tiny(), 256, workers == 0 ? WorkerMode.INLINE : WorkerMode.PROCESS, workers)
                .shuffle(true).seed(42);
        if (from != null) b.resumeFrom(from);
        return b.build();
    }

    private static double firstBatchMillis(int workers, LoaderState from, long expectedIndex) {
        long t0 = System.nanoTime();
        try (DataLoader l = loader(workers, from)) {
            try (Batch b = l.iterator().next()) {
                double ms = (System.nanoTime() - t0) / 1e6;
                if (b.index() != expectedIndex) throw new IllegalStateException("bench: the first batch is #" + b.index() + ", not #" + expectedIndex);
                return ms;
            }
        }
    }

    private static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static String round(double[] xs) {
        return Arrays.toString(Arrays.stream(xs).map(x -> Math.round(x * 10) / 10.0).toArray());
    }
}
