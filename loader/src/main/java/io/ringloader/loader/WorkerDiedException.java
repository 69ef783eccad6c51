package io.ringloader.loader;

/** A worker died (exited, crashed, or was killed) while the trainer waited for one of its batches. */
public final class WorkerDiedException extends DataLoaderException {
    WorkerDiedException(String message, int workerId, long pid) {
        super(message, workerId, pid, null);
    }
}
