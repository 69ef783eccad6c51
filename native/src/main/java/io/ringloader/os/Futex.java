package io.ringloader.os;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Cross-process wait and wake on a 32-bit word of a shared mapping (Linux {@code futex(2)} without the
 * private flag, so the waker may be another process that maps the same file).
 *
 * <p>The word must be 4-byte aligned. A wait always has a timeout: ringloader never blocks without
 * coming back to check that the peer process is still alive.
 */
public final class Futex {

    /** What a {@link #await} call ended with. */
    public enum Result { WOKEN, VALUE_CHANGED, TIMED_OUT, INTERRUPTED }

    /** A {@code struct timespec} per thread, reused: a wait allocates nothing. */
    private static final ThreadLocal<MemorySegment> TIMESPEC =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(16, 8));

    private Futex() {}

    /**
     * Sleeps while {@code segment[offset]} still holds {@code expected}, until woken or until
     * {@code timeoutNanos} pass. Returns at once with {@link Result#VALUE_CHANGED} if the word already
     * differs: the check and the sleep are one atomic step in the kernel, so no wake is lost.
     */
    public static Result await(MemorySegment segment, long offset, int expected, long timeoutNanos) {
        MemorySegment word = word(segment, offset);
        MemorySegment ts = TIMESPEC.get();
        long t = Math.max(0, timeoutNanos);
        ts.set(JAVA_LONG, 0, t / 1_000_000_000L);
        ts.set(JAVA_LONG, 8, t % 1_000_000_000L);
        int err = Posix.futexWait(word, expected, ts);
        return switch (err) {
            case 0 -> Result.WOKEN;
            case Posix.EAGAIN -> Result.VALUE_CHANGED;
            case Posix.ETIMEDOUT -> Result.TIMED_OUT;
            case Posix.EINTR -> Result.INTERRUPTED;
            default -> throw new OsException("futex(FUTEX_WAIT)", "0x" + Long.toHexString(word.address()), err);
        };
    }

    /** Wakes up to {@code count} waiters on {@code segment[offset]}; returns how many were woken. */
    public static int wake(MemorySegment segment, long offset, int count) {
        return Posix.futexWake(word(segment, offset), count);
    }

    /** Wakes every waiter on the word. */
    public static int wakeAll(MemorySegment segment, long offset) {
        return wake(segment, offset, Integer.MAX_VALUE);
    }

    private static MemorySegment word(MemorySegment segment, long offset) {
        MemorySegment word = segment.asSlice(offset, 4);
        if ((word.address() & 3) != 0) {
            throw new IllegalArgumentException("a futex word must be 4-byte aligned, got 0x" + Long.toHexString(word.address()));
        }
        return word;
    }
}
