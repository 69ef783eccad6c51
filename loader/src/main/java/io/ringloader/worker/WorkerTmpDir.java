package io.ringloader.worker;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The {@code java.io.tmpdir} of a loader's process workers: a folder of its own, removed when the loader
 * closes. Libraries unpack native code there (Arrow's dataset module: 76 MB a JVM) and count on
 * {@code deleteOnExit}, which a worker killed with -9 never runs. The name carries the trainer's pid, so
 * that the folders of a trainer that was itself killed are removed by the next loader on the machine.
 */
public final class WorkerTmpDir {
    static final String PREFIX = "ringloader-workers-";

    private WorkerTmpDir() {}

    /** A new folder under java.io.tmpdir, after removing those of trainers that no longer run. */
    public static Path create() {
        removeStale();
        try {
            return Files.createTempDirectory(PREFIX + ProcessHandle.current().pid() + "-");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create a temporary folder for the workers", e);
        }
    }

    /** Removes {@code dir} and everything in it; best effort. */
    public static void delete(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException e) {
            // best effort: it is under java.io.tmpdir
        }
    }

    static void removeStale() {
        try (Stream<Path> dirs = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            for (Path d : (Iterable<Path>) dirs::iterator) {
                String n = d.getFileName().toString();
                if (!n.startsWith(PREFIX)) continue;
                try {
                    long pid = Long.parseLong(n.substring(PREFIX.length()).split("-", 2)[0]);
                    if (ProcessHandle.of(pid).isEmpty()) delete(d);
                } catch (NumberFormatException e) {
                    // not one of ours
                }
            }
        } catch (IOException | RuntimeException e) {
            // best effort
        }
    }
}
