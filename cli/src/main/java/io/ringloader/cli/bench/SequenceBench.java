package io.ringloader.cli.bench;

import io.ringloader.data.Padding;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderStats;
import io.ringloader.sampler.BatchSampler;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.IntVector;

import java.util.Locale;

/**
 * {@code ringloader bench --workload seq}: token sequences of long-tailed lengths ({@link Workloads.Sequences}),
 * padded in the workers to each batch's longest, batched three ways: 32 shuffled samples, 32 samples of
 * similar length ({@code bucketByLength}), and a budget of 16,384 padded tokens ({@code maxTokens}); and
 * packed ({@code Padding.pack}) into 8 rows of 2,048 tokens by batches that fill them
 * ({@code BatchSampler.packed}). Epoch 2 is timed; one JSON line per way: tokens per second (the samples' own tokens, and with padding) and the
 * share of padding.
 */
final class SequenceBench {
    private SequenceBench() {}

    static final int BATCH = 32, MAX_TOKENS = 16_384, PACKED_ROWS = 8, ROW_LENGTH = 2_048;

    static void run(String impl, WorkerMode mode, int workers) {
        for (String batching : new String[] {"fixed", "bucketed", "budget", "packed"}) {
            DataLoader.Builder b = LoaderBench.builder(new Workloads.Sequences(), BATCH, mode, workers).seed(42).persistentWorkers(true);
            b = switch (batching) {
                case "fixed" -> b.shuffle(true).pad("tokens", Padding.toLongest());
                case "bucketed" -> b.batchSampler(BatchSampler.bucketByLength(BATCH)).pad("tokens", Padding.toLongest());
                case "budget" -> b.batchSampler(BatchSampler.maxTokens(MAX_TOKENS)).pad("tokens", Padding.toLongest());
                default -> b.batchSampler(BatchSampler.packed(PACKED_ROWS, ROW_LENGTH)).pad("tokens", Padding.pack(PACKED_ROWS, ROW_LENGTH));
            };
            try (DataLoader loader = b.build()) {
                double[] first = epoch(loader);
                double[] timed = epoch(loader);
                System.out.println(String.format(Locale.ROOT, "{\"impl\":\"%s\",\"workload\":\"seq\",\"batching\":\"%s\",\"workers\":%d,"
                                + "\"tokens_per_s\":%.0f,\"padded_tokens_per_s\":%.0f,\"padding_share\":%.4f,\"epoch1_tokens_per_s\":%.0f,\"batches\":%.0f}",
                        impl, batching, mode == WorkerMode.INLINE ? 0 : workers, timed[0], timed[1], timed[2], first[0], timed[3]));
            }
        }
    }

    /** One epoch: its own tokens per second, padded tokens per second, the share of padding, and batches. */
    private static double[] epoch(DataLoader loader) {
        LoaderStats.Padding before = loader.stats().padding();
        long tokens = 0, batches = 0;
        long t0 = System.nanoTime();
        for (Batch b : loader) {
            try (b) {
                IntVector lengths = (IntVector) b.root().getVector("tokens_length");
                for (int r = 0; r < b.size(); r++) tokens += lengths.get(r);
                batches++;
            }
        }
        double s = (System.nanoTime() - t0) / 1e9;
        LoaderStats.Padding after = loader.stats().padding();
        long values = after.values() - before.values(), padding = after.padding() - before.padding();
        return new double[] {tokens / s, values / s, values == 0 ? 0 : (double) padding / values, batches};
    }
}
