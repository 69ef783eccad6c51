package io.ringloader.it.djl;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.EasyTrain;
import ai.djl.training.Trainer;
import ai.djl.training.TrainingResult;
import ai.djl.training.evaluator.Accuracy;
import ai.djl.training.loss.Loss;
import ai.djl.training.dataset.Batch;
import io.ringloader.data.ArrayDataset;
import io.ringloader.djl.DjlDataset;
import io.ringloader.loader.DataLoader;
import io.ringloader.testkit.Isolated;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The loader as a DJL dataset, on DJL's PyTorch engine: zero copy, lifetimes, and EasyTrain. */
@Isolated(timeout = "180s")
class DjlBridgeTest {

    /** x[i] = (i, i + 0.5, ..., 8 values), label = i % 2; the classes are separable on x[1] - x[0] ... by parity. */
    static ArrayDataset points(int n) {
        float[][] x = new float[n][8];
        long[] label = new long[n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < 8; j++) x[i][j] = i + j * 0.5f;
            label[i] = i % 2;
        }
        return ArrayDataset.builder().tensor("x", x, 2, 4).column("label", label).build();
    }

    @Test
    void ndArraysAreTheBatchesSharedMemoryNotACopy() {
        try (DataLoader loader = DataLoader.builder(points(16)).batchSize(16).numWorkers(1).build();
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            DjlDataset ds = DjlDataset.of(loader).data("x").labels("label").build();
            Iterator<Batch> it = ds.getData(manager).iterator();
            Batch b = it.next();
            NDArray x = b.getData().head();
            assertThat(x.getShape()).isEqualTo(new Shape(16, 2, 4));
            assertThat(x.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(b.getLabels().head().getDataType()).isEqualTo(DataType.INT64);
            assertThat(b.getLabels().head().toLongArray()).containsExactly(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1);
            float before = x.getFloat(3, 1, 2);
            assertThat(before).isEqualTo(3 + 6 * 0.5f);
            // Write through the Arrow view of the batch; the NDArray sees it: one memory, two views.
            var ring = ((FixedSizeListVector) loaderBatchRoot(b).getVector("x"));
            ((Float4Vector) ring.getDataVector()).set(3 * 8 + 6, 1234.5f);
            assertThat(x.getFloat(3, 1, 2)).isEqualTo(1234.5f);
            b.close();
            assertThat(loader.stats().workers().getFirst().ringBytesInUse()).as("ring space after DJL closed its batch").isZero();
            assertThat(it.hasNext()).isFalse();
        }
    }

    private static org.apache.arrow.vector.VectorSchemaRoot loaderBatchRoot(Batch djl) {
        try {
            var m = djl.getClass().getDeclaredMethod("ring");
            m.setAccessible(true);
            return ((io.ringloader.loader.Batch) m.invoke(djl)).root();
        } catch (ReflectiveOperationException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void columnsThatCannotBecomeNdArraysAreRefusedWhenTheDatasetIsBuilt() {
        ArrayDataset ds = ArrayDataset.builder().column("x", new float[] {1, 2}).column("flag", new boolean[] {true, false})
                .column("name", new String[] {"a", "b"}).build();
        try (DataLoader loader = DataLoader.builder(ds).batchSize(2).build()) {
            assertThatThrownBy(() -> DjlDataset.of(loader).data("nope").build())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no column 'nope'").hasMessageContaining("[x, flag, name]");
            assertThatThrownBy(() -> DjlDataset.of(loader).data("x").labels("flag").build())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("column 'flag'").hasMessageContaining("store it as int8");
            assertThatThrownBy(() -> DjlDataset.of(loader).data("name").build())
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("column 'name'").hasMessageContaining("cannot become an NDArray");
        }
    }

    @Test
    void theStateIsThatOfTheBatchesTheTrainerTookNotThoseThePrefetchThreadMadeReady() throws Exception {
        try (DataLoader loader = DataLoader.builder(points(2048)).batchSize(64).shuffle(true).seed(9).numWorkers(2)
                .mode(io.ringloader.worker.WorkerMode.THREAD).build();
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            DjlDataset ds = DjlDataset.of(loader).data("x").labels("label").prefetch(4).build();
            Iterator<Batch> it = ds.getData(manager).iterator();
            for (int i = 0; i < 5; i++) it.next().close();
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (loader.state().batches() < 9 && System.nanoTime() < deadline) Thread.sleep(5); // the prefetch thread fills up
            assertThat(loader.state().batches()).as("batches the prefetch thread took from the loader").isEqualTo(9);
            assertThat(ds.state().batches()).as("batches the trainer took").isEqualTo(5);
            // Resuming from the trainer's state gives batch 5 next.
            try (DataLoader resumed = DataLoader.builder(points(2048)).batchSize(64).shuffle(true).seed(9).resumeFrom(ds.state()).build()) {
                assertThat(resumed.iterator().next().index()).isEqualTo(5);
            }
        }
    }

    @Test
    void aBatchDjlStillHoldsKeepsItsMemoryAndAFullRingSaysWhy() {
        // A ring that holds 4 batches, 8 batches in all, one worker. If the held batch's space went back
        // early, the worker would wrap around and overwrite it; it must instead wait for the trainer.
        try (DataLoader loader = DataLoader.builder(points(2048)).batchSize(256).numWorkers(1).prefetchFactor(1)
                .ringBytes(4 * 16 << 10).timeout(java.time.Duration.ofSeconds(2)).build();
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            DjlDataset ds = DjlDataset.of(loader).data("x").labels("label").build();
            Iterator<Batch> it = ds.getData(manager).iterator();
            Batch first = it.next();
            float[] expected = first.getData().head().toFloatArray();
            Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> {
                while (it.hasNext()) it.next().close();
            });
            assertThat(t).isInstanceOf(io.ringloader.loader.WorkerHungException.class)
                    .hasMessageContaining("the trainer still holds 1 batch of this worker");
            assertThat(first.getData().head().toFloatArray()).as("the held batch, after the worker filled its ring").containsExactly(expected);
            first.close();
        }
    }

    @Test
    void easyTrainFitsAModelFedByProcessWorkers() throws Exception {
        try (DataLoader train = DataLoader.builder(points(2048)).batchSize(64).shuffle(true).seed(1).numWorkers(2).build();
             DataLoader validate = DataLoader.builder(points(512)).batchSize(64).numWorkers(1).build();
             Model model = Model.newInstance("parity", "PyTorch")) {
            // The label is the parity of i, which x[0] mod 2 carries: a small MLP over (x mod 2) separates it.
            // (Not a single linear layer: DJL's first step checks that the *sum* of all gradients is not
            // zero, and a softmax layer's gradients sum to zero, so that check failed now and then.)
            SequentialBlock net = new SequentialBlock()
                    .add(Blocks.batchFlattenBlock())
                    .add(list -> new ai.djl.ndarray.NDList(list.head().mod(2f)))
                    .add(Linear.builder().setUnits(8).build())
                    .add(ai.djl.nn.Activation::relu)
                    .add(Linear.builder().setUnits(2).build());
            model.setBlock(net);
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.softmaxCrossEntropyLoss())
                    .addEvaluator(new Accuracy())
                    .addTrainingListeners(ai.djl.training.listener.TrainingListener.Defaults.basic())
                    .optOptimizer(ai.djl.training.optimizer.Optimizer.adam().optLearningRateTracker(
                            ai.djl.training.tracker.Tracker.fixed(0.1f)).build());
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(new Shape(64, 2, 4));
                EasyTrain.fit(trainer, 3, DjlDataset.of(train).data("x").labels("label").build(),
                        DjlDataset.of(validate).data("x").labels("label").build());
                TrainingResult result = trainer.getTrainingResult();
                assertThat(result.getValidateEvaluation("Accuracy")).as("validation accuracy").isGreaterThan(0.95f);
            }
            assertThat(train.stats().batches()).isEqualTo(3 * 32);
        }
        assertThat(Files.exists(Path.of(System.getProperty("user.home"), ".djl.ai"))).as("nothing written to ~/.djl.ai").isFalse();
    }

    // ------------------------------------------------------------------ the prefetch thread

    /** id int64 and x float32 = id / 2; {@code read} throws at sample {@code failAt}. */
    record FailsAt(long n, long failAt) implements io.ringloader.data.MapDataset {
        @Override
        public org.apache.arrow.vector.types.pojo.Schema sampleSchema() {
            return io.ringloader.data.Columns.schema(io.ringloader.data.Columns.float32("x"), io.ringloader.data.Columns.int64("id"));
        }

        @Override
        public long size() {
            return n;
        }

        @Override
        public void read(long i, io.ringloader.data.SampleWriter out) {
            if (i == failAt) throw new IllegalStateException("sample " + i + " is corrupt on purpose");
            out.setFloat(0, i / 2f);
            out.setLong(1, i);
        }
    }

    private static long prefetchThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(t -> t.getName().equals("ringloader-djl-prefetch") && t.isAlive()).count();
    }

    /** Waits up to 10 s for {@code condition}; the thread works on its own, so its effects arrive a little later. */
    private static void eventually(java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!condition.getAsBoolean() && System.nanoTime() < deadline) Thread.sleep(5);
    }

    @Test
    void aThreadPreparesTheNextBatchesWhileTheTrainerHoldsOne() throws Exception {
        try (DataLoader loader = DataLoader.builder(points(256)).batchSize(16).numWorkers(1).build();
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            DjlDataset ds = DjlDataset.of(loader).data("x").labels("label").build();
            assertThat(ds.prefetch()).isEqualTo(4);
            Iterator<Batch> it = ds.getData(manager).iterator();
            Batch first = it.next();
            // The thread reads four batches beyond the one taken, and no more.
            eventually(() -> loader.stats().batches() == 5);
            Thread.sleep(200);
            assertThat(loader.stats().batches()).as("batches read from the loader while the trainer holds the first").isEqualTo(5);
            assertThat(prefetchThreads()).isEqualTo(1);
            first.close();
            List<Long> labels = new ArrayList<>();
            int batches = 1;
            while (it.hasNext()) {
                try (Batch b = it.next()) {
                    assertThat(b.getData().head().getFloat(0, 0, 0)).as("first value of batch " + batches).isEqualTo(16f * batches);
                    for (long l : b.getLabels().head().toLongArray()) labels.add(l);
                    batches++;
                }
            }
            assertThat(batches).isEqualTo(16);
            assertThat(labels).hasSize(240);
            eventually(() -> prefetchThreads() == 0);
            assertThat(prefetchThreads()).as("the epoch's thread ends with the epoch").isZero();
            assertThat(ds.waiting()).isPositive();
        }
        try (DataLoader loader = DataLoader.builder(points(256)).batchSize(16).numWorkers(1).build();
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            DjlDataset ds = DjlDataset.of(loader).data("x").labels("label").prefetch(0).build();
            Iterator<Batch> it = ds.getData(manager).iterator();
            it.next().close();
            Thread.sleep(200);
            assertThat(loader.stats().batches()).as("without prefetch, only what the trainer asked for").isEqualTo(1);
            assertThat(prefetchThreads()).isZero();
        }
        try (DataLoader inline = DataLoader.builder(points(16)).batchSize(16).numWorkers(0).build()) {
            assertThat(DjlDataset.of(inline).data("x").build().prefetch()).as("an inline loader builds on the trainer's thread").isZero();
        }
    }

    @Test
    void aNewEpochStopsThePreviousEpochsThreadAndHandsBackWhatItPrepared() throws Exception {
        try (DataLoader loader = DataLoader.builder(points(256)).batchSize(16).shuffle(true).seed(3).numWorkers(2)
                .persistentWorkers(true).build();
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            DjlDataset ds = DjlDataset.of(loader).data("x").labels("label").build();
            Iterator<Batch> first = ds.getData(manager).iterator();
            Batch held = first.next();
            eventually(() -> loader.stats().batches() == 5);
            assertThat(first.hasNext()).isTrue(); // the next batch now waits in the iterator, taken by nobody
            Iterator<Batch> second = ds.getData(manager).iterator();
            // The four batches prepared for epoch 1 went back to their workers (checked at the end, when the
            // rings are empty); the held one stays valid.
            long inUse = loader.stats().workers().stream().mapToLong(w -> w.ringBytesInUse()).sum();
            assertThat(inUse).as("ring bytes in use: the held batch, and what epoch 2's thread read so far").isPositive();
            float[] heldValues = held.getData().head().toFloatArray();
            assertThatThrownBy(first::hasNext).isInstanceOf(IllegalStateException.class).hasMessageContaining("newer epoch started");
            List<Float> firstValues = new ArrayList<>();
            while (second.hasNext()) {
                try (Batch b = second.next()) {
                    float[] x = b.getData().head().toFloatArray();
                    for (int row = 0; row < b.getSize(); row++) firstValues.add(x[row * 8]);
                }
            }
            // Every sample of epoch 2 exactly once: x[i][0] = i.
            assertThat(firstValues).hasSize(256);
            assertThat(firstValues.stream().mapToInt(Float::intValue).sorted().toArray())
                    .containsExactly(java.util.stream.IntStream.range(0, 256).toArray());
            assertThat(held.getData().head().toFloatArray()).as("the batch held across the new epoch").containsExactly(heldValues);
            held.close();
            eventually(() -> loader.stats().workers().stream().allMatch(w -> w.ringBytesInUse() == 0));
            assertThat(loader.stats().workers()).allSatisfy(w -> assertThat(w.ringBytesInUse()).isZero());
        }
    }

    @Test
    void closingTheLoaderStopsItsPrefetchThread() throws Exception {
        // close() is idempotent: the try closes the loader again only if an assertion failed before it.
        try (DataLoader loader = DataLoader.builder(points(4096)).batchSize(16).numWorkers(2).build();
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            Iterator<Batch> it = DjlDataset.of(loader).data("x").labels("label").build().getData(manager).iterator();
            Batch b = it.next();
            eventually(() -> loader.stats().batches() == 5);
            assertThat(prefetchThreads()).isEqualTo(1);
            loader.close();
            assertThat(prefetchThreads()).as("prefetch threads right after close()").isZero();
            b.close();
        }
    }

    @Test
    void aFailedSampleReachesTheTrainerAfterEveryBatchBeforeIt() {
        try (DataLoader loader = DataLoader.builder(new FailsAt(200, 105)).batchSize(10).numWorkers(2).build();
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            Iterator<Batch> it = DjlDataset.of(loader).data("x").labels("id").build().getData(manager).iterator();
            List<Long> ids = new ArrayList<>();
            Throwable failure = org.assertj.core.api.Assertions.catchThrowable(() -> {
                while (it.hasNext()) {
                    try (Batch b = it.next()) {
                        for (long id : b.getLabels().head().toLongArray()) ids.add(id);
                    }
                }
            });
            assertThat(failure).isInstanceOf(io.ringloader.loader.SampleReadException.class).hasMessageContaining("sample 105");
            assertThat(ids).as("samples delivered before the failed batch, in order").containsExactlyElementsOf(
                    java.util.stream.LongStream.range(0, 100).boxed().toList());
            assertThat(it.hasNext()).as("the epoch ended with the failure").isFalse();
        }
        assertThat(prefetchThreads()).isZero();
    }
}
