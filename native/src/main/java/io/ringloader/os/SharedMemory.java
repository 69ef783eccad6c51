package io.ringloader.os;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A named POSIX shared-memory object in {@code /dev/shm}, and the mappings made of it.
 *
 * <p>Lifecycle: one side {@link #create creates} it (free space is checked first and the pages are
 * reserved with {@code posix_fallocate}, so a full tmpfs is a clear exception and never a SIGBUS), the
 * other side {@link #open opens} it by name; once both have mapped what they need, either side
 * {@link #unlink unlinks} the name. From then on nothing is left in {@code /dev/shm} whatever happens to
 * either process, even {@code kill -9}: the kernel frees the pages with the last mapping.
 *
 * <p>Mappings are pre-faulted ({@code MAP_POPULATE}, unless asked otherwise) and live until {@link #close}, which unmaps them all
 * (through a shared {@link Arena}: a thread that touches a segment after close gets an
 * {@link IllegalStateException}, not a crash) and closes the descriptor.
 */
public final class SharedMemory implements AutoCloseable {

    /** Every object ringloader creates starts with this, so that leftovers are recognisable. */
    public static final String PREFIX = "ringloader-";
    /** Where Linux keeps POSIX shared memory. */
    public static final Path SHM_DIR = Path.of("/dev/shm");

    private static final AtomicLong COUNTER = new AtomicLong();

    private final String name;
    private final long size;
    private final Arena arena = Arena.ofShared();
    private int fd;

    private SharedMemory(String name, long size, int fd) {
        this.name = name;
        this.size = size;
        this.fd = fd;
    }

    /** A fresh, unused name: {@code ringloader-<pid>-<n>-<random>}; {@code tag} says what it is for. */
    public static String newName(String tag) {
        byte[] random = new byte[4];
        ThreadLocalRandom.current().nextBytes(random);
        return PREFIX + ProcessHandle.current().pid() + "-" + tag + "-" + COUNTER.incrementAndGet()
                + "-" + HexFormat.of().formatHex(random);
    }

    /**
     * Creates {@code /dev/shm/<name>} of {@code size} bytes (rounded up to whole pages), failing with a
     * {@link SharedMemoryFullException} that states both sizes when {@code /dev/shm} is short.
     */
    public static SharedMemory create(String name, long size) {
        checkName(name);
        long rounded = roundUpToPage(size);
        long free = freeBytes();
        if (free < rounded) throw new SharedMemoryFullException(name, rounded, free);
        int fd = Posix.shmOpen("/" + name, Posix.O_RDWR | Posix.O_CREAT | Posix.O_EXCL, 0600);
        int err = Posix.posixFallocate(fd, 0, rounded);
        if (err != 0) {
            Posix.close(fd);
            Posix.shmUnlink("/" + name);
            if (err == Posix.ENOSPC) throw new SharedMemoryFullException(name, rounded, freeBytes());
            throw new OsException("posix_fallocate", "/dev/shm/" + name + ", " + rounded + " bytes", err);
        }
        return new SharedMemory(name, rounded, fd);
    }

    /** Opens an object that another process created. */
    public static SharedMemory open(String name) {
        checkName(name);
        int fd = Posix.shmOpen("/" + name, Posix.O_RDWR, 0);
        return new SharedMemory(name, Posix.fileSize(fd), fd);
    }

    /** Bytes free in {@code /dev/shm}, as an unprivileged process may use them. */
    public static long freeBytes() {
        try {
            return Files.getFileStore(SHM_DIR).getUsableSpace();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read the free space of " + SHM_DIR
                    + ": ringloader needs a tmpfs mounted there (" + e.getMessage() + ")", e);
        }
    }

    public static long roundUpToPage(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("a shared-memory size must be positive, got " + bytes);
        return (bytes + Posix.PAGE_SIZE - 1) & -Posix.PAGE_SIZE;
    }

    private static void checkName(String name) {
        if (!name.startsWith(PREFIX) || name.indexOf('/') >= 0) {
            throw new IllegalArgumentException("a ringloader shared-memory name starts with '" + PREFIX
                    + "' and has no '/': " + name);
        }
    }

    public String name() {
        return name;
    }

    public long size() {
        return size;
    }

    /** Maps {@code [offset, offset + length)} read-write, pre-faulted. */
    public MemorySegment map(long offset, long length) {
        checkRange(offset, length);
        long address = Posix.mmap(0, length, Posix.PROT_READ | Posix.PROT_WRITE,
                Posix.MAP_SHARED | Posix.MAP_POPULATE, fd(), offset);
        return MemorySegment.ofAddress(address).reinterpret(length, arena, s -> Posix.munmap(address, length));
    }

    /**
     * Maps {@code [offset, offset + length)} twice, back to back: byte {@code length + k} of the result
     * is byte {@code k}. A ring over such a mapping hands out every record as one contiguous slice, even
     * one that wraps past the end, so records can be as large as the ring itself and need no padding.
     * {@code offset} and {@code length} must be multiples of the page size.
     */
    public MemorySegment mapTwice(long offset, long length) {
        return mapTwice(offset, length, true);
    }

    /** {@link #mapTwice(long, long)}, pre-faulted or not: unpopulated, each page faults in at its first touch. */
    public MemorySegment mapTwice(long offset, long length, boolean populate) {
        checkRange(offset, length);
        if (offset % Posix.PAGE_SIZE != 0 || length % Posix.PAGE_SIZE != 0) {
            throw new IllegalArgumentException("mapTwice needs page-aligned offset and length, got "
                    + offset + " and " + length + " (page size " + Posix.PAGE_SIZE + ")");
        }
        // Reserve 2*length of address space first, then map the file over both halves with MAP_FIXED:
        // nothing else can be mapped into the hole between the two calls.
        long base = Posix.mmap(0, 2 * length, Posix.PROT_NONE,
                Posix.MAP_PRIVATE | Posix.MAP_ANONYMOUS | Posix.MAP_NORESERVE, -1, 0);
        try {
            int rw = Posix.PROT_READ | Posix.PROT_WRITE;
            int flags = Posix.MAP_SHARED | Posix.MAP_FIXED | (populate ? Posix.MAP_POPULATE : 0);
            Posix.mmap(base, length, rw, flags, fd(), offset);
            Posix.mmap(base + length, length, rw, flags, fd(), offset);
        } catch (OsException e) {
            Posix.munmap(base, 2 * length);
            throw e;
        }
        return MemorySegment.ofAddress(base).reinterpret(2 * length, arena, s -> Posix.munmap(base, 2 * length));
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length <= 0 || offset + length > size) {
            throw new IllegalArgumentException("cannot map [" + offset + ", " + (offset + length) + ") of /dev/shm/"
                    + name + ", which has " + size + " bytes");
        }
    }

    private synchronized int fd() {
        if (fd < 0) throw new IllegalStateException("/dev/shm/" + name + " is closed");
        return fd;
    }

    /** Removes the name from {@code /dev/shm}; mappings stay valid. Returns false if it was already gone. */
    public boolean unlink() {
        return unlink(name);
    }

    /** Removes {@code /dev/shm/<name>}; false if it was already gone. */
    public static boolean unlink(String name) {
        checkName(name);
        return Posix.shmUnlink("/" + name);
    }

    /**
     * Removes the segments that processes which no longer run left behind (names carry the creator's
     * pid). A segment is unlinked as soon as both sides have mapped it, so only a creator killed before its
     * peer started can leave one; the next ringloader user of the machine cleans it up here.
     */
    public static List<String> removeStale() {
        List<String> removed = new java.util.ArrayList<>();
        try (java.util.stream.Stream<Path> files = Files.list(SHM_DIR)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                String n = p.getFileName().toString();
                if (!n.startsWith(PREFIX)) continue;
                String[] parts = n.substring(PREFIX.length()).split("-", 2);
                long pid;
                try {
                    pid = Long.parseLong(parts[0]);
                } catch (NumberFormatException e) {
                    continue;
                }
                if (ProcessHandle.of(pid).isEmpty() && unlink(n)) removed.add(n);
            }
        } catch (IOException | OsException e) {
            // best effort: a sweep never stands in the way of starting
        }
        return removed;
    }

    /** Unmaps every mapping made through this object and closes its descriptor. Does not unlink. */
    @Override
    public synchronized void close() {
        if (fd < 0) return;
        try {
            arena.close();
        } finally {
            Posix.close(fd);
            fd = -1;
        }
    }

    @Override
    public String toString() {
        return "/dev/shm/" + name + " (" + size + " bytes)";
    }
}
