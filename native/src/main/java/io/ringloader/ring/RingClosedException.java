package io.ringloader.ring;

/** The ring was closed (by either side) and the operation cannot go on. */
public final class RingClosedException extends RingException {
    RingClosedException(String message) {
        super(message);
    }
}
