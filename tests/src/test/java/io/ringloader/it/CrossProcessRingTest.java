package io.ringloader.it;

import io.ringloader.os.ChildProcess;
import io.ringloader.os.JavaProcess;
import io.ringloader.os.Posix;
import io.ringloader.os.SharedMemory;
import io.ringloader.ring.PeerDiedException;
import io.ringloader.ring.RingClosedException;
import io.ringloader.ring.RingDescriptor;
import io.ringloader.ring.RingRecord;
import io.ringloader.ring.SpscRing;
import org.junit.jupiter.api.AfterEach;
import io.ringloader.testkit.Isolated;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The ring between two real JVMs: a 4 GiB checked stream, and a peer killed with -9 on either side. */
@Isolated(timeout = "120s")
class CrossProcessRingTest {
    private static final long MIB = 1024 * 1024;
    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @AfterEach
    void cleanUp() throws Exception {
        for (AutoCloseable c : cleanup.reversed()) c.close();
    }

    /** Creates a ring, starts {@code RingPeer <args>} on it, waits until the peer has attached, unlinks. */
    private SpscRing ringWithPeer(long capacity, boolean peerProduces, String... peerArgs) throws Exception {
        SharedMemory shm = SharedMemory.create(SharedMemory.newName("it"), RingDescriptor.regionLength(capacity));
        cleanup.add(shm);
        cleanup.add(shm::unlink);
        SpscRing ring = SpscRing.create(shm, 0, capacity);
        if (peerProduces) ring.registerConsumer(); else ring.registerProducer();
        List<String> args = new ArrayList<>(List.of(peerArgs));
        args.add(1, shm.name());
        ChildProcess peer = ChildProcess.start("ring peer", JavaProcess.command(RingPeer.class.getName(), List.of("-Xmx64m"), args));
        cleanup.add(peer);
        peer.awaitOrDie(() -> (peerProduces ? ring.producerPid() : ring.consumerPid()) == peer.pid(), 30_000, "attach to the ring");
        shm.unlink();
        this.peer = peer;
        return ring;
    }

    private ChildProcess peer;

    @Test
    void fourGigabytesOfRandomSizedRecordsArriveOnceInOrderIntact() throws Exception {
        long total = 4L * 1024 * MIB;
        SpscRing ring = ringWithPeer(40 * MIB, true, "produce", "42", Long.toString(total));
        Pattern expected = new Pattern(42);
        long received = 0, records = 0, tiny = 0, large = 0;
        while (true) {
            RingRecord r;
            try {
                r = ring.read(TimeUnit.SECONDS.toNanos(60));
            } catch (RingClosedException end) {
                break; // the producer closes the ring after its last record
            }
            assertThat(r).as("record %d within 60 s", records).isNotNull();
            long size = expected.nextSize();
            assertThat(r.length()).as("size of record %d", records).isEqualTo(size);
            assertThat(Pattern.firstMismatch(r.payload(), records)).as("first wrong byte of record %d", records).isEqualTo(-1);
            assertThat(r.payload().address() % 64).isZero();
            ring.release(r);
            received += size;
            records++;
            if (size <= 4096) tiny++;
            if (size > 12 * MIB) large++;
        }
        assertThat(received).as("bytes received, as the producer sent them").isGreaterThanOrEqualTo(total)
                .isLessThan(total + Pattern.MAX_RECORD + 1);
        assertThat(tiny).as("tiny records").isGreaterThan(10);
        assertThat(large).as("records over 12 MiB").isGreaterThan(10);
        assertThat(peer.process().waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(peer.process().exitValue()).isZero();
    }

    @Test
    void theConsumerLearnsWithin100msThatTheProducerWasKilled() throws Exception {
        SpscRing ring = ringWithPeer(40 * MIB, true, "produce", "7", "-1");
        for (int k = 0; k < 20; k++) {
            RingRecord r = ring.read(TimeUnit.SECONDS.toNanos(30));
            assertThat(r).isNotNull();
            ring.release(r);
        }
        long pid = peer.pid();
        long killedAt = System.nanoTime();
        assertThat(Posix.kill(pid, Posix.SIGKILL)).isTrue();
        PeerDiedException died = null;
        try {
            while (true) { // records committed before the kill are still delivered
                RingRecord r = ring.read(TimeUnit.SECONDS.toNanos(30));
                assertThat(r).as("the consumer never just times out").isNotNull();
                ring.release(r);
            }
        } catch (PeerDiedException e) {
            died = e;
        }
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
        assertThat(ms).as("ms from kill -9 to the consumer's exception").isLessThan(100);
        assertThat(died.pid()).isEqualTo(pid);
        assertThat(died).hasMessageContaining("producer").hasMessageContaining("pid " + pid).hasMessageContaining("died");
        System.out.println("consumer learnt of the killed producer in " + ms + " ms");
    }

    @Test
    void aProducerBlockedOnAFullRingLearnsWithin100msThatTheConsumerWasKilled() throws Exception {
        long record = MIB;
        SpscRing ring = ringWithPeer(8 * MIB, false, "consume-and-stall", "3");
        AtomicLong failedAt = new AtomicLong();
        CompletableFuture<Throwable> producer = new CompletableFuture<>();
        Thread.ofPlatform().daemon().start(() -> {
            try {
                for (long k = 0; ; k++) {
                    long pos = ring.claim(record, TimeUnit.SECONDS.toNanos(60));
                    assertThat(pos).as("claim %d never just times out", k).isNotEqualTo(SpscRing.NO_SPACE);
                    ring.payload(pos).fill((byte) k);
                    ring.commit(pos);
                }
            } catch (Throwable t) {
                failedAt.set(System.nanoTime());
                producer.complete(t);
            }
        });
        // Wait until the ring is full: the consumer read 3 records and holds the 4th, so the producer blocks.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (ring.capacity() - ring.occupancy() >= RingDescriptor.frameLength(record)) {
            assertThat(System.nanoTime()).as("the ring fills up").isLessThan(deadline);
            Thread.sleep(5);
        }
        Thread.sleep(200);
        assertThat(producer).as("the producer is blocked").isNotDone();
        long pid = peer.pid();
        long killedAt = System.nanoTime();
        assertThat(Posix.kill(pid, Posix.SIGKILL)).isTrue();
        Throwable t = producer.get(30, TimeUnit.SECONDS);
        long ms = TimeUnit.NANOSECONDS.toMillis(failedAt.get() - killedAt);
        assertThat(t).isInstanceOf(PeerDiedException.class).hasMessageContaining("consumer").hasMessageContaining("pid " + pid);
        assertThat(ms).as("ms from kill -9 to the producer's exception").isLessThan(100);
        System.out.println("producer learnt of the killed consumer in " + ms + " ms");
    }

    @Test
    void aPeerThatDiesBeforeAttachingIsAnErrorWithItsExitCodeNotAHang() {
        assertThatThrownBy(() -> ringWithPeer(MIB, true, "no-such-role"))
                .hasMessageContaining("exited with code 1")
                .hasMessageContaining("before it could attach to the ring")
                .hasMessageContaining("IllegalArgumentException: no-such-role");
    }
}
