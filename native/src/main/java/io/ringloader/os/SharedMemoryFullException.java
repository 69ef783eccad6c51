package io.ringloader.os;

/**
 * {@code /dev/shm} has too little room for a segment. Raised before anything is mapped, so the process
 * never meets the "Bus error" that a tmpfs out of pages gives to whoever touches the page.
 */
public final class SharedMemoryFullException extends RuntimeException {
    private final long needed;
    private final long free;

    SharedMemoryFullException(String name, long needed, long free) {
        super("ringloader needs " + needed + " bytes of shared memory for /dev/shm/" + name
                + " but only " + free + " bytes are free in /dev/shm. Make room: remove stale files in /dev/shm"
                + " (ls -la /dev/shm), use a smaller ring or batch size or fewer workers, or enlarge /dev/shm"
                + " (mount -o remount,size=16G /dev/shm; under Docker: --shm-size=16g).");
        this.needed = needed;
        this.free = free;
    }

    public long needed() {
        return needed;
    }

    public long free() {
        return free;
    }
}
