package io.ringloader.ring;

import java.lang.foreign.MemorySegment;

/**
 * A record read from a ring: its position (to {@link SpscRing#release release} it) and its payload,
 * read in place in shared memory. The payload must not be touched after the release.
 */
public record RingRecord(long position, MemorySegment payload) {
    public long length() {
        return payload.byteSize();
    }
}
