package io.ringloader.cli.demo;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.initializer.XavierInitializer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import io.ringloader.adapters.shapes.Shapes;
import io.ringloader.adapters.shapes.ShapesDataset;
import io.ringloader.djl.DjlDataset;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderStats;
import io.ringloader.worker.WorkerMode;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * {@code ringloader demo}: a small CNN, trained with DJL's PyTorch engine on the built-in "shapes"
 * dataset, fed by ringloader's process workers (which decode and augment the pictures).
 */
public final class TrainDemo {
    private TrainDemo() {}

    record Options(int epochs, int workers, WorkerMode mode, int batchSize, long seed, int train, int test, boolean json, Path dataDir,
                   int prefetch, Path checkpoint, int checkpointEvery, Path resume, List<String> workerJvm) {
        static Options parse(String[] args) {
            CommonOptions c = new CommonOptions(4, 64, 8000, 2000);
            int prefetch = -1, every = 50;
            Path checkpoint = null, resume = null;
            List<String> workerJvm = List.of();
            for (int i = 0; i < args.length; i++) {
                int used = c.take(args, i);
                if (used > 0) {
                    i += used - 1;
                    continue;
                }
                switch (args[i]) {
                    case "--prefetch" -> prefetch = Integer.parseInt(args[++i]);
                    case "--checkpoint" -> checkpoint = Path.of(args[++i]);
                    case "--checkpoint-every" -> every = Integer.parseInt(args[++i]);
                    case "--resume" -> resume = Path.of(args[++i]);
                    case "--worker-jvm" -> workerJvm = List.of(args[++i].trim().split("\\s+"));
                    default -> throw new IllegalArgumentException("demo: unknown option " + args[i] + " (known: " + CommonOptions.KNOWN
                            + ", --prefetch K (batches DJL gets ready ahead; 0: none), --checkpoint DIR, --checkpoint-every STEPS (default 50),"
                            + " --resume DIR, --worker-jvm OPTIONS (extra JVM options for process workers))");
                }
            }
            if (every < 1) throw new IllegalArgumentException("demo: --checkpoint-every must be at least 1, got " + every);
            return new Options(c.epochs, c.workers, c.effectiveMode(), c.batchSize, c.seed, c.train, c.test, c.json, c.dataDir, prefetch,
                    checkpoint, every, resume, workerJvm);
        }
    }

