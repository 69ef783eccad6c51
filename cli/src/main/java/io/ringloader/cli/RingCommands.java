package io.ringloader.cli;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Locale;

/** {@code ringloader demo} (for now: the ring between two processes) and {@code ringloader bench ring}. */
final class RingCommands {
    private RingCommands() {}

    static final long MIB = 1024 * 1024;

    /** A small end-to-end run: a producer JVM streams 1 GiB of checked records to this one. */
    static void demo() throws Exception {
        System.out.println("ringloader demo: the shared-memory ring between two processes.");
        System.out.println("(The DataLoader and DJL training demo replace this once they land; see the README.)");
        long recordBytes = 4 * MIB;
        int records = 256;
        long t0 = System.nanoTime();
        try (RingStream stream = RingStream.start(recordBytes, records, 4)) {
            long started = System.nanoTime();
            long bytes = 0;
            for (int k = 0; k < records; k++) bytes += stream.readAndCheck();
            double s = (System.nanoTime() - started) / 1e9;
            System.out.printf(Locale.ROOT, "producer JVM pid %d started and attached in %.0f ms%n",
                    stream.producerPid(), (started - t0) / 1e6);
            System.out.printf(Locale.ROOT, "received %d records of %d MiB (%.2f GB), every byte checked, in %.2f s: %.2f GB/s%n",
                    records, recordBytes / MIB, bytes / 1e9, s, bytes / 1e9 / s);
        }
        System.out.println("demo OK: nothing left in /dev/shm, producer stopped.");
    }

    /**
     * GB/s through the ring between two processes (producer writes every byte of 16 MiB records, consumer
     * reads every byte), beside a single-thread copy of one 16 MiB record measured in the same run.
     */
    static void benchRing(String[] args) throws Exception {
        long recordBytes = 16 * MIB;
        int warmup = 32, measured = 256, inRing = 2;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--records" -> measured = Integer.parseInt(args[++i]);
                case "--record-mib" -> recordBytes = Long.parseLong(args[++i]) * MIB;
                case "--in-ring" -> inRing = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("bench ring: unknown option " + args[i]
                        + " (known: --records N, --record-mib M, --in-ring K)");
            }
        }
        double ring;
        try (RingStream stream = RingStream.start(recordBytes, warmup + measured, inRing)) {
            for (int k = 0; k < warmup; k++) stream.readAndCheck();
            long t0 = System.nanoTime();
            long bytes = 0;
            for (int k = 0; k < measured; k++) bytes += stream.readAndCheck();
            ring = bytes / 1e9 / ((System.nanoTime() - t0) / 1e9);
        }
        double memcpy = memcpy(recordBytes);
        System.out.printf(Locale.ROOT, "{\"impl\":\"ring\",\"gb_per_s\":%.3f,\"record_bytes\":%d,\"records\":%d,\"ratio_to_memcpy\":%.3f}%n",
                ring, recordBytes, measured, ring / memcpy);
        System.out.printf(Locale.ROOT, "{\"impl\":\"memcpy\",\"gb_per_s\":%.3f,\"record_bytes\":%d}%n", memcpy, recordBytes);
    }

    /** GB/s of a single-thread copy between two off-heap buffers of {@code bytes}, best of 5 rounds. */
    static double memcpy(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(bytes, 64).fill((byte) 1);
            MemorySegment dst = arena.allocate(bytes, 64).fill((byte) 0);
            double best = 0;
            for (int round = 0; round < 5; round++) {
                int reps = 20;
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) MemorySegment.copy(src, 0, dst, 0, bytes);
                best = Math.max(best, reps * bytes / 1e9 / ((System.nanoTime() - t0) / 1e9));
            }
            return best;
        }
    }
}
