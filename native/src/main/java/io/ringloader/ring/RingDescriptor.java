package io.ringloader.ring;

import io.ringloader.os.Posix;

/**
 * Layout of an {@link SpscRing} in shared memory. A ring occupies one region of a
 * {@link io.ringloader.os.SharedMemory}: a header page, then the data area.
 *
 * <pre>
 *  region offset
 *    0 +--------------------------------------------------------------+
 *      | MAGIC int | VERSION int | capacity long                       |  written once by the creator
 *   64 +--------------------------------------------------------------+
 *      | tail long                                                    |  producer: end of the last committed record
 *  128 +--------------------------------------------------------------+
 *      | head long                                                    |  consumer: everything before it is released
 *  192 +--------------------------------------------------------------+
 *      | dataSeq int | dataWaiters int                                |  futex: the consumer sleeps on dataSeq
 *  256 +--------------------------------------------------------------+
 *      | spaceSeq int | spaceWaiters int                              |  futex: the producer sleeps on spaceSeq
 *  320 +--------------------------------------------------------------+
 *      | closed int | (pad) | producerPid long | consumerPid long     |
 *      +--------------------------------------------------------------+
 *      | ... up to one page (HEADER_LENGTH)                           |
 * page +==============================================================+
 *      | data: capacity bytes (a multiple of the page size), mapped    |
 *      | twice back to back, so a record that wraps is still one slice |
 *      +==============================================================+
 * </pre>
 *
 * Each hot field has its own 64-byte line, so the producer's writes to {@code tail} do not evict the
 * consumer's {@code head} and back.
 *
 * <p>A record (frame) starts at a 64-byte-aligned position in the data area:
 *
 * <pre>
 *    0 +-----------------------------------------+
 *      | payload length long | state int | (pad) |  header: one cache line
 *   64 +-----------------------------------------+
 *      | payload, padded to a multiple of 64      |  64-byte aligned, as Arrow buffers want
 *      +-----------------------------------------+
 * </pre>
 *
 * Positions ({@code tail}, {@code head}, a record's position) count bytes since the ring was created and
 * never wrap; a position's place in the data area is {@code position % capacity}.
 */
public final class RingDescriptor {
    private RingDescriptor() {}

    public static final int MAGIC = 0x52494e47; // "RING"
    public static final int VERSION = 1;

    public static final long MAGIC_OFFSET = 0;
    public static final long VERSION_OFFSET = 4;
    public static final long CAPACITY_OFFSET = 8;
    public static final long TAIL_OFFSET = 64;
    public static final long HEAD_OFFSET = 128;
    public static final long DATA_SEQ_OFFSET = 192;
    public static final long DATA_WAITERS_OFFSET = 196;
    public static final long SPACE_SEQ_OFFSET = 256;
    public static final long SPACE_WAITERS_OFFSET = 260;
    public static final long CLOSED_OFFSET = 320;
    public static final long PRODUCER_PID_OFFSET = 328;
    public static final long CONSUMER_PID_OFFSET = 336;

    /** The header takes a whole page so that the data area that follows is page-aligned. */
    public static final long HEADER_LENGTH = Posix.PAGE_SIZE;

    public static final int ALIGNMENT = 64;
    public static final int RECORD_HEADER_LENGTH = 64;
    public static final long RECORD_LENGTH_OFFSET = 0;
    public static final long RECORD_STATE_OFFSET = 8;

    public static final int STATE_COMMITTED = 1;
    public static final int STATE_RELEASED = 2;

    /** The smallest data area: one page. */
    public static final long MIN_CAPACITY = Posix.PAGE_SIZE;

    /** Data-area size for a requested capacity: rounded up to whole pages. */
    public static long capacityFor(long requested) {
        long c = Math.max(requested, MIN_CAPACITY);
        return (c + Posix.PAGE_SIZE - 1) & -Posix.PAGE_SIZE;
    }

    /** Bytes of shared memory a ring of {@code capacity} needs: header plus data area. */
    public static long regionLength(long capacity) {
        return HEADER_LENGTH + capacityFor(capacity);
    }

    /** The room a record of {@code payloadLength} bytes takes in the data area. */
    public static long frameLength(long payloadLength) {
        return RECORD_HEADER_LENGTH + align(payloadLength);
    }

    /** The largest payload a ring of {@code capacity} can ever carry. */
    public static long maxPayload(long capacity) {
        return capacity - RECORD_HEADER_LENGTH;
    }

    static long align(long n) {
        return (n + ALIGNMENT - 1) & -ALIGNMENT;
    }
}
