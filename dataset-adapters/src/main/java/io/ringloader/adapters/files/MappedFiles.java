package io.ringloader.adapters.files;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** Files mapped read-only for the adapters that index their lines in each worker (CSV, text). */
public final class MappedFiles {
    private MappedFiles() {}

    /**
     * {@code file} mapped into {@code arena} ({@code MemorySegment.NULL} when empty); an error naming the
     * file, as a {@code kind} file ("CSV", "text"), when it is missing or unreadable.
     */
    public static MemorySegment map(Arena arena, String file, String kind) {
        try (FileChannel ch = FileChannel.open(Path.of(file))) {
            return ch.size() == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(kind + " file " + file + " does not exist", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + kind + " file " + file, e);
        }
    }
}
