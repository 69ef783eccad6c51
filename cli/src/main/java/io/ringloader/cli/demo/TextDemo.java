package io.ringloader.cli.demo;

import ai.djl.Model;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.initializer.XavierInitializer;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import io.ringloader.adapters.text.TextDataset;
import io.ringloader.adapters.text.Topics;
import io.ringloader.adapters.text.WordLevelTokenizer;
import io.ringloader.data.Padding;
import io.ringloader.djl.DjlDataset;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderStats;
import io.ringloader.sampler.BatchSampler;
import io.ringloader.sampler.RandomSampler;
import io.ringloader.worker.WorkerMode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * {@code ringloader demo --task text}: a sequence classifier (embeddings, mean over the tokens, dense)
 * trained with DJL's PyTorch engine on the built-in topics text ({@link Topics}), tokenized by process
 * workers with DJL's HuggingFace tokenizer, batched by length ({@code bucketByLength}) and padded in the
 * workers; it prints the held-out accuracy and the share of padding, beside what shuffled batches of
 * the same size would have padded.
 */
public final class TextDemo {
    private TextDemo() {}

    record Options(int epochs, int workers, WorkerMode mode, int batchSize, long seed, int train, int test, boolean json, Path dataDir,
                   boolean bucketed) {
        static Options parse(String[] args) {
            CommonOptions c = new CommonOptions(3, 32, 16_000, 2_000);
            boolean bucketed = true;
            for (int i = 0; i < args.length; i++) {
                int used = c.take(args, i);
                if (used > 0) {
                    i += used - 1;
                    continue;
                }
                switch (args[i]) {
                    case "--batching" -> bucketed = switch (args[++i]) {
                        case "bucketed" -> true;
                        case "fixed" -> false;
                        default -> throw new IllegalArgumentException("demo --task text: --batching is bucketed or fixed, not " + args[i]);
                    };
                    default -> throw new IllegalArgumentException("demo --task text: unknown option " + args[i] + " (known: "
                            + CommonOptions.KNOWN + ", --batching bucketed|fixed)");
                }
            }
            return new Options(c.epochs, c.workers, c.effectiveMode(), c.batchSize, c.seed, c.train, c.test, c.json, c.dataDir, bucketed);
        }
    }

