package io.ringloader.loader;

import io.ringloader.batch.ColumnLayout;
import io.ringloader.os.Posix;
import io.ringloader.worker.ProcessWorker;
import io.ringloader.worker.Recipe;
import io.ringloader.worker.Worker;
import io.ringloader.worker.WorkerMode;
import io.ringloader.worker.WorkerSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The workers of a loader while they run: one per slot, 0 to {@code numWorkers - 1}. It starts them
 * (process workers whose JVMs were launched early just get their segments) and stops them.
 */
final class WorkerSet {
    /** How long a stopping worker gets to close its dataset before it is killed. */
    static final long STOP_GRACE_MILLIS = 2000;

    private final LoaderSettings settings;
    private final Recipe recipe;
    private final List<ColumnLayout> columns;
    private final Path tmpDir;
    private final int[] cpus;
    /** Read by stats() on any thread while the epoch's thread replaces a worker. */
    private final AtomicReferenceArray<Worker> slots;

    private WorkerSet(LoaderSettings settings, Recipe recipe, List<ColumnLayout> columns, Path tmpDir, int[] cpus, List<Worker> started) {
        this.settings = settings;
        this.recipe = recipe;
        this.columns = columns;
        this.tmpDir = tmpDir;
        this.cpus = cpus;
        this.slots = new AtomicReferenceArray<>(started.toArray(Worker[]::new));
    }

    private static WorkerSpec spec(LoaderSettings s, Recipe recipe, List<ColumnLayout> columns, Path tmpDir, int[] cpus, int w) {
        int cpu = s.pinWorkers() ? cpus[w % cpus.length] : -1;
        // A stream's shards are the dataset's, not the workers': a worker is told the first of this rank's
        // (shard s of a request is shardIndex + s of shardCount), and takes whichever it is asked for.
        return new WorkerSpec(w, s.numWorkers(), s.seed(), s.rank() * s.shards(), s.worldSize() * s.shards(),
                recipe, columns, s.requestRingBytes(), s.batchRingBytes(), s.jvmOptions(), cpu, tmpDir, s.timeout().toMillis());
    }

    /** Starts the workers; the first {@code launched.size()} are process workers whose JVMs already boot. */
    static WorkerSet start(LoaderSettings s, Recipe recipe, List<ColumnLayout> columns, Path tmpDir, List<ProcessWorker.Launch> launched) {
        List<Worker> started = new ArrayList<>();
        int[] cpus = s.pinWorkers() ? Posix.allowedCpus() : new int[0];
        try {
            for (int w = 0; w < s.numWorkers(); w++) {
                WorkerSpec spec = spec(s, recipe, columns, tmpDir, cpus, w);
                started.add(w < launched.size() ? ProcessWorker.start(spec, launched.get(w)) : Worker.start(s.mode(), spec));
            }
        } catch (RuntimeException e) {
            stop(started);
            throw e;
        }
        return new WorkerSet(s, recipe, columns, tmpDir, cpus, started);
    }

    Worker get(int slot) {
        return slots.get(slot);
    }

    int size() {
        return slots.length();
    }

    List<Worker> list() {
        List<Worker> out = new ArrayList<>(slots.length());
        for (int w = 0; w < slots.length(); w++) out.add(slots.get(w));
        return out;
    }

    /**
     * Puts a fresh worker in {@code slot}, in place of one that died or hung: the old one is stopped
     * (its memory stays mapped while the trainer holds its batches), the new one starts as the first did.
     */
    Worker replace(int slot) {
        Worker old = slots.get(slot);
        old.stop(0);
        Worker fresh = Worker.start(settings.mode(), spec(settings, recipe, columns, tmpDir, cpus, slot));
        slots.set(slot, fresh);
        return fresh;
    }

    /** Step 1 of {@link #stop()} alone: every ring closed, so that every worker stops starting batches now. */
    void signalStop() {
        list().forEach(Worker::signalStop);
    }

    /** Stops every worker: all rings first, then each gets the grace period at the same time as the others. */
    void stop() {
        stop(list());
    }

    private static void stop(List<Worker> ws) {
        ws.forEach(Worker::signalStop);
        if (ws.size() == 1) {
            ws.getFirst().stop(STOP_GRACE_MILLIS);
            return;
        }
        List<Thread> stoppers = ws.stream()
                .map(w -> Thread.ofPlatform().name("ringloader-stop-" + w.id()).daemon().start(() -> w.stop(STOP_GRACE_MILLIS)))
                .toList();
        stoppers.forEach(WorkerSet::joinUninterruptibly);
    }

    /** Joins {@code t} whatever interrupts come meanwhile; the flag is set again after. */
    static void joinUninterruptibly(Thread t) {
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }
}
