package io.ringloader.loader;

/**
 * A worker failed, and the loader shut down. The message names the worker and its pid, the batch, and
 * its samples; the subclass says what happened.
 */
public sealed class DataLoaderException extends RuntimeException
        permits WorkerStartException, WorkerDiedException, WorkerHungException, SampleReadException {
    private final int workerId;
    private final long pid;

    DataLoaderException(String message, int workerId, long pid, Throwable cause) {
        super(message, cause);
        this.workerId = workerId;
        this.pid = pid;
    }

    public int workerId() {
        return workerId;
    }

    public long pid() {
        return pid;
    }
}
