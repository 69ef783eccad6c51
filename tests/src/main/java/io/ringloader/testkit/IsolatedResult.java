package io.ringloader.testkit;

import java.io.Serializable;

/**
 * What the child JVM reports about the one test it ran. The failure travels as serialized bytes; when it
 * does not serialize, its class name, message and stack trace travel as text instead.
 */
record IsolatedResult(Status status, byte[] throwable, String throwableClass, String message, StackTraceElement[] stack)
        implements Serializable {
    enum Status { PASSED, FAILED, SKIPPED, NOT_RUN }
}
