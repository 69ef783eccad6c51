package io.ringloader.os;

import java.util.List;

/** A child process exited while its parent still needed it; carries its exit code and stderr tail. */
public final class ChildDiedException extends RuntimeException {
    private final long pid;
    private final int exitCode;
    private final List<String> stderrTail;

    ChildDiedException(String message, long pid, int exitCode, List<String> stderrTail) {
        super(message);
        this.pid = pid;
        this.exitCode = exitCode;
        this.stderrTail = stderrTail;
    }

    public long pid() {
        return pid;
    }

    /** The exit code; 128 + n when killed by signal n. */
    public int exitCode() {
        return exitCode;
    }

    public List<String> stderrTail() {
        return stderrTail;
    }
}
