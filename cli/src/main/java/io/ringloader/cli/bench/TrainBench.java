package io.ringloader.cli.bench;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.dataset.Dataset;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.djl.DjlDataset;
import io.ringloader.loader.DataLoader;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.types.pojo.Schema;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * {@code ringloader bench --workload train}: DESIGN.md's 784-128-10 MLP on 60,000 generated samples,
 * batch 64, fed once by ringloader (2 process workers) and once by DJL's own {@code RandomAccessDataset}
 * pipeline (2 loader threads), in one run: each in a fresh JVM of its own. Epoch 1 warms up; epoch 2 is timed
 * ({@code --timed-epoch K}: a later one).
 */
public final class TrainBench {
    private TrainBench() {}

    static final int SAMPLES = 60_000, FEATURES = 784, BATCH = 64;

    /** Feature j of sample i (label i % 10): noise in [0, 0.5), plus 1 where j % 10 equals the label. */
    static float feature(long i, int j) {
        return ((i * 31 + j * 17) % 1000) / 2000f + (j % 10 == i % 10 ? 1f : 0f);
    }

    /** The samples for ringloader: written straight into the batch. */
    public record Mlp() implements MapDataset {
        @Override
        public Schema sampleSchema() {
            return Columns.schema(Columns.tensor("x", Columns.DType.FLOAT32, FEATURES), Columns.int64("label"));
        }

        @Override
        public long size() {
            return SAMPLES;
        }

        @Override
        public void read(long i, SampleWriter out) {
            MemorySegment x = out.tensor(0);
            for (int j = 0; j < FEATURES; j++) x.setAtIndex(JAVA_FLOAT, j, feature(i, j));
            out.setLong(1, i % 10);
        }
    }

    /**
     * Both pipelines, each in a JVM of its own ({@code --peer none}, then {@code --peer djl}), one after the
     * other. In one JVM the second would be timed with the training step's code (DJL's forward, backward
     * and optimizer, the same for both) already compiled by the first one's epochs: with DJL second, its
     * step (time per step less its stall) took 0.78-1.07 ms in epoch 2, median 1.02, against 1.04-1.21 ms,
     * median 1.08, in a JVM of its own (5 and 4 runs).
     */
    static void inFreshJvms(String[] args) throws Exception {
        for (String peer : List.of("none", "djl")) {
            List<String> own = new ArrayList<>(List.of(args));
            own.addAll(List.of("--peer", peer));
            Process p = new ProcessBuilder(CompareBench.benchCommand(own)).inheritIO().start();
            if (p.waitFor() != 0) throw new IllegalStateException("bench --workload train --peer " + peer + " exited with code " + p.exitValue());
        }
    }

