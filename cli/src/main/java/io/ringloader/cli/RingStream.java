package io.ringloader.cli;

import io.ringloader.os.ChildProcess;
import io.ringloader.os.JavaProcess;
import io.ringloader.os.ParentWatch;
import io.ringloader.os.SharedMemory;
import io.ringloader.ring.RingDescriptor;
import io.ringloader.ring.RingRecord;
import io.ringloader.ring.SpscRing;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Records streamed through a ring from a producer JVM to this one: the demo and {@code bench ring}.
 * The producer writes every byte of every record (record {@code k} is filled with byte {@code k}); the
 * consumer reads every byte and checks it.
 */
final class RingStream implements AutoCloseable {
    private final SharedMemory shm;
    private final SpscRing ring;
    private final ChildProcess producer;
    private int next;

    private RingStream(SharedMemory shm, SpscRing ring, ChildProcess producer) {
        this.shm = shm;
        this.ring = ring;
        this.producer = producer;
    }

    /** Starts a producer JVM that will send {@code records} records of {@code recordBytes} bytes. */
    static RingStream start(long recordBytes, long records, int recordsInRing) throws InterruptedException {
        long capacity = recordsInRing * RingDescriptor.frameLength(recordBytes);
        SharedMemory shm = SharedMemory.create(SharedMemory.newName("stream"), RingDescriptor.regionLength(capacity));
        ChildProcess child = null;
        try {
            SpscRing ring = SpscRing.create(shm, 0, capacity);
            ring.registerConsumer();
            child = ChildProcess.start("producer", JavaProcess.command(Producer.class.getName(), List.of("-Xmx64m"),
                    List.of(shm.name(), Long.toString(recordBytes), Long.toString(records))));
            child.awaitOrDie(() -> ring.producerPid() != 0, 30_000, "attach to the ring");
            shm.unlink(); // both sides have it mapped: nothing can be left in /dev/shm from here on
            return new RingStream(shm, ring, child);
        } catch (RuntimeException | InterruptedException e) {
            if (child != null) child.close();
            shm.unlink();
            shm.close();
            throw e;
        }
    }

    long producerPid() {
        return producer.pid();
    }

    /** Reads the next record, checks every byte, releases it; returns its length. */
    long readAndCheck() throws InterruptedException {
        RingRecord r;
        while ((r = ring.read(TimeUnit.SECONDS.toNanos(1))) == null) {
            if (!producer.isAlive()) throw producer.died("send record " + next);
        }
        long length = r.length();
        check(r.payload(), (byte) next);
        ring.release(r);
        next++;
        return length;
    }

    /** Reads every byte of {@code p} and fails unless all equal {@code b}. */
    static void check(MemorySegment p, byte b) {
        long expected = (b & 0xffL) * 0x0101010101010101L;
        long words = p.byteSize() >>> 3, bad = 0;
        for (long i = 0; i < words; i++) bad |= p.getAtIndex(JAVA_LONG, i) ^ expected; // a loop C2 vectorizes
        for (long i = words << 3; i < p.byteSize(); i++) bad |= p.get(JAVA_BYTE, i) ^ b;
        if (bad != 0) throw new IllegalStateException("record " + (b & 0xff) + " arrived corrupt");
    }

    @Override
    public void close() {
        ring.close();
        producer.close();
        shm.close();
    }

    /** The producer JVM: {@code Producer <shm name> <record bytes> <records>}. */
    public static final class Producer {
        public static void main(String[] args) throws Exception {
            ParentWatch.dieWithParent(JavaProcess.parentPid());
            long recordBytes = Long.parseLong(args[1]);
            long records = Long.parseLong(args[2]);
            try (SharedMemory shm = SharedMemory.open(args[0])) {
                SpscRing ring = SpscRing.attach(shm, 0);
                ring.registerProducer();
                for (long k = 0; k < records; k++) {
                    long pos;
                    while ((pos = ring.claim(recordBytes, TimeUnit.SECONDS.toNanos(1))) == SpscRing.NO_SPACE) {
                        // keep waiting: claim() itself notices a dead consumer or a closed ring
                    }
                    ring.payload(pos).fill((byte) k);
                    ring.commit(pos);
                }
            }
        }
    }
}
