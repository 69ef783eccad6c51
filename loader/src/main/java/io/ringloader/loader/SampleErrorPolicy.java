package io.ringloader.loader;

/** What a sample whose {@code read} throws does to its batch; see {@link DataLoader.Builder#onSampleError}. */
public enum SampleErrorPolicy {
    /** The epoch fails with a {@link SampleReadException} naming the sample (the default). */
    FAIL,
    /** The sample is left out of its batch, logged and counted; the same samples for any number of workers and mode. */
    SKIP
}
