package io.ringloader.os;

import io.ringloader.testkit.Isolated;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

@Isolated(timeout = "30s")
class SharedMemoryTest {

    @Test
    void createOpenMapAndUnlink() {
        String name = SharedMemory.newName("test");
        assertThat(name).startsWith("ringloader-" + ProcessHandle.current().pid() + "-test-");
        try (SharedMemory a = SharedMemory.create(name, 10_000); SharedMemory b = SharedMemory.open(name)) {
            assertThat(a.size()).isEqualTo(12_288);
            assertThat(b.size()).isEqualTo(12_288);
            assertThat(Files.exists(SharedMemory.SHM_DIR.resolve(name))).isTrue();
            MemorySegment wa = a.map(0, a.size());
            MemorySegment wb = b.map(4096, 4096);
            wa.set(JAVA_LONG, 4096 + 8, 0x1234_5678_9abcL);
            assertThat(wb.get(JAVA_LONG, 8)).isEqualTo(0x1234_5678_9abcL);
            assertThat(a.unlink()).isTrue();
            assertThat(Files.exists(SharedMemory.SHM_DIR.resolve(name))).isFalse();
            assertThat(a.unlink()).as("second unlink").isFalse();
            wa.set(JAVA_INT, 0, 5); // still mapped after unlink
            assertThat(b.map(0, 4096).get(JAVA_INT, 0)).isEqualTo(5);
        }
    }

    @Test
    void mapTwiceShowsTheSameBytesInBothHalves() {
        try (SharedMemory shm = SharedMemory.create(SharedMemory.newName("test"), 3 * Posix.PAGE_SIZE)) {
            shm.unlink();
            MemorySegment twice = shm.mapTwice(Posix.PAGE_SIZE, 2 * Posix.PAGE_SIZE);
            assertThat(twice.byteSize()).isEqualTo(4 * Posix.PAGE_SIZE);
            twice.set(JAVA_LONG_UNALIGNED, 2 * Posix.PAGE_SIZE - 4, 0x0102030405060708L); // straddles the seam
            assertThat(twice.get(JAVA_INT, 0)).isEqualTo(0x01020304);
            assertThat(twice.get(JAVA_INT, 2 * Posix.PAGE_SIZE - 4)).isEqualTo(0x05060708);
            assertThat(shm.map(0, 3 * Posix.PAGE_SIZE).get(JAVA_INT, Posix.PAGE_SIZE)).isEqualTo(0x01020304);
        }
    }

    @Test
    void aSegmentLargerThanTheFreeSpaceIsAClearErrorNotABusError() {
        long free = SharedMemory.freeBytes();
        String name = SharedMemory.newName("test");
        assertThatThrownBy(() -> SharedMemory.create(name, free + 1024L * 1024 * 1024))
                .isInstanceOf(SharedMemoryFullException.class)
                .hasMessageContaining("needs " + SharedMemory.roundUpToPage(free + 1024L * 1024 * 1024) + " bytes")
                .hasMessageContaining("bytes are free in /dev/shm")
                .hasMessageContaining("--shm-size");
        assertThat(Files.exists(SharedMemory.SHM_DIR.resolve(name))).isFalse();
    }

    @Test
    void openingAMissingSegmentNamesItAndTheCause() {
        assertThatThrownBy(() -> SharedMemory.open("ringloader-missing-xyz"))
                .isInstanceOf(OsException.class)
                .hasMessageContaining("/dev/shm/ringloader-missing-xyz")
                .hasMessageContaining("No such file or directory");
        assertThatThrownBy(() -> SharedMemory.create("other-name", 10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("starts with 'ringloader-'");
    }

    @Test
    void touchingAMappingAfterCloseIsAnExceptionNotACrash() {
        SharedMemory shm = SharedMemory.create(SharedMemory.newName("test"), 4096);
        shm.unlink();
        MemorySegment m = shm.map(0, 4096);
        shm.close();
        assertThatThrownBy(() -> m.get(JAVA_INT, 0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void futexWaitTimesOutAndIsWokenByAnotherThread() throws Exception {
        try (SharedMemory shm = SharedMemory.create(SharedMemory.newName("test"), 4096)) {
            shm.unlink();
            MemorySegment m = shm.map(0, 4096);
            assertThat(Futex.await(m, 64, 1, 1_000_000)).isEqualTo(Futex.Result.VALUE_CHANGED);
            long t0 = System.nanoTime();
            assertThat(Futex.await(m, 64, 0, 30_000_000)).isEqualTo(Futex.Result.TIMED_OUT);
            assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(30_000_000);
            CompletableFuture<Futex.Result> waiter =
                    io.ringloader.ring.Async.supply(() -> Futex.await(m, 64, 0, TimeUnit.SECONDS.toNanos(30)));
            int woken = 0;
            for (int i = 0; i < 500 && woken == 0; i++) { // until the waiter sleeps in the kernel
                Thread.sleep(10);
                woken = Futex.wake(m, 64, 1);
            }
            assertThat(woken).isEqualTo(1);
            assertThat(waiter.get(5, TimeUnit.SECONDS)).isEqualTo(Futex.Result.WOKEN);
        }
    }

    @Test
    void processControlCalls() {
        assertThat(Posix.getppid()).isEqualTo(ProcessHandle.current().parent().orElseThrow().pid());
        assertThat(Posix.kill(ProcessHandle.current().pid(), 0)).isTrue();
        assertThat(Posix.kill(Integer.MAX_VALUE - 1, 0)).isFalse();
        assertThatThrownBy(() -> ParentWatch.dieWithParent(1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("exited before this child");
        Posix.setParentDeathSignal(0); // disarm what dieWithParent armed in this test JVM
    }
}
