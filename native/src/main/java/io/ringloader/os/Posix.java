package io.ringloader.os;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few libc calls ringloader needs, bound once through {@code java.lang.foreign} (no JNI, no C to
 * build). Linux x86_64/aarch64 only; constants are Linux's.
 *
 * <p>Every call that can fail captures {@code errno} in the same downcall (the JVM may overwrite the
 * thread's errno before Java code could read it) and fails with an {@link OsException} that names the
 * call, its argument and the C error text.
 */
public final class Posix {

    // open(2) flags (the same on x86_64 and aarch64, but O_NOFOLLOW)
    static final int O_RDWR = 0x2;
    static final int O_CREAT = 0x40;
    static final int O_EXCL = 0x80;
    static final int O_CLOEXEC = 0x80000;
    // mmap(2)
    static final int PROT_NONE = 0x0;
    static final int PROT_READ = 0x1;
    static final int PROT_WRITE = 0x2;
    static final int MAP_SHARED = 0x01;
    static final int MAP_PRIVATE = 0x02;
    static final int MAP_FIXED = 0x10;
    static final int MAP_ANONYMOUS = 0x20;
    static final int MAP_NORESERVE = 0x4000;
    static final int MAP_POPULATE = 0x8000;
    static final int SEEK_END = 2;
    static final int AT_FDCWD = -100;
    // errno values the callers branch on
    public static final int ESRCH = 3;
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int EEXIST = 17;
    public static final int ENOSPC = 28;
    public static final int ENOENT = 2;
    public static final int ETIMEDOUT = 110;
    // signals
    public static final int SIGQUIT = 3;
    public static final int SIGKILL = 9;
    public static final int SIGTERM = 15;
    // prctl(2)
    static final int PR_SET_PDEATHSIG = 1;
    // futex(2)
    static final int FUTEX_WAIT = 0;
    static final int FUTEX_WAKE = 1;

    /**
     * System call numbers. Every call goes through the C library's {@code syscall(2)}: one downcall
     * handle for all of them. A JVM spends 5 to 15 ms generating each distinct downcall stub, and a
     * worker's start-up is on the trainer's clock, so one stub instead of sixteen matters.
     */
    private enum Nr {
        CLOSE(3, 57), LSEEK(8, 62), MMAP(9, 222), MUNMAP(11, 215), KILL(62, 129), GETPPID(110, 173),
        PRCTL(157, 167), FUTEX(202, 98), OPENAT(257, 56), UNLINKAT(263, 35), FALLOCATE(285, 47),
        SCHED_SETAFFINITY(203, 122), SCHED_GETAFFINITY(204, 123);

        final long number;

        Nr(long x86, long arm) {
            this.number = AARCH64 ? arm : x86;
        }
    }

    private static final boolean AARCH64 = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> false;
        case "aarch64" -> true;
        default -> throw new UnsupportedOperationException("ringloader runs on Linux x86_64 and aarch64, not on " + System.getProperty("os.arch"));
    };
    static final int O_NOFOLLOW = AARCH64 ? 0x8000 : 0x20000;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    /** {@code long syscall(long number, ...)} with six register arguments; errno captured. */
    private static final MethodHandle SYSCALL = bind("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(1));

    /** Thread-local scratch for the captured errno, so that the hot futex path allocates nothing. */
    private static final ThreadLocal<MemorySegment> ERRNO_SCRATCH =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

    /** The size of a memory page, for mapping arithmetic. */
    public static final long PAGE_SIZE = AARCH64 ? sysconfPageSize() : 4096;

    private Posix() {}

    private static MethodHandle bind(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment symbol = LIBC.find(name).orElseThrow(
                () -> new UnsatisfiedLinkError("libc has no symbol " + name + " (ringloader needs Linux with glibc)"));
        return LINKER.downcallHandle(symbol, fd, options);
    }

    static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** Calls {@code nr}; returns the result, or -errno. */
    private static long call(Nr nr, long a, long b, long c, long d, long e, long f) {
        try {
            MemorySegment capture = ERRNO_SCRATCH.get();
            long rc = (long) SYSCALL.invokeExact(capture, nr.number, a, b, c, d, e, f);
            return rc == -1 ? -errno(capture) : rc;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    private static long checked(String call, String target, long rc) {
        if (rc < 0) throw new OsException(call, target, (int) -rc);
        return rc;
    }

    /** The C library's text for an errno value, e.g. "No space left on device". Bound on first use: errors are rare. */
    public static String strerror(int errno) {
        try {
            MemorySegment p = (MemorySegment) Strerror.HANDLE.invokeExact(errno);
            return p.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    private static final class Strerror {
        static final MethodHandle HANDLE = bind("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private static long sysconfPageSize() {
        try {
            long size = (long) bind("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT)).invokeExact(30 /* _SC_PAGESIZE */);
            return size > 0 ? size : 4096;
        } catch (Throwable t) {
            return 4096;
        }
    }

    /** shm_open(3), as glibc does it: open {@code /dev/shm/<name>} without following links, close-on-exec. */
    static int shmOpen(String name, int flags, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            String path = "/dev/shm" + name;
            long rc = call(Nr.OPENAT, AT_FDCWD, arena.allocateFrom(path).address(), flags | O_NOFOLLOW | O_CLOEXEC, mode, 0, 0);
            return (int) checked("shm_open", path, rc);
        }
    }

    /** Removes the name; returns false when it was already gone. */
    static boolean shmUnlink(String name) {
        try (Arena arena = Arena.ofConfined()) {
            String path = "/dev/shm" + name;
            long rc = call(Nr.UNLINKAT, AT_FDCWD, arena.allocateFrom(path).address(), 0, 0, 0, 0);
            if (rc == -ENOENT) return false;
            checked("shm_unlink", path, rc);
            return true;
        }
    }

    static void close(int fd) {
        checked("close", "fd " + fd, call(Nr.CLOSE, fd, 0, 0, 0, 0, 0));
    }

    /** Reserves the pages of {@code [offset, offset + length)}; returns 0 or the error number. */
    static int posixFallocate(int fd, long offset, long length) {
        long rc = call(Nr.FALLOCATE, fd, 0, offset, length, 0, 0);
        return rc < 0 ? (int) -rc : 0;
    }

    static long fileSize(int fd) {
        return checked("lseek", "fd " + fd, call(Nr.LSEEK, fd, 0, SEEK_END, 0, 0, 0));
    }

    /** mmap(2); returns the address. */
    static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
        long rc = call(Nr.MMAP, address, length, prot, flags, fd, offset);
        // Addresses with the top bit set do not occur in user space; -4095..-1 are errors.
        if (rc < 0 && rc > -4096) throw new OsException("mmap", length + " bytes at offset " + offset + " of fd " + fd, (int) -rc);
        return rc;
    }

    static void munmap(long address, long length) {
        checked("munmap", length + " bytes at 0x" + Long.toHexString(address), call(Nr.MUNMAP, address, length, 0, 0, 0, 0));
    }

    /**
     * FUTEX_WAIT on a 32-bit word of a shared mapping (no FUTEX_PRIVATE_FLAG: the waker is another
     * process). Returns 0 when woken, or the errno: EAGAIN (the word no longer held {@code expected}),
     * ETIMEDOUT, EINTR. {@code timeout} is a relative {@code struct timespec}.
     */
    static int futexWait(MemorySegment word, int expected, MemorySegment timeout) {
        long rc = call(Nr.FUTEX, word.address(), FUTEX_WAIT, expected & 0xffffffffL, timeout.address(), 0, 0);
        return rc < 0 ? (int) -rc : 0;
    }

    static int futexWake(MemorySegment word, int count) {
        return (int) checked("futex(FUTEX_WAKE)", "0x" + Long.toHexString(word.address()),
                call(Nr.FUTEX, word.address(), FUTEX_WAKE, count, 0, 0, 0));
    }

    /**
     * Asks the kernel to send {@code signal} to this process when its parent dies
     * ({@code prctl(PR_SET_PDEATHSIG)}). Beware the kernel's meaning of "parent": the <em>thread</em>
     * that started us. A parent must start such children from a thread that lives as long as they should
     * (the JDK starts a child on the thread that calls {@code ProcessBuilder.start()}).
     */
    public static void setParentDeathSignal(int signal) {
        checked("prctl(PR_SET_PDEATHSIG)", "signal " + signal, call(Nr.PRCTL, PR_SET_PDEATHSIG, signal, 0, 0, 0, 0));
    }

    /** The pid of this process's parent; 1 (or a subreaper's pid) once the real parent has died. */
    public static long getppid() {
        return call(Nr.GETPPID, 0, 0, 0, 0, 0, 0);
    }

    /** The CPUs this thread may run on (sched_getaffinity), in increasing order. */
    public static int[] allowedCpus() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(128, 8); // 1024 CPUs
            long n = checked("sched_getaffinity", "this thread", call(Nr.SCHED_GETAFFINITY, 0, mask.byteSize(), mask.address(), 0, 0, 0));
            java.util.List<Integer> cpus = new java.util.ArrayList<>();
            for (int i = 0; i < n * 8; i++) {
                if ((mask.get(java.lang.foreign.ValueLayout.JAVA_BYTE, i / 8) & (1 << (i % 8))) != 0) cpus.add(i);
            }
            return cpus.stream().mapToInt(Integer::intValue).toArray();
        }
    }

    /** Restricts thread {@code tid} (0: the calling thread) to {@code cpu}. */
    public static void pinThread(long tid, int cpu) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment mask = arena.allocate(128, 8);
            mask.set(java.lang.foreign.ValueLayout.JAVA_BYTE, cpu / 8, (byte) (1 << (cpu % 8)));
            checked("sched_setaffinity", "thread " + tid + " to CPU " + cpu, call(Nr.SCHED_SETAFFINITY, tid, mask.byteSize(), mask.address(), 0, 0, 0));
        }
    }

    /**
     * Restricts every thread of this process to {@code cpu}; threads started later inherit it. Threads
     * that end while we go through the list are skipped.
     */
    public static void pinProcess(int cpu) {
        try (java.util.stream.Stream<java.nio.file.Path> tasks = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/task"))) {
            for (java.nio.file.Path t : (Iterable<java.nio.file.Path>) tasks::iterator) {
                try {
                    pinThread(Long.parseLong(t.getFileName().toString()), cpu);
                } catch (OsException gone) {
                    // the thread ended meanwhile
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot list /proc/self/task", e);
        }
    }

    /**
     * Sends a signal. Returns false when the process no longer exists (ESRCH). Used for SIGQUIT, which
     * makes a JVM print its thread dump: {@link ProcessHandle} can only send SIGTERM and SIGKILL.
     */
    public static boolean kill(long pid, int signal) {
        long rc = call(Nr.KILL, pid, signal, 0, 0, 0, 0);
        if (rc == -ESRCH) return false;
        checked("kill", "pid " + pid + " signal " + signal, rc);
        return true;
    }
}
