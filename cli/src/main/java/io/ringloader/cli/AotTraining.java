package io.ringloader.cli;

import io.ringloader.cli.bench.Workloads;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.worker.WorkerMode;

/**
 * {@code ringloader aot-train}: a short run through the trainer's and the workers' code (inline, thread
 * and process workers), for the launcher to record a JDK AOT cache from. JVMs started with that cache
 * load and link these classes from it instead of from the jars: the trainer's first loader and every
 * process worker start faster.
 */
final class AotTraining {
    private AotTraining() {}

    static void run() {
        for (WorkerMode mode : WorkerMode.values()) {
            try (DataLoader loader = DataLoader.builder(new Workloads.Tiny()).batchSize(256).shuffle(true).seed(1)
                    .mode(mode).numWorkers(mode == WorkerMode.INLINE ? 0 : 2).persistentWorkers(true).build()) {
                for (int epoch = 0; epoch < 2; epoch++) {
                    for (Batch b : loader) {
                        try (b) {
                            b.root().getVector("label").getValueCount();
                        }
                    }
                }
            }
        }
        System.out.println("aot-train: done");
    }
}
