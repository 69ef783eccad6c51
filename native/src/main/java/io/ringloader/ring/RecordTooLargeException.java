package io.ringloader.ring;

/** A record that can never fit in the ring, however long the producer waits. */
public final class RecordTooLargeException extends IllegalArgumentException {
    private final long length;
    private final long maxLength;

    RecordTooLargeException(String ring, long length, long capacity, long maxLength) {
        super("a record of " + length + " bytes can never fit in ring " + ring + ": its capacity is " + capacity
                + " bytes, so the largest record it can carry is " + maxLength
                + " bytes. Make the ring larger (or the batch smaller).");
        this.length = length;
        this.maxLength = maxLength;
    }

    public long length() {
        return length;
    }

    public long maxLength() {
        return maxLength;
    }
}
