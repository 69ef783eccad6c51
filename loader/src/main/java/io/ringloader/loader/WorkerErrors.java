package io.ringloader.loader;

import io.ringloader.worker.Worker;

import java.time.Duration;
import java.util.Arrays;
import java.util.stream.Collectors;

/** The errors that name a worker that failed: what it was doing, how it ended, what it said. */
final class WorkerErrors {
    private WorkerErrors() {}

    /** A worker that died: before it was ready (it could not start) or while the trainer waited for {@code what}. */
    static DataLoaderException died(Worker w, String what) {
        String tail = String.join("\n  ", w.stderrTail());
        String phase = w.isReady() ? "while the trainer waited for " + what : "before it was ready (while starting or opening the dataset)";
        // A JVM that cannot start (two collectors, a heap it cannot reserve) says why on stdout.
        String out = w.isReady() ? "" : String.join("\n  ", w.stdoutTail());
        String message = w.describe() + " " + w.exitDescription() + " " + phase
                + (tail.isEmpty() ? "" : ". The last lines of its stderr:\n  " + tail)
                + (out.isEmpty() ? "" : (tail.isEmpty() ? "." : "\n") + " The last lines of its stdout:\n  " + out);
        return w.isReady() ? new WorkerDiedException(message, w.id(), w.pid()) : new WorkerStartException(message, w.id(), w.pid(), null);
    }

    /** A worker that did not deliver {@code what} within {@code timeout}: its thread dump is taken, then it is killed. */
    static WorkerHungException hung(Worker w, String what, Duration timeout) {
        // A worker also "hangs" when the trainer keeps its batches: its ring fills and it waits for space.
        int held = w.held();
        String holding = held == 0 ? "" : " Note that the trainer still holds " + held + (held == 1 ? " batch" : " batches")
                + " of this worker, taking " + w.batches().occupancy() + " of its " + w.batches().capacity()
                + " ring bytes: if the dump shows the worker waiting in claim(), close batches when done with them,"
                + " or raise ringBytes.";
        String dump = w.threadDump();
        w.kill();
        return new WorkerHungException(w.describe() + " did not deliver " + what + " within the timeout of " + timeout.toSeconds()
                + " s (DataLoader.Builder.timeout; default " + DataLoader.DEFAULT_TIMEOUT.toMinutes() + " min), so it was killed."
                + holding + " Its thread dump follows.", w.id(), w.pid(), dump);
    }

    /** " (samples 1, 2, 3, ... 256 in all)", or nothing for a streaming batch. */
    static String describe(long[] indices) {
        if (indices == null) return "";
        String first = Arrays.stream(indices).limit(8).mapToObj(Long::toString).collect(Collectors.joining(", "));
        return " (samples " + first + (indices.length > 8 ? ", ... " + indices.length + " in all" : "") + ")";
    }
}
