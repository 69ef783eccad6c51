package io.ringloader.it.loader;

import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;

import java.util.Iterator;
import java.util.stream.Collectors;

/**
 * A trainer in its own JVM for the parent-death test: starts 2 process workers, takes one batch, prints
 * {@code PIDS <worker pids>}, then waits to be killed.
 */
public final class TrainerMain {
    public static void main(String[] args) throws Exception {
        DataLoader loader = DataLoader.builder(new Datasets.Slow(100_000, 5)).batchSize(4).numWorkers(2).build();
        Iterator<Batch> it = loader.iterator();
        Batch held = it.next();
        System.out.println("PIDS " + loader.workerPids().stream().map(String::valueOf).collect(Collectors.joining(" ")));
        System.out.flush();
        Thread.sleep(600_000);
        held.close();
    }
}
