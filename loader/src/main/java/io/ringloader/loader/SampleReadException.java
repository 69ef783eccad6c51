package io.ringloader.loader;

/** The dataset threw while a worker read a sample; the cause is the worker's exception, with its stack trace. */
public final class SampleReadException extends DataLoaderException {
    private final long sampleIndex;

    SampleReadException(String message, int workerId, long pid, long sampleIndex, Throwable cause) {
        super(message, workerId, pid, cause);
        this.sampleIndex = sampleIndex;
    }

    /** The index of the sample that failed (its position in the shard, for a streaming dataset). */
    public long sampleIndex() {
        return sampleIndex;
    }
}
