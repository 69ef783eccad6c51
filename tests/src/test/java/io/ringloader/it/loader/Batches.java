package io.ringloader.it.loader;

import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.FieldVector;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Helpers to look at what a loader delivered. */
final class Batches {
    private Batches() {}

    /** A loader of {@code ds} with {@code workers} workers of {@code mode} (none for inline). */
    static DataLoader.Builder loader(io.ringloader.data.MapDataset ds, io.ringloader.worker.WorkerMode mode, int workers) {
        return DataLoader.builder(ds).mode(mode).numWorkers(mode == io.ringloader.worker.WorkerMode.INLINE ? 0 : workers);
    }

    /** A batch's full contents as text (every column, every row): equal text means equal batches. */
    static String content(Batch b) {
        StringBuilder s = new StringBuilder();
        for (FieldVector v : b.root().getFieldVectors()) {
            s.append(v.getName()).append('=');
            for (int i = 0; i < v.getValueCount(); i++) {
                Object o = v.getObject(i);
                s.append(o instanceof byte[] bytes ? java.util.Arrays.toString(bytes) : String.valueOf(o)).append(';');
            }
            s.append('\n');
        }
        return s.toString();
    }

    /** A batch's address, its samples and its full contents: equal digests mean bit-identical batches. */
    static String digest(Batch b) {
        return "epoch " + b.epoch() + " #" + b.index() + " samples " + java.util.Arrays.toString(b.sampleIndices()) + "\n" + content(b);
    }

    /** Up to {@code n} batches of {@code it}, as digests, each closed once read. */
    static List<String> take(java.util.Iterator<Batch> it, int n) {
        List<String> out = new ArrayList<>();
        while (out.size() < n && it.hasNext()) {
            try (Batch b = it.next()) {
                out.add(digest(b));
            }
        }
        return out;
    }

    /** One epoch: the content of every batch, in delivery order. */
    static List<String> epoch(DataLoader loader) {
        List<String> out = new ArrayList<>();
        for (Batch b : loader) {
            try (b) {
                out.add(content(b));
            }
        }
        return out;
    }

    /** The int64 column {@code name} of every batch of one epoch, flattened. */
    static List<Long> ids(DataLoader loader, String name) {
        List<Long> out = new ArrayList<>();
        for (Batch b : loader) {
            try (b) {
                BigIntVector v = (BigIntVector) b.root().getVector(name);
                for (int i = 0; i < v.getValueCount(); i++) out.add(v.get(i));
            }
        }
        return out;
    }

    /** The file a memory address is mapped from, per /proc/self/maps, or null. */
    static String mappingOf(long address) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
            String[] parts = line.trim().split("\\s+", 6);
            String[] range = parts[0].split("-");
            long from = Long.parseUnsignedLong(range[0], 16), to = Long.parseUnsignedLong(range[1], 16);
            if (Long.compareUnsigned(address, from) >= 0 && Long.compareUnsigned(address, to) < 0) {
                return parts.length > 5 ? parts[5] : "";
            }
        }
        return null;
    }

    /** Lines of /proc/self/maps that map a ringloader shared-memory file. */
    static List<String> mappingsOfRingloader() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains("/dev/shm/ringloader-")).toList();
    }

    /**
     * Whether a process has exited: gone, or a zombie waiting to be reaped (a worker whose parent died is
     * re-parented, and its new parent may reap it late).
     */
    static boolean hasExited(long pid) {
        return io.ringloader.os.ChildProcess.hasExited(pid);
    }

    /** Live threads whose name starts with {@code prefix}. */
    static List<String> threads(String prefix) {
        return Thread.getAllStackTraces().keySet().stream().map(Thread::getName).filter(n -> n.startsWith(prefix)).sorted().toList();
    }

    /** Open file descriptors of this process. */
    static long openFds() throws IOException {
        try (var s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
