package io.ringloader.it;

import io.ringloader.os.JavaProcess;
import io.ringloader.os.ParentWatch;
import io.ringloader.os.SharedMemory;
import io.ringloader.ring.RingClosedException;
import io.ringloader.ring.RingRecord;
import io.ringloader.ring.SpscRing;

import java.util.concurrent.TimeUnit;

/**
 * The other side of a cross-process ring test, in its own JVM:
 * <ul>
 *   <li>{@code produce <shm> <seed> <bytes>}: sends {@link Pattern} records until {@code bytes} were sent
 *       ({@code bytes} = -1: forever), then closes the ring;</li>
 *   <li>{@code consume-and-stall <shm> <records>}: reads and releases that many records, then holds the
 *       next one and sleeps, so that the producer fills the ring and blocks.</li>
 * </ul>
 */
public final class RingPeer {
    public static void main(String[] args) throws Exception {
        ParentWatch.dieWithParent(JavaProcess.parentPid());
        try (SharedMemory shm = SharedMemory.open(args[1])) {
            SpscRing ring = SpscRing.attach(shm, 0);
            switch (args[0]) {
                case "produce" -> produce(ring, Long.parseLong(args[2]), Long.parseLong(args[3]));
                case "consume-and-stall" -> consumeAndStall(ring, Integer.parseInt(args[2]));
                default -> throw new IllegalArgumentException(args[0]);
            }
        }
    }

    private static void produce(SpscRing ring, long seed, long bytes) throws InterruptedException {
        ring.registerProducer();
        Pattern pattern = new Pattern(seed);
        long sent = 0;
        for (long k = 0; bytes < 0 || sent < bytes; k++) {
            long size = pattern.nextSize();
            long pos;
            while ((pos = ring.claim(size, TimeUnit.SECONDS.toNanos(1))) == SpscRing.NO_SPACE) {
                // claim() notices a dead consumer or a closed ring by itself
            }
            Pattern.fill(ring.payload(pos), k);
            ring.commit(pos);
            sent += size;
        }
        ring.close();
    }

    private static void consumeAndStall(SpscRing ring, int records) throws InterruptedException {
        ring.registerConsumer();
        for (int k = 0; k < records; k++) {
            RingRecord r = ring.read(TimeUnit.SECONDS.toNanos(30));
            if (r == null) throw new IllegalStateException("no record " + k + " within 30 s");
            ring.release(r);
        }
        System.out.println("stalling");
        try {
            Thread.sleep(TimeUnit.MINUTES.toMillis(10));
        } catch (RingClosedException e) {
            // never: sleeping
        }
    }
}
