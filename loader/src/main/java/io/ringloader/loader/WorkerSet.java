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

/**
 * The workers of a loader while they run: one per slot, 0 to {@code numWorkers - 1}. It starts them
 * (process workers whose JVMs were launched early just get their segments) and stops them.
 */
final class WorkerSet {
    /** How long a stopping worker gets to close its dataset before it is killed. */
    static final long STOP_GRACE_MILLIS = 2000;

    private final List<Worker> slots;

    private WorkerSet(List<Worker> slots) {
        this.slots = slots;
    }

    /** Starts the workers; the first {@code launched.size()} are process workers whose JVMs already boot. */
    static WorkerSet start(LoaderSettings s, Recipe recipe, List<ColumnLayout> columns, Path tmpDir, List<ProcessWorker.Launch> launched) {
        List<Worker> started = new ArrayList<>();
        int[] cpus = s.pinWorkers() ? Posix.allowedCpus() : new int[0];
        try {
            for (int w = 0; w < s.numWorkers(); w++) {
                int cpu = s.pinWorkers() ? cpus[w % cpus.length] : -1;
                WorkerSpec spec = new WorkerSpec(w, s.numWorkers(), s.seed(), s.rank() * s.numWorkers() + w, s.worldSize() * s.numWorkers(),
                        recipe, columns, s.requestRingBytes(), s.batchRingBytes(), s.jvmOptions(), cpu, tmpDir);
                started.add(w < launched.size() ? ProcessWorker.start(spec, launched.get(w)) : Worker.start(s.mode(), spec));
            }
        } catch (RuntimeException e) {
            stop(started);
            throw e;
        }
        return new WorkerSet(started);
    }

    Worker get(int slot) {
        return slots.get(slot);
    }

    int size() {
        return slots.size();
    }

    List<Worker> list() {
        return List.copyOf(slots);
    }

    /** Stops every worker: all rings first, so that the workers wind down in parallel. */
    void stop() {
        stop(slots);
    }

    private static void stop(List<Worker> ws) {
        ws.forEach(Worker::signalStop);
        for (Worker w : ws) w.stop(STOP_GRACE_MILLIS);
    }
}
