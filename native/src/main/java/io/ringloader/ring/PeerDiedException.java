package io.ringloader.ring;

/** The process on the other side of a ring is gone, while this side waited for it. */
public final class PeerDiedException extends RingException {
    private final long pid;

    PeerDiedException(String message, long pid) {
        super(message);
        this.pid = pid;
    }

    /** The pid of the process that died. */
    public long pid() {
        return pid;
    }
}
