package io.ringloader.os;

/** A failed system call: names the call, what it was applied to, and the C library's error text. */
public final class OsException extends RuntimeException {
    private final int errno;

    public OsException(String call, String target, int errno) {
        super(call + "(" + target + ") failed: " + Posix.strerror(errno) + " (errno " + errno + ")");
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