    public static void run(String[] args) throws Exception {
        Options o = Options.parse(args);
        long t0 = System.nanoTime();
        System.out.printf(Locale.ROOT, "ringloader demo --task text: a sequence classifier learns %d topics (%s) with DJL's PyTorch engine,"
                        + " fed by %s that tokenize, %s and pad.%n", Topics.CLASSES.size(), String.join(", ", Topics.CLASSES),
                o.mode() == WorkerMode.INLINE ? "the training thread itself" : o.workers() + " " + o.mode().name().toLowerCase(Locale.ROOT) + " workers",
                o.bucketed() ? "bucket by length" : "batch shuffled samples");
        Path trainFile = Topics.ensure(o.dataDir(), "train", o.train(), o.seed());
        Path testFile = Topics.ensure(o.dataDir(), "test", o.test(), o.seed());
        Path tokenizer = Topics.tokenizer(trainFile);
        int vocabulary = com.google.gson.JsonParser.parseString(Files.readString(tokenizer)).getAsJsonObject()
                .getAsJsonObject("model").getAsJsonObject("vocab").size();
        TextDataset trainSet = TextDataset.jsonLines(tokenizer, trainFile).label("label").build();
        TextDataset testSet = TextDataset.jsonLines(tokenizer, testFile).label("label").build();
        System.out.printf(Locale.ROOT, "dataset: %d training and %d held-out documents in %s, a vocabulary of %d words (%.1f s)%n",
                o.train(), o.test(), o.dataDir(), vocabulary, (System.nanoTime() - t0) / 1e9);

        try (DataLoader trainLoader = loader(trainSet, o, true);
             DataLoader testLoader = loader(testSet, o, false);
             Model model = Model.newInstance("topics-classifier", "PyTorch");
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            model.setBlock(new BagOfEmbeddings(vocabulary, 32, 64, Topics.CLASSES.size()));
            DjlDataset train = DjlDataset.of(trainLoader).data("tokens", "tokens_mask").labels("label").build();
            DjlDataset test = DjlDataset.of(testLoader).data("tokens", "tokens_mask").labels("label").build();
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .optInitializer(new XavierInitializer(), "weight")
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(3e-3f)).build());
            double accuracy = 0;
            long trainNanos = 0;
            try (Trainer trainer = model.newTrainer(config)) {
                // tokens and mask; their length varies from batch to batch, and the classifier's parameters do not depend on it
                trainer.initialize(new Shape(o.batchSize(), 1), new Shape(o.batchSize(), 1));
                System.out.printf(Locale.ROOT, "engine: %s %s; start-up %.1f s%n", Engine.getInstance().getEngineName(),
                        Engine.getInstance().getVersion(), (System.nanoTime() - t0) / 1e9);
                for (int epoch = 1; epoch <= o.epochs(); epoch++) {
                    long e0 = System.nanoTime();
                    Duration before = train.waiting();
                    TrainDemo.Progress bar = new TrainDemo.Progress(epoch, o.epochs(), (o.train() + o.batchSize() - 1) / o.batchSize());
                    for (Batch batch : train.getData(manager)) {
                        try (batch) {
                            float[] lossAndCorrect = TrainDemo.step(trainer, batch);
                            bar.update(lossAndCorrect[0], lossAndCorrect[1], batch.getSize(),
                                    TrainDemo.stall(before, train.waiting(), System.nanoTime() - e0));
                        }
                    }
                    long epochNanos = System.nanoTime() - e0;
                    trainNanos += epochNanos;
                    accuracy = TrainDemo.evaluate(trainer, test, manager);
                    bar.finish(accuracy, TrainDemo.stall(before, train.waiting(), epochNanos));
                }
            }
            LoaderStats s = trainLoader.stats();
            double shuffled = shuffledPadding(trainSet, o);
            double seconds = (System.nanoTime() - t0) / 1e9;
            double stallPct = 100.0 * train.waiting().toNanos() / Math.max(1, trainNanos);
            System.out.printf(Locale.ROOT, "summary: held-out accuracy %.3f after %d epochs; padding %.1f%% of the tokens delivered (%s),"
                            + " where shuffled batches of %d would pad %.1f%%; %.1f s in all (%.1f s training); the trainer waited for data"
                            + " %.1f%% of its training time; %d batches, %d documents from %d %s workers%n",
                    accuracy, o.epochs(), 100 * s.padding().share(), o.bucketed() ? "bucketByLength(" + o.batchSize() + ")" : "shuffled",
                    o.batchSize(), 100 * shuffled, seconds, trainNanos / 1e9, stallPct, s.batches(), s.samples(), o.workers(),
                    o.mode().name().toLowerCase(Locale.ROOT));
            if (o.json()) {
                System.out.printf(Locale.ROOT, "{\"task\":\"text\",\"accuracy\":%.4f,\"padding_share\":%.4f,\"shuffled_padding_share\":%.4f,"
                                + "\"seconds\":%.1f,\"train_seconds\":%.1f,\"stall_pct\":%.2f,\"epochs\":%d,\"workers\":%d,\"mode\":\"%s\","
                                + "\"batching\":\"%s\",\"batches\":%d,\"samples\":%d}%n", accuracy, s.padding().share(), shuffled, seconds,
                        trainNanos / 1e9, stallPct, o.epochs(), o.workers(), o.mode().name().toLowerCase(Locale.ROOT),
                        o.bucketed() ? "bucketed" : "fixed", s.batches(), s.samples());
            }
        }
    }

    private static DataLoader loader(TextDataset ds, Options o, boolean train) {
        DataLoader.Builder b = DataLoader.builder(ds).batchSize(o.batchSize()).seed(o.seed()).mode(o.mode())
                .numWorkers(o.mode() == WorkerMode.INLINE ? 0 : train ? o.workers() : 1).persistentWorkers(true)
                .pad("tokens", Padding.toLongest().value(WordLevelTokenizer.PAD_ID).withMask());
        if (train) b = o.bucketed() ? b.batchSampler(BatchSampler.bucketByLength(o.batchSize())) : b.shuffle(true);
        return b.build();
    }

    /** The padding share shuffled batches of the same size would carry in epoch 0, from the lengths alone. */
    private static double shuffledPadding(TextDataset ds, Options o) {
        int[] lengths = ds.lengths();
        long values = 0, tokens = 0;
        for (long[] batch : BatchSampler.of(new RandomSampler(), o.batchSize(), false).batches(lengths.length, o.seed(), 0)) {
            int longest = 0;
            for (long i : batch) {
                longest = Math.max(longest, lengths[(int) i]);
                tokens += lengths[(int) i];
            }
            values += (long) longest * batch.length;
        }
        return values == 0 ? 0 : 1 - (double) tokens / values;
    }
}