    public static void run(String[] args) throws Exception {
        Options o = Options.parse(args);
        long t0 = System.nanoTime();
        System.out.printf(Locale.ROOT, "ringloader demo: a CNN learns %d shapes (%s) with DJL's PyTorch engine, fed by %s.%n",
                Shapes.CLASSES.size(), String.join(", ", Shapes.CLASSES),
                o.mode() == WorkerMode.INLINE ? "the training thread itself" : o.workers() + " " + o.mode().name().toLowerCase(Locale.ROOT) + " workers");
        Path trainFile = Shapes.ensure(o.dataDir(), "train", o.train(), o.seed());
        Path testFile = Shapes.ensure(o.dataDir(), "test", o.test(), o.seed());
        System.out.printf(Locale.ROOT, "dataset: %d training and %d held-out pictures in %s (%.1f s)%n",
                o.train(), o.test(), o.dataDir(), (System.nanoTime() - t0) / 1e9);

        Checkpoint resumed = o.resume() == null ? null : Checkpoint.read(o.resume());
        if (resumed != null) {
            System.out.printf(Locale.ROOT, "resuming from %s: epoch %d, after batch %d of it%n", o.resume(), resumed.state().epoch() + 1,
                    resumed.state().batches());
        }
        try (DataLoader trainLoader = loader(new ShapesDataset(trainFile, true), o, true, resumed == null ? null : resumed.state());
             DataLoader testLoader = loader(new ShapesDataset(testFile, false), o, false, null);
             Model model = Model.newInstance("shapes-cnn", "PyTorch");
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            model.setBlock(network(Shapes.CLASSES.size()));
            if (resumed != null) model.load(o.resume(), Checkpoint.MODEL);
            DjlDataset train = dataset(trainLoader, o), test = dataset(testLoader, o);
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optInitializer(new XavierInitializer(), "weight")
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(2e-3f)).build());
            double accuracy = 0;
            long trainNanos = 0;
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(new Shape(o.batchSize(), 3, ShapesDataset.CROP, ShapesDataset.CROP));
                System.out.printf(Locale.ROOT, "engine: %s %s; start-up %.1f s%n", Engine.getInstance().getEngineName(),
                        Engine.getInstance().getVersion(), (System.nanoTime() - t0) / 1e9);
                int first = resumed == null ? 1 : resumed.state().epoch() + 1;
                long steps = 0;
                for (int epoch = first; epoch <= o.epochs(); epoch++) {
                    long e0 = System.nanoTime();
                    Duration before = train.waiting();
                    int batches = (o.train() + o.batchSize() - 1) / o.batchSize();
                    Progress bar = new Progress(epoch, o.epochs(), epoch == first && resumed != null ? batches - (int) resumed.state().batches() : batches);
                    for (Batch batch : train.getData(manager)) {
                        try (batch) {
                            float[] lossAndCorrect = step(trainer, batch);
                            bar.update(lossAndCorrect[0], lossAndCorrect[1], batch.getSize(), stall(before, train.waiting(), System.nanoTime() - e0));
                        }
                        if (o.checkpoint() != null && ++steps % o.checkpointEvery() == 0) Checkpoint.write(o.checkpoint(), model, train.state());
                    }
                    long epochNanos = System.nanoTime() - e0;
                    trainNanos += epochNanos;
                    if (o.checkpoint() != null) Checkpoint.write(o.checkpoint(), model, train.state());
                    accuracy = evaluate(trainer, test, manager);
                    bar.finish(accuracy, stall(before, train.waiting(), epochNanos));
                }
            }
            LoaderStats s = trainLoader.stats();
            long rssMib = s.largestWorkerPrivateMemoryBytes() >> 20;
            double seconds = (System.nanoTime() - t0) / 1e9;
            // The training thread's wait for DJL batches (the loader's own wait is its prefetch thread's).
            double stallPct = 100.0 * train.waiting().toNanos() / Math.max(1, trainNanos);
            System.out.printf(Locale.ROOT, "summary: held-out accuracy %.3f after %d epochs; %.1f s in all (%.1f s training);"
                            + " the trainer waited for data %.1f%% of its training time; %d batches, %d samples from %d %s workers%s%n",
                    accuracy, o.epochs(), seconds, trainNanos / 1e9, stallPct, s.batches(), s.samples(), o.workers(),
                    o.mode().name().toLowerCase(Locale.ROOT), rssMib < 0 ? "" : " (up to " + rssMib + " MiB of private memory each)");
            if (o.json()) {
                System.out.printf(Locale.ROOT, "{\"accuracy\":%.4f,\"seconds\":%.1f,\"train_seconds\":%.1f,\"stall_pct\":%.2f,\"epochs\":%d,"
                                + "\"workers\":%d,\"mode\":\"%s\",\"batches\":%d,\"samples\":%d,\"worker_rss_mib\":%d}%n", accuracy, seconds, trainNanos / 1e9, stallPct,
                        o.epochs(), o.workers(), o.mode().name().toLowerCase(Locale.ROOT), s.batches(), s.samples(), rssMib);
            }
        }
    }

    private static DjlDataset dataset(DataLoader loader, Options o) {
        DjlDataset.Builder b = DjlDataset.of(loader).data("image").labels("label");
        return (o.prefetch() >= 0 ? b.prefetch(o.prefetch()) : b).build();
    }

    private static DataLoader loader(ShapesDataset ds, Options o, boolean train, io.ringloader.loader.LoaderState resume) {
        DataLoader.Builder b = DataLoader.builder(ds).batchSize(o.batchSize()).shuffle(train).seed(o.seed())
                .mode(o.mode()).numWorkers(o.mode() == WorkerMode.INLINE ? 0 : train ? o.workers() : 1)
                .persistentWorkers(true);
        if (!o.workerJvm().isEmpty()) b.workerJvmOptions(o.workerJvm().toArray(String[]::new));
        return (resume == null ? b : b.resumeFrom(resume)).build();
    }

    /** conv 16 - pool - conv 32 - pool - conv 64 - pool - dense 64 - dense classes, on [3, 32, 32]. */
    static SequentialBlock network(int classes) {
        SequentialBlock net = new SequentialBlock();
        for (int filters : new int[] {16, 32, 64}) {
            net.add(Conv2d.builder().setKernelShape(new Shape(3, 3)).optPadding(new Shape(1, 1)).setFilters(filters).build())
                    .add(Activation::relu)
                    .add(Pool.maxPool2dBlock(new Shape(2, 2), new Shape(2, 2)));
        }
        return net.add(Blocks.batchFlattenBlock())
                .add(Linear.builder().setUnits(64).build())
                .add(Activation::relu)
                .add(Linear.builder().setUnits(classes).build());
    }

    /** One optimisation step; returns {loss, correct predictions}. */
    static float[] step(Trainer trainer, Batch batch) {
        NDList labels = batch.getLabels();
        try (GradientCollector collector = trainer.newGradientCollector()) {
            NDList predictions = trainer.forward(batch.getData(), labels);
            NDArray loss = trainer.getLoss().evaluate(labels, predictions);
            collector.backward(loss);
            float correct = predictions.head().argMax(1).eq(labels.head()).sum().getLong();
            trainer.step();
            return new float[] {loss.getFloat(), correct};
        }
    }

    /** Held-out accuracy. */
    static double evaluate(Trainer trainer, DjlDataset test, NDManager manager) {
        long correct = 0, total = 0;
        for (Batch batch : test.getData(manager)) {
            try (batch) {
                NDArray predictions = trainer.evaluate(batch.getData()).head();
                correct += predictions.argMax(1).eq(batch.getLabels().head()).sum().getLong();
                total += batch.getSize();
            }
        }
        return (double) correct / Math.max(1, total);
    }

    static double stall(Duration before, Duration now, long elapsedNanos) {
        return 100.0 * (now.toNanos() - before.toNanos()) / Math.max(1, elapsedNanos);
    }

    /** The per-epoch progress bar: batches/s, loss, accuracy and data stall, redrawn in place on a terminal. */
    static final class Progress {
        private final int epoch, epochs, total;
        private final long start = System.nanoTime();
        private final boolean tty = System.console() != null;
        private int batches, samples;
        private double lossSum, correct;
        private double stallPct;
        private int lastQuarter;

        Progress(int epoch, int epochs, int total) {
            this.epoch = epoch;
            this.epochs = epochs;
            this.total = total;
        }

        void update(float loss, float correct, int size, double stallPct) {
            batches++;
            samples += size;
            lossSum += loss;
            this.correct += correct;
            this.stallPct = stallPct;
            int quarter = 4 * batches / Math.max(1, total);
            if (tty) System.out.print("\r" + line());
            else if (quarter > lastQuarter && batches < total) System.out.println(line());
            lastQuarter = quarter;
        }

        String line() {
            int width = 24, done = Math.min(width, width * batches / Math.max(1, total));
            double s = (System.nanoTime() - start) / 1e9;
            return String.format(Locale.ROOT, "epoch %d/%d [%s%s] %d/%d  %.0f batches/s  loss %.3f  accuracy %.3f  data stall %.1f%%",
                    epoch, epochs, "#".repeat(done), ".".repeat(width - done), batches, total, batches / Math.max(1e-9, s),
                    lossSum / Math.max(1, batches), correct / Math.max(1, samples), stallPct);
        }

        void finish(double heldOut, double stallPct) {
            this.stallPct = stallPct;
            System.out.println((tty ? "\r" : "") + line() + String.format(Locale.ROOT, "  held-out accuracy %.3f", heldOut));
        }
    }
}
