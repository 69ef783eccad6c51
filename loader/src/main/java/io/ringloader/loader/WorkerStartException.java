package io.ringloader.loader;

/** A worker could not start: its JVM failed, the dataset's {@code open} threw, or its recipe did not load. */
public final class WorkerStartException extends DataLoaderException {
    WorkerStartException(String message, int workerId, long pid, Throwable cause) {
        super(message, workerId, pid, cause);
    }
}
