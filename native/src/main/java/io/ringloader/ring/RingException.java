package io.ringloader.ring;

/** Something happened to a ring that ends its use: it was closed, or the process on its other side died. */
public sealed class RingException extends RuntimeException permits RingClosedException, PeerDiedException {
    RingException(String message) {
        super(message);
    }
}
