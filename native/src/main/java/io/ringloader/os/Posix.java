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

    // open(2) flags
    static final int O_RDWR = 0x2;
    static final int O_CREAT = 0x40;
    static final int O_EXCL = 0x80;
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
    // errno values the callers branch on
    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int EEXIST = 17;
    public static final int ENOSPC = 28;
    public static final int ETIMEDOUT = 110;
    public static final int ESRCH = 3;
    // signals
    public static final int SIGKILL = 9;
    public static final int SIGQUIT = 3;
    public static final int SIGTERM = 15;
    // prctl(2)
    static final int PR_SET_PDEATHSIG = 1;
    // futex(2)
    static final long SYS_FUTEX = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> 202;
        case "aarch64" -> 98;
        default -> -1;
    };
    static final int FUTEX_WAIT = 0;
    static final int FUTEX_WAKE = 1;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static final MethodHandle SHM_OPEN = bind("shm_open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), CAPTURE_ERRNO);
    private static final MethodHandle SHM_UNLINK = bind("shm_unlink", FunctionDescriptor.of(JAVA_INT, ADDRESS), CAPTURE_ERRNO);
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), CAPTURE_ERRNO);
    private static final MethodHandle POSIX_FALLOCATE = bind("posix_fallocate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG));
    private static final MethodHandle LSEEK = bind("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT), CAPTURE_ERRNO);
    private static final MethodHandle MMAP = bind("mmap", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), CAPTURE_ERRNO);
    private static final MethodHandle MUNMAP = bind("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), CAPTURE_ERRNO);
    private static final MethodHandle SYSCALL6 = bind("syscall",
            FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT),
            CAPTURE_ERRNO, Linker.Option.firstVariadicArg(1));
    private static final MethodHandle PRCTL = bind("prctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
            CAPTURE_ERRNO, Linker.Option.firstVariadicArg(1));
    private static final MethodHandle GETPPID = bind("getppid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle KILL = bind("kill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), CAPTURE_ERRNO);
    private static final MethodHandle STRERROR = bind("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));

    /** Thread-local scratch for the captured errno, so that the hot futex path allocates nothing. */
    private static final ThreadLocal<MemorySegment> ERRNO_SCRATCH =
            ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CAPTURE));

    private Posix() {}

    private static MethodHandle bind(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment symbol = LIBC.find(name).orElseThrow(
                () -> new UnsatisfiedLinkError("libc has no symbol " + name + " (ringloader needs Linux with glibc)"));
        return LINKER.downcallHandle(symbol, fd, options);
    }

    static int errno(MemorySegment capture) {
        return (int) ERRNO.get(capture, 0L);
    }

    /** The C library's text for an errno value, e.g. "No space left on device". */
    public static String strerror(int errno) {
        try {
            MemorySegment p = (MemorySegment) STRERROR.invokeExact(errno);
            return p.reinterpret(Long.MAX_VALUE).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    static int shmOpen(String name, int flags, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            int fd = (int) SHM_OPEN.invokeExact(capture, arena.allocateFrom(name), flags, mode);
            if (fd < 0) throw new OsException("shm_open", "/dev/shm" + name, errno(capture));
            return fd;
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Removes the name; returns false when it was already gone. */
    static boolean shmUnlink(String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment capture = arena.allocate(CAPTURE);
            int rc = (int) SHM_UNLINK.invokeExact(capture, arena.allocateFrom(name));
            if (rc == 0) return true;
            int errno = errno(capture);
            if (errno == 2 /* ENOENT */) return false;
            throw new OsException("shm_unlink", "/dev/shm" + name, errno);
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static void close(int fd) {
        try {
            MemorySegment capture = ERRNO_SCRATCH.get();
            int rc = (int) CLOSE.invokeExact(capture, fd);
            if (rc != 0) throw new OsException("close", "fd " + fd, errno(capture));
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Returns 0 or the error number (posix_fallocate does not use errno). */
    static int posixFallocate(int fd, long offset, long length) {
        try {
            return (int) POSIX_FALLOCATE.invokeExact(fd, offset, length);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static long fileSize(int fd) {
        try {
            MemorySegment capture = ERRNO_SCRATCH.get();
            long size = (long) LSEEK.invokeExact(capture, fd, 0L, SEEK_END);
            if (size < 0) throw new OsException("lseek", "fd " + fd, errno(capture));
            return size;
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** mmap(2); returns the address. */
    static long mmap(long address, long length, int prot, int flags, int fd, long offset) {
        try {
            MemorySegment capture = ERRNO_SCRATCH.get();
            MemorySegment p = (MemorySegment) MMAP.invokeExact(capture, MemorySegment.ofAddress(address), length, prot, flags, fd, offset);
            if (p.address() == -1L) {
                throw new OsException("mmap", length + " bytes at offset " + offset + " of fd " + fd, errno(capture));
            }
            return p.address();
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static void munmap(long address, long length) {
        try {
            MemorySegment capture = ERRNO_SCRATCH.get();
            int rc = (int) MUNMAP.invokeExact(capture, MemorySegment.ofAddress(address), length);
            if (rc != 0) throw new OsException("munmap", length + " bytes at 0x" + Long.toHexString(address), errno(capture));
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * FUTEX_WAIT on a 32-bit word of a shared mapping (no FUTEX_PRIVATE_FLAG: the waker is another
     * process). Returns 0 when woken, or the errno: EAGAIN (the word no longer held {@code expected}),
     * ETIMEDOUT, EINTR. {@code timeout} is a relative {@code struct timespec}.
     */
    static int futexWait(MemorySegment word, int expected, MemorySegment timeout) {
        try {
            MemorySegment capture = ERRNO_SCRATCH.get();
            long rc = (long) SYSCALL6.invokeExact(capture, SYS_FUTEX, word, FUTEX_WAIT, expected, timeout, MemorySegment.NULL, 0);
            return rc == 0 ? 0 : errno(capture);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    static int futexWake(MemorySegment word, int count) {
        try {
            MemorySegment capture = ERRNO_SCRATCH.get();
            long rc = (long) SYSCALL6.invokeExact(capture, SYS_FUTEX, word, FUTEX_WAKE, count, MemorySegment.NULL, MemorySegment.NULL, 0);
            if (rc < 0) throw new OsException("futex(FUTEX_WAKE)", "0x" + Long.toHexString(word.address()), errno(capture));
            return (int) rc;
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Asks the kernel to send {@code signal} to this process when its parent dies
     * ({@code prctl(PR_SET_PDEATHSIG)}). Beware the kernel's meaning of "parent": the <em>thread</em>
     * that started us. A parent must start such children from a thread that lives as long as they should
     * (the JDK starts a child on the thread that calls {@code ProcessBuilder.start()}).
     */
    public static void setParentDeathSignal(int signal) {
        try {
            MemorySegment capture = ERRNO_SCRATCH.get();
            int rc = (int) PRCTL.invokeExact(capture, PR_SET_PDEATHSIG, (long) signal, 0L, 0L, 0L);
            if (rc != 0) throw new OsException("prctl(PR_SET_PDEATHSIG)", "signal " + signal, errno(capture));
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The pid of this process's parent; 1 (or a subreaper's pid) once the real parent has died. */
    public static long getppid() {
        try {
            return (int) GETPPID.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /**
     * Sends a signal. Returns false when the process no longer exists (ESRCH). Used for SIGQUIT, which
     * makes a JVM print its thread dump: {@link ProcessHandle} can only send SIGTERM and SIGKILL.
     */
    public static boolean kill(long pid, int signal) {
        try {
            MemorySegment capture = ERRNO_SCRATCH.get();
            int rc = (int) KILL.invokeExact(capture, Math.toIntExact(pid), signal);
            if (rc == 0) return true;
            int errno = errno(capture);
            if (errno == ESRCH) return false;
            throw new OsException("kill", "pid " + pid + " signal " + signal, errno);
        } catch (OsException e) {
            throw e;
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** The size of a memory page, for mapping arithmetic. */
    public static final long PAGE_SIZE = pageSize();

    private static long pageSize() {
        try {
            long size = (long) bind("sysconf", FunctionDescriptor.of(JAVA_LONG, JAVA_INT)).invokeExact(30 /* _SC_PAGESIZE */);
            return size > 0 ? size : 4096;
        } catch (Throwable t) {
            return 4096;
        }
    }
}
