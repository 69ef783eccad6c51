package io.ringloader.loader;

/** A worker did not deliver a batch within the loader's timeout; it was killed. The message holds its thread dump. */
public final class WorkerHungException extends DataLoaderException {
    private final String threadDump;

    WorkerHungException(String message, int workerId, long pid, String threadDump) {
        super(message + "\n" + threadDump, workerId, pid, null);
        this.threadDump = threadDump;
    }

    public String threadDump() {
        return threadDump;
    }
}
