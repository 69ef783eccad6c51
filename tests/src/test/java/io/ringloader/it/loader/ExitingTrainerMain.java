package io.ringloader.it.loader;

import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;

import java.util.stream.Collectors;

/** A trainer that forgets to close its loader and exits: the shutdown hook must stop its workers. */
public final class ExitingTrainerMain {
    public static void main(String[] args) {
        DataLoader loader = DataLoader.builder(new Datasets.Slow(100_000, 5)).batchSize(4).numWorkers(2).build();
        Batch b = loader.iterator().next();
        System.out.println("PIDS " + loader.workerPids().stream().map(String::valueOf).collect(Collectors.joining(" ")));
        System.out.flush();
        b.close();
        System.exit(0);
    }
}
