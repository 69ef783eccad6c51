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
 *
 * <p>With {@code -Dringloader.aot.workerConfiguration=<file>}, it also runs a process worker in the JDK's
 * AOT record mode ({@code -XX:AOTMode=record}), which writes what that worker JVM loaded and ran to
 * {@code <file>} when it exits; the launcher makes the workers' own cache from it. A worker boots from a
 * cache of its own classes faster than from the trainer's, which holds thousands it never loads (DJL's,
 * the CLI's) and which the JVM would link at every worker's start.
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
        String workerConfiguration = System.getProperty("ringloader.aot.workerConfiguration");
        if (workerConfiguration != null) {
            try (DataLoader loader = DataLoader.builder(new Workloads.Tiny()).batchSize(256).shuffle(true).seed(1)
                    .numWorkers(1).persistentWorkers(true)
                    .workerJvmOptions("-XX:AOTMode=record", "-XX:AOTConfiguration=" + workerConfiguration).build()) {
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
