package io.ringloader.testkit;

/** An {@link Isolated} test ran past its timeout; the message carries the thread dumps of its JVMs. */
public final class IsolatedTestHungError extends AssertionError {
    IsolatedTestHungError(String message) {
        super(message);
    }
}
