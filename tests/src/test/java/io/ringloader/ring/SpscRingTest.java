package io.ringloader.ring;

import io.ringloader.os.SharedMemory;
import org.junit.jupiter.api.AfterEach;
import io.ringloader.testkit.Isolated;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@Isolated(timeout = "30s")
class SpscRingTest {
    private static final long CAP = 64 * 1024;
    private final List<SharedMemory> opened = new ArrayList<>();

    private SpscRing newRing(long capacity) {
        SharedMemory shm = SharedMemory.create(SharedMemory.newName("test"), RingDescriptor.regionLength(capacity));
        opened.add(shm);
        shm.unlink();
        return SpscRing.create(shm, 0, capacity);
    }

    @AfterEach
    void closeAll() {
        opened.forEach(SharedMemory::close);
    }

    private static void write(SpscRing ring, long length, byte value) {
        long pos = ring.tryClaim(length);
        assertThat(pos).as("claim of %d bytes", length).isNotEqualTo(SpscRing.NO_SPACE);
        ring.payload(pos).fill(value);
        ring.commit(pos);
    }

    @Test
    void emptyRingHasNothingToRead() throws Exception {
        SpscRing ring = newRing(CAP);
        assertThat(ring.poll()).isNull();
        assertThat(ring.occupancy()).isZero();
    }

    @Test
    void recordsArriveInOrderIntact() {
        SpscRing ring = newRing(CAP);
        for (int i = 0; i < 5; i++) write(ring, 100 + i, (byte) i);
        for (int i = 0; i < 5; i++) {
            RingRecord r = ring.poll();
            assertThat(r.length()).isEqualTo(100 + i);
            assertThat(r.payload().toArray(JAVA_BYTE)).containsOnly((byte) i);
            ring.release(r);
        }
        assertThat(ring.poll()).isNull();
        assertThat(ring.occupancy()).isZero();
    }

    @Test
    void payloadsAre64ByteAlignedWhateverTheLengths() {
        SpscRing ring = newRing(CAP);
        for (long len : new long[] {1, 3, 63, 64, 65, 0, 1000}) {
            long pos = ring.tryClaim(len);
            assertThat(ring.payload(pos).address() % 64).as("payload of %d bytes", len).isZero();
            ring.commit(pos);
        }
        RingRecord r;
        while ((r = ring.poll()) != null) {
            assertThat(r.payload().address() % 64).isZero();
            ring.release(r);
        }
    }

    @Test
    void fullRingRefusesUntilSpaceIsReleased() {
        SpscRing ring = newRing(CAP);
        long record = 16 * 1024 - RingDescriptor.RECORD_HEADER_LENGTH; // four frames fill the ring exactly
        for (int i = 0; i < 4; i++) write(ring, record, (byte) i);
        assertThat(ring.occupancy()).isEqualTo(CAP);
        assertThat(ring.tryClaim(1)).isEqualTo(SpscRing.NO_SPACE);
        ring.release(ring.poll());
        assertThat(ring.tryClaim(record)).isNotEqualTo(SpscRing.NO_SPACE);
    }

    @Test
    void recordsThatWrapPastTheEndStayContiguous() {
        SpscRing ring = newRing(CAP);
        Random random = new Random(1);
        long written = 0;
        for (int i = 0; i < 200; i++) { // many trips around the ring, with records crossing the end
            int len = 1 + random.nextInt(20_000);
            long pos = ring.tryClaim(len);
            MemorySegment p = ring.payload(pos);
            for (int j = 0; j < len; j++) p.set(JAVA_BYTE, j, (byte) (i * 31 + j));
            ring.commit(pos);
            written += RingDescriptor.frameLength(len);
            RingRecord r = ring.poll();
            assertThat(r.length()).isEqualTo(len);
            for (int j = 0; j < len; j++) {
                if (r.payload().get(JAVA_BYTE, j) != (byte) (i * 31 + j)) {
                    throw new AssertionError("record " + i + " byte " + j + " corrupt");
                }
            }
            ring.release(r);
        }
        assertThat(written).isGreaterThan(10 * CAP);
    }

    @Test
    void theDataAreaIsMappedTwiceSoAWrappedRecordSeesTheStart() {
        SpscRing ring = newRing(CAP);
        // Push the tail to 64 bytes short of the end, then write a record that crosses it.
        write(ring, CAP - 2 * 64 - 64, (byte) 0);
        ring.release(ring.poll());
        long pos = ring.tryClaim(256);
        assertThat(pos % CAP).isEqualTo(CAP - 128);
        ring.payload(pos).fill((byte) 7);
        ring.commit(pos);
        RingRecord r = ring.poll();
        assertThat(r.payload().toArray(JAVA_BYTE)).hasSize(256).containsOnly((byte) 7);
        ring.release(r);
    }

