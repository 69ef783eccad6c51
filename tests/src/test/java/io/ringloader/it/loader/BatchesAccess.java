package io.ringloader.it.loader;

import io.ringloader.loader.Batch;

/** The package-private test helpers of {@link Batches}, for tests in other packages. */
public final class BatchesAccess {
    private BatchesAccess() {}

    public static String content(Batch b) {
        return Batches.content(b);
    }
}
