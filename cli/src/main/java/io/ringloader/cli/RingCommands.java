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
     * GB/s through the ring between two processes (the producer writes every byte of 16 MiB records, the
     * consumer reads every byte), beside a single-thread copy of one 16 MiB record measured in the same
     * run. Both are measured the same way: the median of {@code ROUNDS} timed rounds after a warm-up.
     */
    static void benchRing(String[] args) throws Exception {
        long recordBytes = 16 * MIB;
        int perRound = 64, inRing = 2;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--records" -> perRound = Math.max(1, Integer.parseInt(args[++i]) / ROUNDS);
                case "--record-mib" -> recordBytes = Long.parseLong(args[++i]) * MIB;
                case "--in-ring" -> inRing = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("bench ring: unknown option " + args[i]
                        + " (known: --records N, --record-mib M, --in-ring K)");
            }
        }
        int warmup = 32;
        double[] ring = new double[ROUNDS];
        try (RingStream stream = RingStream.start(recordBytes, warmup + (long) ROUNDS * perRound, inRing)) {
            for (int k = 0; k < warmup; k++) stream.readAndCheck();
            for (int round = 0; round < ROUNDS; round++) {
                long t0 = System.nanoTime(), bytes = 0;
                for (int k = 0; k < perRound; k++) bytes += stream.readAndCheck();
                ring[round] = bytes / 1e9 / ((System.nanoTime() - t0) / 1e9);
            }
        }
        double memcpy = memcpy(recordBytes);
        double x = median(ring);
        System.out.printf(Locale.ROOT, "{\"impl\":\"ring\",\"gb_per_s\":%.3f,\"record_bytes\":%d,\"records\":%d,\"records_in_ring\":%d,\"ratio_to_memcpy\":%.3f}%n",
                x, recordBytes, ROUNDS * perRound, inRing, x / memcpy);
        System.out.printf(Locale.ROOT, "{\"impl\":\"memcpy\",\"gb_per_s\":%.3f,\"record_bytes\":%d}%n", memcpy, recordBytes);
    }

    static final int ROUNDS = 5;

    /** GB/s of a single-thread copy between two off-heap buffers of {@code bytes}: median of the rounds. */
    static double memcpy(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(bytes, 64).fill((byte) 1);
            MemorySegment dst = arena.allocate(bytes, 64).fill((byte) 0);
            int reps = (int) Math.max(4, (1L << 30) / bytes);
            for (int i = 0; i < reps; i++) MemorySegment.copy(src, 0, dst, 0, bytes); // warm-up
            double[] rounds = new double[ROUNDS];
            for (int round = 0; round < ROUNDS; round++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) MemorySegment.copy(src, 0, dst, 0, bytes);
                rounds[round] = reps * bytes / 1e9 / ((System.nanoTime() - t0) / 1e9);
            }
            return median(rounds);
        }
    }

    static double median(double[] xs) {
        double[] s = xs.clone();
        java.util.Arrays.sort(s);
        return s[s.length / 2];
    }
}