    @Test
    void outOfOrderReleaseFreesSpaceOnlyWhenEverythingBeforeIsReleased() {
        SpscRing ring = newRing(CAP);
        long record = 16 * 1024 - RingDescriptor.RECORD_HEADER_LENGTH;
        for (int i = 0; i < 4; i++) write(ring, record, (byte) i);
        RingRecord a = ring.poll(), b = ring.poll(), c = ring.poll();
        ring.release(c);
        ring.release(b);
        assertThat(ring.occupancy()).as("a is still held, so nothing is free").isEqualTo(CAP);
        assertThat(ring.tryClaim(1)).isEqualTo(SpscRing.NO_SPACE);
        ring.release(a);
        assertThat(ring.occupancy()).as("a, b and c are free; d is unread").isEqualTo(CAP / 4);
        assertThat(a.payload().address()).isNotEqualTo(b.payload().address());
    }

    @Test
    void releasingTwiceOrWhatWasNotReadIsAnError() {
        SpscRing ring = newRing(CAP);
        write(ring, 10, (byte) 1);
        write(ring, 10, (byte) 2);
        RingRecord a = ring.poll();
        ring.release(a);
        assertThatThrownBy(() -> ring.release(a)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("no record at position 0");
        assertThatThrownBy(() -> ring.release(128)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("is held");
        RingRecord b = ring.poll();
        ring.release(b);
    }

    @Test
    void theLargestRecordFillsTheWholeRing() {
        SpscRing ring = newRing(CAP);
        write(ring, 100, (byte) 1); // so the big record starts mid-ring and wraps
        ring.release(ring.poll());
        long max = ring.maxPayload();
        assertThat(max).isEqualTo(CAP - 64);
        write(ring, max, (byte) 9);
        RingRecord r = ring.poll();
        assertThat(r.length()).isEqualTo(max);
        assertThat(r.payload().get(JAVA_BYTE, 0)).isEqualTo((byte) 9);
        assertThat(r.payload().get(JAVA_BYTE, max - 1)).isEqualTo((byte) 9);
        ring.release(r);
    }

    @Test
    void aRecordThatCanNeverFitIsAClearErrorNamingBothSizes() {
        SpscRing ring = newRing(CAP);
        assertThatThrownBy(() -> ring.tryClaim(CAP))
                .isInstanceOf(RecordTooLargeException.class)
                .hasMessageContaining("record of " + CAP + " bytes can never fit")
                .hasMessageContaining("capacity is " + CAP)
                .hasMessageContaining("largest record it can carry is " + (CAP - 64));
    }

    @Test
    void abortPublishesNothingAndFreesTheClaim() {
        SpscRing ring = newRing(CAP);
        long pos = ring.tryClaim(500);
        ring.payload(pos).fill((byte) 5);
        ring.abort(pos);
        assertThat(ring.poll()).isNull();
        assertThat(ring.occupancy()).isZero();
        long again = ring.tryClaim(10);
        assertThat(again).isEqualTo(pos);
        ring.payload(again).fill((byte) 6);
        ring.commit(again);
        assertThat(ring.poll().payload().toArray(JAVA_BYTE)).containsOnly((byte) 6);
    }

    @Test
    void commitMayShrinkAClaimButNotGrowIt() {
        SpscRing ring = newRing(CAP);
        long pos = ring.tryClaim(1000);
        assertThatThrownBy(() -> ring.commit(pos, 1001)).isInstanceOf(IllegalArgumentException.class);
        ring.commit(pos, 10);
        assertThat(ring.poll().length()).isEqualTo(10);
        assertThat(ring.occupancy()).isEqualTo(128);
    }

    @Test
    void oneClaimAtATime() {
        SpscRing ring = newRing(CAP);
        long pos = ring.tryClaim(10);
        assertThatThrownBy(() -> ring.tryClaim(10)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("still open");
        assertThatThrownBy(() -> ring.commit(pos + 64)).isInstanceOf(IllegalStateException.class);
        ring.commit(pos);
    }

    @Test
    void readAndClaimTimeOutInsteadOfBlockingForever() throws Exception {
        SpscRing ring = newRing(CAP);
        long t0 = System.nanoTime();
        assertThat(ring.read(TimeUnit.MILLISECONDS.toNanos(50))).isNull();
        assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(50));
        write(ring, ring.maxPayload(), (byte) 1);
        t0 = System.nanoTime();
        assertThat(ring.claim(1, TimeUnit.MILLISECONDS.toNanos(50))).isEqualTo(SpscRing.NO_SPACE);
        assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(50));
    }

    @Test
    void aBlockedReaderWakesWhenARecordIsCommitted() throws Exception {
        SpscRing ring = newRing(CAP);
        CompletableFuture<RingRecord> reader = Async.supply(() -> {
            try {
                return ring.read(TimeUnit.SECONDS.toNanos(30));
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        Thread.sleep(100); // let the reader go to sleep on the futex
        write(ring, 8, (byte) 3);
        assertThat(reader.get(5, TimeUnit.SECONDS).payload().toArray(JAVA_BYTE)).containsOnly((byte) 3);
    }

    @Test
    void closingWakesABlockedReaderAtOnceButDeliversWhatWasCommitted() throws Exception {
        SpscRing ring = newRing(CAP);
        write(ring, 8, (byte) 1);
        ring.close();
        assertThat(ring.read(0)).isNotNull();
        assertThatThrownBy(() -> ring.read(TimeUnit.SECONDS.toNanos(30))).isInstanceOf(RingClosedException.class)
                .hasMessageContaining("is closed");
        assertThatThrownBy(() -> ring.tryClaim(1)).isInstanceOf(RingClosedException.class);
    }

    @Test
    void closingFromTheOtherSideWakesABlockedReaderAndABlockedProducer() throws Exception {
        SpscRing ring = newRing(CAP);
        CompletableFuture<Throwable> reader = Async.supply(() -> {
            try {
                ring.read(TimeUnit.SECONDS.toNanos(30));
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        SpscRing full = newRing(CAP);
        full.tryClaim(full.maxPayload());
        full.commit(0);
        CompletableFuture<Throwable> producer = Async.supply(() -> {
            try {
                full.claim(10, TimeUnit.SECONDS.toNanos(30));
                return null;
            } catch (Throwable t) {
                return t;
            }
        });
        Thread.sleep(100);
        long t0 = System.nanoTime();
        ring.close();
        full.close();
        assertThat(reader.get(5, TimeUnit.SECONDS)).isInstanceOf(RingClosedException.class);
        assertThat(producer.get(5, TimeUnit.SECONDS)).isInstanceOf(RingClosedException.class);
        assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).as("ms to wake both").isLessThan(1000);
    }

    @Test
    void twoThreadsStreamManyRecordsThroughASmallRing() throws Exception {
        SpscRing ring = newRing(CAP);
        int n = 20_000;
        CompletableFuture<Void> producer = Async.run(() -> {
            Random random = new Random(7);
            try {
                for (int i = 0; i < n; i++) {
                    int len = 9 + random.nextInt(5000);
                    long pos = ring.claim(len, TimeUnit.SECONDS.toNanos(30));
                    MemorySegment p = ring.payload(pos);
                    p.set(JAVA_LONG, 0, i);
                    p.set(JAVA_BYTE, len - 1, (byte) i);
                    ring.commit(pos);
                }
            } catch (InterruptedException e) {
                throw new RuntimeException(e);
            }
        });
        Random random = new Random(7);
        for (int i = 0; i < n; i++) {
            int len = 9 + random.nextInt(5000);
            RingRecord r = ring.read(TimeUnit.SECONDS.toNanos(30));
            assertThat(r).as("record %d", i).isNotNull();
            assertThat(r.length()).isEqualTo(len);
            assertThat(r.payload().get(JAVA_LONG, 0)).isEqualTo(i);
            assertThat(r.payload().get(JAVA_BYTE, len - 1)).isEqualTo((byte) i);
            ring.release(r);
        }
        producer.get(30, TimeUnit.SECONDS);
    }

    @Test
    void attachReadsTheLayoutAndRejectsWhatIsNotARing() {
        SharedMemory shm = SharedMemory.create(SharedMemory.newName("test"), RingDescriptor.regionLength(CAP) + 4096 * 2);
        opened.add(shm);
        shm.unlink();
        SpscRing created = SpscRing.create(shm, 0, CAP);
        SpscRing attached = SpscRing.attach(shm, 0);
        assertThat(attached.capacity()).isEqualTo(CAP);
        write(created, 42, (byte) 4);
        assertThat(attached.poll().payload().toArray(JAVA_BYTE)).hasSize(42).containsOnly((byte) 4);
        assertThatThrownBy(() -> SpscRing.attach(shm, RingDescriptor.regionLength(CAP)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("no ringloader ring");
    }
}
