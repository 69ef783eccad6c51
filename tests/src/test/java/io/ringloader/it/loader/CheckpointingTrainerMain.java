package io.ringloader.it.loader;

import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderState;
import io.ringloader.worker.WorkerMode;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * A trainer in its own JVM for the resume test: reads 2 epochs of {@link #builder} with {@code args[1]}
 * workers in mode {@code args[2]}, taking 5 ms per batch (its "step"), appends each batch's digest to
 * {@code args[0]/digests}, and every 7 batches writes a checkpoint (the digests so far and the loader's
 * state) with an atomic rename, printing {@code CHECKPOINT n}. With {@code args[3] = resume} it first
 * carries on from the checkpoint.
 */
public final class CheckpointingTrainerMain {
    static DataLoader.Builder builder(int workers, WorkerMode mode) {
        return DataLoader.builder(new Datasets.Numbers(2000)).batchSize(10).shuffle(true).seed(3).numWorkers(workers).mode(mode);
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]), digests = dir.resolve("digests"), checkpoint = dir.resolve("checkpoint");
        DataLoader.Builder b = builder(Integer.parseInt(args[1]), WorkerMode.valueOf(args[2]));
        int done = 0;
        if (args.length > 3 && args[3].equals("resume")) {
            List<String> saved = Files.readAllLines(checkpoint);
            done = Integer.parseInt(saved.get(0));
            b.resumeFrom(LoaderState.fromJson(saved.get(1)));
            Files.write(digests, Files.readAllLines(digests).subList(0, done)); // what came after the checkpoint is done again
        }
        try (DataLoader loader = b.build()) {
            while (done < 400) {
                for (Batch batch : loader) {
                    try (batch) {
                        Files.writeString(digests, Batches.digest(batch).replace('\n', '|') + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                    }
                    Thread.sleep(5);
                    if (++done % 7 == 0) {
                        Path tmp = dir.resolve("checkpoint.tmp");
                        Files.writeString(tmp, done + "\n" + loader.state().toJson() + "\n");
                        Files.move(tmp, checkpoint, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                        System.out.println("CHECKPOINT " + done);
                        System.out.flush();
                    }
                }
            }
        }
    }
}
