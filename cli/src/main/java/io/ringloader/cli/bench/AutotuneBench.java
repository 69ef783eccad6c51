package io.ringloader.cli.bench;

import io.ringloader.data.MapDataset;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderStats;
import io.ringloader.loader.TuningDecision;
import io.ringloader.worker.WorkerMode;

import java.util.Locale;

/**
 * {@code ringloader bench --workload cpu-long --workers auto [--consumer-ms X]}: numWorkers(AUTO) against
 * the best fixed worker count, found by a search over 1 to 4 workers in the same run. Each run is a fresh
 * loader (its own worker JVMs) timed over epoch 1 and epoch 2 as WORKLOADS.md says; the consumer spins
 * {@code X} ms per batch (a trainer's step) besides adding up the labels. One JSON line per run, then a
 * summary line with the ratios; the autotuner's decisions go to stderr.
 */
final class AutotuneBench {
    private AutotuneBench() {}

    static final int MOST_FIXED = 4;

    record Run(String line, double rate, double epoch1Rate) {}

    static void run(String impl, String workload, MapDataset ds, int batch, WorkerMode mode) {
        Run best = null;
        int bestWorkers = 0;
        for (int n = 1; n <= MOST_FIXED; n++) {
            Run r = one(impl, workload, ds, batch, mode, n);
            System.out.println(r.line());
            if (best == null || r.rate() > best.rate()) {
                best = r;
                bestWorkers = n;
            }
        }
        Run auto = one(impl, workload, ds, batch, mode, DataLoader.AUTO);
        System.out.println(auto.line());
        System.out.printf(Locale.ROOT, "{\"impl\":\"autotune-summary\",\"workload\":\"%s\",\"consumer_ms\":%.3f,\"best_fixed_workers\":%d,"
                        + "\"best_fixed_samples_per_s\":%.1f,\"auto_samples_per_s\":%.1f,\"auto_vs_best\":%.3f,\"epoch1_auto_vs_best\":%.3f}%n",
                workload, LoaderBench.consumerMillis(), bestWorkers, best.rate(), auto.rate(), auto.rate() / best.rate(),
                auto.epoch1Rate() / best.epoch1Rate());
    }

    private static Run one(String impl, String workload, MapDataset ds, int batch, WorkerMode mode, int workers) {
        try (DataLoader loader = LoaderBench.builder(ds, batch, mode, workers).shuffle(true).seed(42).persistentWorkers(true).build()) {
            LoaderBench.Measured first = LoaderBench.epoch("epoch 1", workload, loader);
            int afterFirst = loader.numWorkers(), prefetchAfterFirst = loader.prefetchFactor();
            LoaderBench.Measured timed = LoaderBench.epoch("epoch 2", workload, loader);
            LoaderStats stats = loader.stats();
            long busy = stats.workers().stream().mapToLong(w -> w.busy().toNanos()).sum();
            String extra = "";
            if (workers == DataLoader.AUTO) {
                stats.tuning().forEach(d -> System.err.println(d));
                long changes = stats.tuning().stream().filter(TuningDecision::changed).count();
                double lastChange = stats.tuning().stream().filter(TuningDecision::changed).mapToDouble(d -> d.at().toNanos() / 1e9).max().orElse(0);
                extra = String.format(Locale.ROOT, ",\"workers_after_epoch1\":%d,\"prefetch_after_epoch1\":%d,\"workers_at_end\":%d,"
                                + "\"prefetch_at_end\":%d,\"decisions\":%d,\"changes\":%d,\"last_change_s\":%.2f",
                        afterFirst, prefetchAfterFirst, loader.numWorkers(), loader.prefetchFactor(), stats.tuning().size(), changes, lastChange);
            }
            String line = String.format(Locale.ROOT, "{\"impl\":\"%s\",\"workload\":\"%s\",\"workers\":%s,\"consumer_ms\":%.3f,"
                            + "\"samples_per_s\":%.1f,\"epoch1_samples_per_s\":%.1f,\"worker_ms_per_batch\":%.3f,\"stall_pct\":%.1f%s,\"check\":%d}",
                    impl, workload, workers == DataLoader.AUTO ? "\"auto\"" : Integer.toString(workers), LoaderBench.consumerMillis(),
                    timed.rate(), first.rate(), busy / 1e6 / Math.max(1, stats.batches()), stats.stallPercent(), extra, timed.checksum());
            return new Run(line, timed.rate(), first.rate());
        }
    }
}