    /**
     * Trains fed by ringloader ({@code workers} of {@code mode}), then fed by DJL's pipeline with
     * {@code djlThreads} loader threads; either can be left out. {@code djlPrefetch}: the DjlDataset's
     * prefetch ({@code --djl-prefetch}; -1 for its default).
     */
    public static void run(int workers, WorkerMode mode, boolean ringloader, boolean djl, int djlThreads, int timedEpoch, int djlPrefetch)
            throws Exception {
        if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
            System.setProperty("ai.djl.pytorch.num_threads", "1"); // leave the other core to the loaders
        }
        if (ringloader) {
            try (DataLoader loader = DataLoader.builder(new Mlp()).batchSize(BATCH).shuffle(true).seed(42)
                    .numWorkers(mode == WorkerMode.INLINE ? 0 : workers).mode(mode).persistentWorkers(true).build()) {
                String impl = "ringloader-" + loader.mode().name().toLowerCase(Locale.ROOT);
                DjlDataset.Builder ds = DjlDataset.of(loader).data("x").labels("label");
                if (djlPrefetch >= 0) ds.prefetch(djlPrefetch);
                System.out.println(measure(impl, loader.numWorkers(), ds.build(), null, timedEpoch));
            }
        }
        if (djl) {
            ExecutorService threads = Executors.newFixedThreadPool(djlThreads);
            try {
                // The same samples for DJL's pipeline: one NDArray per sample, stacked by DJL into batches.
                Dataset samples = new DjlPipelineBench.Samples(new DjlPipelineBench.Samples.Builder().setSampling(BATCH, true)
                        .optPrefetchNumber(2 * djlThreads), new Mlp());
                System.out.println(measure("djl", djlThreads, samples, threads, timedEpoch));
            } finally {
                threads.shutdownNow();
            }
        }
    }

    /**
     * Epochs of training up to {@code timedEpoch}, which is timed (epoch 1 warms up). When it is later than
     * epoch 2, epoch 2's figures are printed beside it: the JIT of a fresh trainer JVM is still compiling
     * DJL's and the loader's code then, while later epochs show a training run's steady state.
     */
    static String measure(String impl, int workers, Dataset data, ExecutorService threads, int timedEpoch) throws Exception {
        try (Model model = Model.newInstance("mlp", "PyTorch"); NDManager manager = NDManager.newBaseManager("PyTorch")) {
            model.setBlock(new SequentialBlock().add(Linear.builder().setUnits(128).build()).add(Activation::relu)
                    .add(Linear.builder().setUnits(10).build()));
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optOptimizer(Optimizer.sgd().setLearningRateTracker(Tracker.fixed(0.1f)).build());
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(new Shape(BATCH, FEATURES));
                String extra = "";
                for (int e = 1; e < timedEpoch; e++) {
                    Result r = epoch(trainer, data, manager, threads);
                    if (e == 2) extra = String.format(Locale.ROOT, ",\"timed_epoch\":%d,\"epoch2_steps_per_s\":%.1f,\"epoch2_stall_pct\":%.2f",
                            timedEpoch, r.steps() / (r.nanos() / 1e9), 100.0 * r.waitNanos() / r.nanos());
                }
                if (!(data instanceof DjlDataset ring)) return epoch(trainer, data, manager, threads).json(impl, workers, extra);
                // For ringloader, also the share of time the loader itself (its prefetch thread, when the
                // DjlDataset has one) waited for a worker; stall_pct is the training thread's wait.
                var before = ring.loader().stats();
                Result r = epoch(trainer, data, manager, threads);
                var after = ring.loader().stats();
                double waitPct = 100.0 * (after.waiting().toNanos() - before.waiting().toNanos()) / r.nanos();
                return r.json(impl, workers, String.format(Locale.ROOT, ",\"worker_wait_pct\":%.2f", waitPct) + extra);
            }
        }
    }

    record Result(long steps, long nanos, long waitNanos, double accuracy) {
        String json(String impl, int workers, String extra) {
            return String.format(Locale.ROOT, "{\"impl\":\"%s\",\"workload\":\"train\",\"workers\":%d,\"steps_per_s\":%.1f,\"stall_pct\":%.2f%s,\"train_accuracy\":%.3f}",
                    impl, workers, steps / (nanos / 1e9), 100.0 * waitNanos / nanos, extra, accuracy);
        }
    }

    /** One epoch; DJL's pipeline reads with {@code threads} (null: ringloader, whose workers do that). */
    static Result epoch(Trainer trainer, Dataset data, NDManager manager, ExecutorService threads) throws Exception {
        long steps = 0, wait = 0, correct = 0, seen = 0;
        long t0 = System.nanoTime();
        Iterator<Batch> it = (threads == null ? data.getData(manager) : data.getData(manager, threads)).iterator();
        while (true) {
            long w0 = System.nanoTime();
            if (!it.hasNext()) break;
            Batch batch = it.next();
            wait += System.nanoTime() - w0;
            try (batch) {
                try (GradientCollector collector = trainer.newGradientCollector()) {
                    NDList predictions = trainer.forward(batch.getData(), batch.getLabels());
                    NDArray loss = trainer.getLoss().evaluate(batch.getLabels(), predictions);
                    collector.backward(loss);
                    correct += predictions.head().argMax(1).eq(batch.getLabels().head().toType(ai.djl.ndarray.types.DataType.INT64, false)).sum().getLong();
                    seen += batch.getSize();
                }
                trainer.step();
            }
            steps++;
        }
        return new Result(steps, System.nanoTime() - t0, wait, (double) correct / Math.max(1, seen));
    }
}
