package example;

import ai.djl.Model;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.DefaultTrainingConfig;
import ai.djl.training.GradientCollector;
import ai.djl.training.Trainer;
import ai.djl.training.dataset.Batch;
import ai.djl.training.loss.Loss;
import ai.djl.training.optimizer.Optimizer;
import ai.djl.training.tracker.Tracker;
import io.ringloader.djl.DjlDataset;
import io.ringloader.loader.DataLoader;

/** Fits y = W . x + B with DJL's PyTorch engine, fed by ringloader's process workers. */
public final class LinearFit {
    private LinearFit() {}

    /** What a fit ended with: the last epoch's mean loss, the learnt weights and bias. */
    public record Result(double loss, float[] weights, float bias) {}

    public static Result train(int workers, int epochs) throws Exception {
        try (DataLoader loader = DataLoader.builder(new NoisyLine(8192)).batchSize(64).shuffle(true).seed(1).numWorkers(workers)
                .persistentWorkers(true).build();
             Model model = Model.newInstance("linear-fit", "PyTorch");
             NDManager manager = NDManager.newBaseManager("PyTorch")) {
            model.setBlock(Linear.builder().setUnits(1).build());
            DjlDataset data = DjlDataset.of(loader).data("x").labels("y").build();
            DefaultTrainingConfig config = new DefaultTrainingConfig(Loss.l2Loss())
                    .optOptimizer(Optimizer.adam().optLearningRateTracker(Tracker.fixed(0.05f)).build());
            double loss = Double.NaN;
            try (Trainer trainer = model.newTrainer(config)) {
                trainer.initialize(new Shape(64, 4));
                for (int epoch = 0; epoch < epochs; epoch++) {
                    double sum = 0;
                    int batches = 0;
                    for (Batch batch : data.getData(manager)) {
                        try (batch; GradientCollector g = trainer.newGradientCollector()) {
                            NDList predicted = trainer.forward(batch.getData());
                            NDArray l = trainer.getLoss().evaluate(batch.getLabels(), predicted);
                            g.backward(l);
                            trainer.step();
                            sum += l.getFloat();
                            batches++;
                        }
                    }
                    loss = sum / batches;
                    System.out.printf("epoch %d: loss %.5f over %d batches%n", epoch + 1, loss, batches);
                }
                var parameters = model.getBlock().getParameters();
                float[] w = parameters.get("weight").getArray().toFloatArray();
                float b = parameters.get("bias").getArray().toFloatArray()[0];
                return new Result(loss, w, b);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Result r = train(2, 3);
        System.out.printf("learnt weights %s and bias %.3f (true: %s and %.3f)%n", java.util.Arrays.toString(r.weights()), r.bias(),
                java.util.Arrays.toString(NoisyLine.W), NoisyLine.B);
    }
}
