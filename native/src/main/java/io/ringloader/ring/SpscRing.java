package io.ringloader.ring;

import io.ringloader.os.Futex;
import io.ringloader.os.SharedMemory;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import static io.ringloader.ring.RingDescriptor.*;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * A single-producer, single-consumer ring of variable-length records between two processes, over a
 * region of shared memory laid out as {@link RingDescriptor} shows.
 *
 * <p>Producer: {@link #tryClaim} or {@link #claim} room for a record, write the payload in place through
 * {@link #payload}, then {@link #commit} it (or {@link #abort} it). Consumer: {@link #poll} or
 * {@link #read} records in order, use the payload in place, then {@link #release} each one. Releases may
 * come in any order and from any thread of the consumer's process: space is handed back to the producer
 * once every record before it has been released. That is what lets a trainer hold batch k while it reads
 * batch k+1.
 *
 * <p>Records can be as large as the ring less one record header ({@link #maxPayload}): the data area is
 * mapped twice back to back, so a record that crosses the end is still one contiguous slice.
 *
 * <p>Memory ordering: the producer writes the payload and the record header with plain stores, then
 * publishes {@code tail} with a release store; the consumer reads {@code tail} with an acquire load before
 * it touches a record. The consumer publishes {@code head} with a release store after it is done with the
 * released records; the producer reads {@code head} with an acquire load before it reuses their space.
 *
 * <p>Blocking: a waiter spins briefly, then sleeps on a futex word ({@code dataSeq} or {@code spaceSeq}),
 * never longer than {@link #WAIT_SLICE_NANOS} at a time, and between sleeps checks that the process on the
 * other side is still alive. The side that makes progress bumps the word and calls the kernel only when
 * the waiter count says someone sleeps. Either side can {@link #close} the ring; that wakes the other
 * side at once.
 */
public final class SpscRing {

    /** The longest a waiter sleeps before it checks its deadline, the closed flag and its peer. */
    public static final long WAIT_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    /** How often a waiter asks the kernel whether the other side's process still lives. */
    private static final long PEER_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
    /** How long a waiter spins before it sleeps: long enough to catch a peer that is mid-write. */
    private static final long SPIN_NANOS = TimeUnit.MICROSECONDS.toNanos(20);

    private static final VarHandle LONG = JAVA_LONG.varHandle();
    private static final VarHandle INT = JAVA_INT.varHandle();

    private final String name;
    private final MemorySegment header;
    /** The data area, mapped twice: {@code 2 * capacity} bytes. */
    private final MemorySegment data;
    private final long capacity;

    // Producer-side state (one producer thread).
    private long tail;
    private long headCache;
    private long claimed = -1;
    private long claimedLength;

    // Consumer-side state: reads on one thread, releases on any (under releaseLock).
    private volatile long readPosition;
    private final ReentrantLock releaseLock = new ReentrantLock();

    private Peer producerPeer;
    private Peer consumerPeer;

    private SpscRing(String name, MemorySegment header, MemorySegment data, long capacity) {
        this.name = name;
        this.header = header;
        this.data = data;
        this.capacity = capacity;
        this.tail = (long) LONG.getAcquire(header, TAIL_OFFSET);
        this.headCache = (long) LONG.getAcquire(header, HEAD_OFFSET);
        this.readPosition = headCache;
    }

    /**
     * Lays out a new ring in {@code [offset, offset + RingDescriptor.regionLength(capacity))} of
     * {@code shm} and returns it. {@code capacity} is rounded up to whole pages.
     */
    public static SpscRing create(SharedMemory shm, long offset, long capacity) {
        long cap = capacityFor(capacity);
        MemorySegment header = shm.map(offset, HEADER_LENGTH);
        // The creator's view of the data is not pre-faulted: it lays out rings for others (a loader, one
        // per worker), and pre-faulting a 4 MB ring's two mappings took 5-18 ms of a loader's start-up on
        // this project's machine; its pages fault in as it first touches them. The side that attaches
        // pre-faults its view (it writes there first, for a batch ring).
        MemorySegment data = shm.mapTwice(offset + HEADER_LENGTH, cap, false);
        header.fill((byte) 0);
        header.set(JAVA_LONG, CAPACITY_OFFSET, cap);
        header.set(JAVA_INT, VERSION_OFFSET, VERSION);
        INT.setRelease(header, MAGIC_OFFSET, MAGIC);
        return new SpscRing(shm.name() + "@" + offset, header, data, cap);
    }

    /** Maps a ring that another process (or {@link #create}) laid out at {@code offset} of {@code shm}. */
    public static SpscRing attach(SharedMemory shm, long offset) {
        MemorySegment header = shm.map(offset, HEADER_LENGTH);
        int magic = (int) INT.getAcquire(header, MAGIC_OFFSET);
        int version = header.get(JAVA_INT, VERSION_OFFSET);
        if (magic != MAGIC || version != VERSION) {
            throw new IllegalStateException("no ringloader ring (version " + VERSION + ") at offset " + offset + " of "
                    + shm + ": found magic 0x" + Integer.toHexString(magic) + ", version " + version);
        }
        long cap = header.get(JAVA_LONG, CAPACITY_OFFSET);
        return new SpscRing(shm.name() + "@" + offset, header, shm.mapTwice(offset + HEADER_LENGTH, cap), cap);
    }

    /** The ring's name in messages: the shared-memory object and the region's offset. */
    public String name() {
        return name;
    }

    /** Bytes in the data area. */
    public long capacity() {
        return capacity;
    }

    /** The largest payload a record can have. */
    public long maxPayload() {
        return RingDescriptor.maxPayload(capacity);
    }

    /** Bytes of the data area now taken by records that are not released yet (committed and claimed). */
    public long occupancy() {
        return (long) LONG.getAcquire(header, TAIL_OFFSET) - (long) LONG.getAcquire(header, HEAD_OFFSET);
    }

    // ------------------------------------------------------------------------------------------ roles

    /** Records this process as the producer, so that a consumer waiting for data can tell if it dies. */
    public void registerProducer() {
        LONG.setRelease(header, PRODUCER_PID_OFFSET, ProcessHandle.current().pid());
    }

    /** Records this process as the consumer, so that a producer waiting for space can tell if it dies. */
    public void registerConsumer() {
        LONG.setRelease(header, CONSUMER_PID_OFFSET, ProcessHandle.current().pid());
    }

    /** The producer's pid, or 0 before one registered. */
    public long producerPid() {
        return (long) LONG.getAcquire(header, PRODUCER_PID_OFFSET);
    }

    /** The consumer's pid, or 0 before one registered. */
    public long consumerPid() {
        return (long) LONG.getAcquire(header, CONSUMER_PID_OFFSET);
    }

    // --------------------------------------------------------------------------------------- producer

    /** What {@link #tryClaim} and {@link #claim} return when there is no room (yet). */
    public static final long NO_SPACE = -1;

    /**
     * Claims room for a record of {@code length} bytes without waiting. Returns its position, or
     * {@link #NO_SPACE} while the consumer still holds too much of the ring.
     *
     * @throws RecordTooLargeException if the record could never fit
     * @throws RingClosedException if the ring is closed
     * @throws IllegalStateException if a claim is already open
     */
    public long tryClaim(long length) {
        long frame = checkClaim(length);
        if (!hasSpace(frame)) return NO_SPACE;
        return openClaim(length);
    }

    /**
     * Claims room for a record of {@code length} bytes, waiting up to {@code timeoutNanos} for the consumer
     * to release space. Returns its position, or {@link #NO_SPACE} on timeout.
     *
     * @throws PeerDiedException if the consumer's process died while we waited
     * @throws RingClosedException if the ring is or becomes closed
     */
    public long claim(long length, long timeoutNanos) throws InterruptedException {
        long frame = checkClaim(length);
        if (!hasSpace(frame) && !await(SPACE_SEQ_OFFSET, SPACE_WAITERS_OFFSET, () -> hasSpace(frame) || isClosed(),
                timeoutNanos, CONSUMER_PID_OFFSET)) {
            return NO_SPACE;
        }
        if (isClosed()) throw closed("claim");
        return openClaim(length);
    }

    private long checkClaim(long length) {
        if (claimed >= 0) {
            throw new IllegalStateException("ring " + name + ": a claim at position " + claimed
                    + " is still open; commit or abort it before the next");
        }
        if (length < 0) throw new IllegalArgumentException("a record length cannot be negative: " + length);
        long frame = frameLength(length);
        if (frame > capacity) throw new RecordTooLargeException(name, length, capacity, maxPayload());
        if (isClosed()) throw closed("claim");
        return frame;
    }

    private boolean hasSpace(long frame) {
        if (tail + frame - headCache <= capacity) return true;
        headCache = (long) LONG.getAcquire(header, HEAD_OFFSET);
        return tail + frame - headCache <= capacity;
    }

    private long openClaim(long length) {
        claimed = tail;
        claimedLength = length;
        return tail;
    }

    /**
     * Grows the open claim at {@code position} to {@code newLength} bytes, waiting up to
     * {@code timeoutNanos} for the consumer to release space; returns false on timeout. The bytes already
     * written stay where they are: a producer that does not know a record's final size can claim an
     * estimate and grow it in place.
     *
     * @throws RecordTooLargeException if a record of {@code newLength} could never fit
     */
    public boolean extendClaim(long position, long newLength, long timeoutNanos) throws InterruptedException {
        checkOpenClaim(position);
        if (newLength <= claimedLength) return true;
        long frame = frameLength(newLength);
        if (frame > capacity) throw new RecordTooLargeException(name, newLength, capacity, maxPayload());
        if (!hasSpace(frame) && !await(SPACE_SEQ_OFFSET, SPACE_WAITERS_OFFSET, () -> hasSpace(frame) || isClosed(),
                timeoutNanos, CONSUMER_PID_OFFSET)) {
            return false;
        }
        if (isClosed()) throw closed("claim");
        claimedLength = newLength;
        return true;
    }

    /** The payload of the open claim at {@code position}, to write in place: exactly the claimed length. */
    public MemorySegment payload(long position) {
        checkOpenClaim(position);
        return data.asSlice(index(position) + RECORD_HEADER_LENGTH, claimedLength);
    }

    /** Publishes the claimed record with its full claimed length. */
    public void commit(long position) {
        commit(position, claimedLength);
    }

    /**
     * Publishes the claimed record with {@code length} bytes of payload, at most the claimed length (a
     * producer may claim for the worst case and use less).
     */
    public void commit(long position, long length) {
        checkOpenClaim(position);
        if (length < 0 || length > claimedLength) {
            throw new IllegalArgumentException("ring " + name + ": cannot commit " + length
                    + " bytes of a record claimed with " + claimedLength);
        }
        long at = index(position);
        data.set(JAVA_LONG, at + RECORD_LENGTH_OFFSET, length);
        data.set(JAVA_INT, at + RECORD_STATE_OFFSET, STATE_COMMITTED);
        tail = position + frameLength(length);
        claimed = -1;
        LONG.setRelease(header, TAIL_OFFSET, tail);
        signal(DATA_SEQ_OFFSET, DATA_WAITERS_OFFSET);
    }

    /** Gives up the open claim: nothing is published and the room is free for the next claim. */
    public void abort(long position) {
        checkOpenClaim(position);
        claimed = -1;
    }

    private void checkOpenClaim(long position) {
        if (claimed < 0 || position != claimed) {
            throw new IllegalStateException("ring " + name + ": no open claim at position " + position
                    + (claimed < 0 ? "" : " (the open claim is at " + claimed + ")"));
        }
    }

    // --------------------------------------------------------------------------------------- consumer

    /** The next committed record, or null if there is none now. */
    public RingRecord poll() {
        if ((long) LONG.getAcquire(header, TAIL_OFFSET) <= readPosition) {
            if (isClosed() && (long) LONG.getAcquire(header, TAIL_OFFSET) <= readPosition) throw closed("read");
            return null;
        }
        return take();
    }

    /**
     * The next committed record, waiting up to {@code timeoutNanos} for one; null on timeout. Records
     * committed before the ring was closed are still delivered; after them, a closed ring throws.
     *
     * @throws PeerDiedException if the producer's process died while we waited
     * @throws RingClosedException if the ring is closed and holds no more records
     */
    public RingRecord read(long timeoutNanos) throws InterruptedException {
        RingRecord r = poll();
        if (r != null) return r;
        if (!await(DATA_SEQ_OFFSET, DATA_WAITERS_OFFSET,
                () -> (long) LONG.getAcquire(header, TAIL_OFFSET) > readPosition || isClosed(),
                timeoutNanos, PRODUCER_PID_OFFSET)) {
            return null;
        }
        return poll();
    }

    private RingRecord take() {
        long at = index(readPosition);
        long length = data.get(JAVA_LONG, at + RECORD_LENGTH_OFFSET);
        RingRecord record = new RingRecord(readPosition, data.asSlice(at + RECORD_HEADER_LENGTH, length));
        readPosition += frameLength(length);
        return record;
    }

    /** Hands a record's space back; see the class comment for out-of-order releases. */
    public void release(RingRecord record) {
        release(record.position());
    }

    /** Hands the space of the record at {@code position} back. Safe from any thread of the consumer. */
    public void release(long position) {
        releaseLock.lock();
        try {
            long head = (long) LONG.getAcquire(header, HEAD_OFFSET);
            if (position < head || position >= readPosition || (position & (ALIGNMENT - 1)) != 0) {
                throw new IllegalStateException("ring " + name + ": no record at position " + position
                        + " is held (held: [" + head + ", " + readPosition + "))");
            }
            long at = index(position);
            int state = data.get(JAVA_INT, at + RECORD_STATE_OFFSET);
            if (state != STATE_COMMITTED) {
                throw new IllegalStateException("ring " + name + ": the record at position " + position
                        + (state == STATE_RELEASED ? " was already released" : " is not a record start"));
            }
            data.set(JAVA_INT, at + RECORD_STATE_OFFSET, STATE_RELEASED);
            if (position != head) return; // an earlier record is still held: the space stays taken
            while (head < readPosition && data.get(JAVA_INT, index(head) + RECORD_STATE_OFFSET) == STATE_RELEASED) {
                head += frameLength(data.get(JAVA_LONG, index(head) + RECORD_LENGTH_OFFSET));
            }
            LONG.setRelease(header, HEAD_OFFSET, head);
        } finally {
            releaseLock.unlock();
        }
        signal(SPACE_SEQ_OFFSET, SPACE_WAITERS_OFFSET);
    }

    // ------------------------------------------------------------------------------------------ close

    /** Whether either side has closed the ring. */
    public boolean isClosed() {
        return (int) INT.getVolatile(header, CLOSED_OFFSET) != 0;
    }

    /**
     * Closes the ring for both sides and wakes whoever waits on it. The producer can claim no more; the
     * consumer still reads what was committed, then gets {@link RingClosedException}. Idempotent. The
     * memory stays mapped: it belongs to the {@link SharedMemory} the ring was made from.
     */
    public void close() {
        INT.setVolatile(header, CLOSED_OFFSET, 1);
        INT.getAndAdd(header, DATA_SEQ_OFFSET, 1);
        INT.getAndAdd(header, SPACE_SEQ_OFFSET, 1);
        Futex.wakeAll(header, DATA_SEQ_OFFSET);
        Futex.wakeAll(header, SPACE_SEQ_OFFSET);
    }

    private RingClosedException closed(String operation) {
        return new RingClosedException("ring " + name + " is closed: cannot " + operation);
    }

    // ---------------------------------------------------------------------------------------- waiting

    /**
     * Waits until {@code ready} holds. The futex protocol: read the sequence word, then test the condition,
     * then count ourselves as a waiter and sleep on the word's old value. The other side changes the state,
     * then bumps the word, then wakes if it sees a waiter. Whatever the interleaving, either we see the new
     * state, or the kernel sees the bumped word and does not sleep, or the other side sees our waiter count
     * and wakes us: no wake-up is lost.
     */
    private boolean await(long seqOffset, long waitersOffset, Condition ready, long timeoutNanos, long peerPidOffset)
            throws InterruptedException {
        long start = System.nanoTime();
        long timeout = Math.max(0, timeoutNanos);
        long spinEnd = Math.min(SPIN_NANOS, timeout);
        while (System.nanoTime() - start < spinEnd) {
            if (ready.test()) return true;
            Thread.onSpinWait();
        }
        return sleepUntil(seqOffset, waitersOffset, ready, start, timeout, peerPidOffset);
    }

    /**
     * The slow half of {@link #await}, a method of its own: the JIT compiles the spin loop above without
     * it. (Inlined together they made one of the largest methods of the trainer, and compiling it took a
     * core for ~0.2 s in the middle of a short epoch.)
     */
    private boolean sleepUntil(long seqOffset, long waitersOffset, Condition ready, long start, long timeout, long peerPidOffset)
            throws InterruptedException {
        while (true) {
            int seq = (int) INT.getVolatile(header, seqOffset);
            if (ready.test()) return true;
            if (Thread.interrupted()) throw new InterruptedException("interrupted while waiting on ring " + name);
            long now = System.nanoTime();
            long left = timeout - (now - start);
            if (left <= 0) return false;
            checkPeer(peerPidOffset, now);
            INT.getAndAdd(header, waitersOffset, 1);
            try {
                Futex.await(header, seqOffset, seq, Math.min(left, WAIT_SLICE_NANOS));
            } finally {
                INT.getAndAdd(header, waitersOffset, -1);
            }
        }
    }

    private void signal(long seqOffset, long waitersOffset) {
        INT.getAndAdd(header, seqOffset, 1);
        if ((int) INT.getVolatile(header, waitersOffset) > 0) Futex.wakeAll(header, seqOffset);
    }

    /**
     * Throws if the other side's process is gone. Asking the kernel costs a few microseconds, so a waiter
     * asks at most once per {@link #PEER_CHECK_NANOS}: a trainer that waits for every batch does not pay
     * it every time, and a dead peer is still seen within one wait slice.
     */
    private void checkPeer(long peerPidOffset, long now) {
        boolean producer = peerPidOffset == PRODUCER_PID_OFFSET;
        Peer peer = producer ? producerPeer : consumerPeer;
        long pid = (long) LONG.getAcquire(header, peerPidOffset);
        if (pid == 0) return; // the other side has not attached yet: its starter supervises that
        if (peer == null || peer.pid != pid) {
            peer = new Peer(pid, ProcessHandle.of(pid));
            if (producer) producerPeer = peer; else consumerPeer = peer;
        } else if (now - peer.checkedAt < PEER_CHECK_NANOS) {
            return;
        }
        peer.checkedAt = now;
        if (peer.handle.isEmpty() || !peer.handle.get().isAlive()) throw peerDied(producer, pid);
    }

    private PeerDiedException peerDied(boolean producer, long pid) {
        String role = producer ? "producer" : "consumer";
        String waiting = producer ? "data" : "space";
        return new PeerDiedException("the " + role + " of ring " + name + " (pid " + pid
                + ") died while this process waited for " + waiting, pid);
    }

    private long index(long position) {
        return position % capacity;
    }

    /** The other side's process, and when a waiter last asked whether it lives (System.nanoTime). */
    private static final class Peer {
        final long pid;
        final Optional<ProcessHandle> handle;
        long checkedAt;

        Peer(long pid, Optional<ProcessHandle> handle) {
            this.pid = pid;
            this.handle = handle;
        }
    }

    @FunctionalInterface
    private interface Condition {
        boolean test();
    }
}
