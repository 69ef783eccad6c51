package io.ringloader.it;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * The records of the cross-process stream, derived from (seed, record number) alone, so that the
 * consumer can check every byte without the producer telling it anything: a duplicated, lost, reordered
 * or torn record cannot pass.
 */
final class Pattern {
    static final long MAX_RECORD = 16L * 1024 * 1024;
    private final SplittableRandom sizes;

    Pattern(long seed) {
        this.sizes = new SplittableRandom(seed);
    }

    /** The next record's size: a quarter of them tiny (1 to 4096 bytes), the rest up to 16 MiB. */
    long nextSize() {
        return sizes.nextInt(4) == 0 ? 1 + sizes.nextLong(4096) : 1 + sizes.nextLong(MAX_RECORD);
    }

    private static long word(long record, long i) {
        long z = record * 0x9E3779B97F4A7C15L + i * 0xD1B54A32D192ED03L + 1;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static void fill(MemorySegment p, long record) {
        long n = p.byteSize(), words = n >>> 3;
        for (long i = 0; i < words; i++) p.set(JAVA_LONG_UNALIGNED, i << 3, word(record, i));
        long last = word(record, words);
        for (long j = words << 3; j < n; j++, last >>>= 8) p.set(JAVA_BYTE, j, (byte) last);
    }

    /** Returns the offset of the first wrong byte, or -1 if every byte is right. */
    static long firstMismatch(MemorySegment p, long record) {
        long n = p.byteSize(), words = n >>> 3;
        for (long i = 0; i < words; i++) {
            if (p.get(JAVA_LONG_UNALIGNED, i << 3) != word(record, i)) return i << 3;
        }
        long last = word(record, words);
        for (long j = words << 3; j < n; j++, last >>>= 8) {
            if (p.get(JAVA_BYTE, j) != (byte) last) return j;
        }
        return -1;
    }
}
