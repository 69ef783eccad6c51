package io.ringloader.worker;

/** Where a loader's workers run. */
public enum WorkerMode {
    /** Each worker is a fresh JVM (the default when {@code numWorkers > 0}). */
    PROCESS,
    /** Each worker is a thread of this JVM: same protocol, same rings, no process start-up. */
    THREAD,
    /** No workers: batches are built on the caller's thread ({@code numWorkers(0)}). */
    INLINE
}
