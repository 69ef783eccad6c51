package io.ringloader.it.loader;

import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.SampleReadException;
import io.ringloader.loader.WorkerDiedException;
import io.ringloader.loader.WorkerHungException;
import io.ringloader.loader.WorkerStartException;
import io.ringloader.os.JavaProcess;
import io.ringloader.os.JvmFlags;
import io.ringloader.os.Posix;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

/** Every way a worker can fail becomes a clear error, fast, and never a hang. */
@Isolated(timeout = "90s")
class SupervisionTest {

    @Test
    void aWorkerKilledWithMinus9IsReportedWithin1sNamingItsBatch() {
        try (DataLoader l = DataLoader.builder(new Datasets.Slow(10_000, 10)).batchSize(10).numWorkers(2).maxWorkerRestarts(0).build()) {
            Iterator<Batch> it = l.iterator();
            Batch held = it.next();
            String heldContent = Batches.content(held);
            long victim = l.workerPids().getFirst();
            long killedAt = System.nanoTime();
            assertThat(Posix.kill(victim, Posix.SIGKILL)).isTrue();
            Throwable t = catchThrowable(() -> {
                while (it.hasNext()) it.next().close();
            });
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
            assertThat(t).isInstanceOf(WorkerDiedException.class)
                    .hasMessageContaining("worker 0 (pid " + victim + ")")
                    .hasMessageContaining("was killed by signal 9 (SIGKILL)")
                    .hasMessageContaining("of epoch 0 (samples ");
            assertThat(((WorkerDiedException) t).pid()).isEqualTo(victim);
            assertThat(ms).as("ms from kill -9 to the trainer's exception").isLessThan(1000);
            assertThat(Batches.content(held)).as("a batch held across the failure is intact").isEqualTo(heldContent);
            held.close();
            assertThat(l.workerPids()).as("the loader shut down").isEmpty();
            System.out.println("a killed worker was reported after " + ms + " ms");
        }
    }

    @Test
    void aWorkerThatExitsIsReportedWithItsExitCodeAndStderr() {
        try (DataLoader l = DataLoader.builder(new Datasets.Exiting(100, 25, 7)).batchSize(10).numWorkers(2).maxWorkerRestarts(0).build()) {
            assertThatThrownBy(() -> Batches.epoch(l)).isInstanceOf(WorkerDiedException.class)
                    .hasMessageContaining("worker 0 (pid ").hasMessageContaining("exited with code 7")
                    .hasMessageContaining("batch 2 of epoch 0 (samples 20, 21, 22")
                    .hasMessageContaining("about to exit at sample 25");
        }
    }

    @ParameterizedTest
    @EnumSource(value = WorkerMode.class, names = {"PROCESS", "THREAD"})
    void aHungWorkerIsDumpedKilledAndReportedAfterTheTimeout(WorkerMode mode) {
        long t0 = System.nanoTime();
        try (DataLoader l = DataLoader.builder(new Datasets.Hanging(100, 15)).batchSize(10).numWorkers(2).mode(mode)
                .timeout(Duration.ofSeconds(2)).maxWorkerRestarts(0).build()) {
            Throwable t = catchThrowable(() -> Batches.epoch(l));
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(t).isInstanceOf(WorkerHungException.class)
                    .hasMessageContaining("worker 1 (").hasMessageContaining("did not deliver batch 1 of epoch 0 (samples 10, 11")
                    .hasMessageContaining(", reading sample 15 within the timeout")
                    .hasMessageContaining("within the timeout of 2 s");
            String dump = ((WorkerHungException) t).threadDump();
            assertThat(dump).contains("Hanging.waitForever").contains("Datasets$Hanging.read");
            if (mode == WorkerMode.PROCESS) {
                assertThat(dump).contains("Full thread dump");
                long pid = ((WorkerHungException) t).pid();
                assertThat(ProcessHandle.of(pid)).as("the hung worker was killed").isEmpty();
            }
            assertThat(ms).as("ms until the hang was reported (timeout 2000)").isLessThan(2000 + 5000);
            System.out.println(mode + ": a hang was reported after " + ms + " ms");
        }
    }

    @ParameterizedTest
    @EnumSource(WorkerMode.class)
    void anExceptionInReadNamesTheSampleCarriesTheWorkersStackAndShutsDown(WorkerMode mode) {
        DataLoader l = DataLoader.builder(new Datasets.Failing(100, 33)).batchSize(10).mode(mode)
                .numWorkers(mode == WorkerMode.INLINE ? 0 : 2).build();
        Throwable t = catchThrowable(() -> Batches.epoch(l));
        assertThat(t).isInstanceOf(SampleReadException.class)
                .hasMessageContaining("sample 33 failed in ").hasMessageContaining("batch 3 of epoch 0 (samples 30, 31, 32, 33")
                .hasMessageContaining("sample 33 is corrupt on purpose");
        assertThat(((SampleReadException) t).sampleIndex()).isEqualTo(33);
        assertThat(t.getCause()).isInstanceOf(IllegalStateException.class).hasMessage("sample 33 is corrupt on purpose");
        assertThat(Arrays.stream(t.getCause().getStackTrace()).map(StackTraceElement::toString))
                .anyMatch(s -> s.contains("Datasets$Failing.read"));
        assertThat(l.workerPids()).isEmpty();
        assertThatThrownBy(l::iterator).isInstanceOf(IllegalStateException.class).hasMessageContaining("shut down after an error");
        l.close(); // the workers stop in the background after a failure; close() waits for them
        assertThat(ProcessHandle.current().children().toList()).as("workers after the failure and close()").isEmpty();
    }

    @ParameterizedTest
    @EnumSource(WorkerMode.class)
    void aDatasetWhoseOpenFailsIsAClearErrorAtTheFirstNext(WorkerMode mode) {
        Throwable t = catchThrowable(() -> {
            try (DataLoader l = DataLoader.builder(new Datasets.OpenFails()).mode(mode).numWorkers(mode == WorkerMode.INLINE ? 0 : 2).build()) {
                l.iterator().next();
            }
        });
        // On the caller's thread too (numWorkers 0), open's failure surfaces at the first next(), the same way.
        assertThat(t).isInstanceOf(WorkerStartException.class).hasMessageContaining("could not start")
                .hasMessageContaining("cannot reach the database (on purpose) from worker 0");
        assertThat(t.getCause()).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aWorkerJvmThatCannotStartIsAnErrorWithItsStderrNotAHang() {
        try (DataLoader l = DataLoader.builder(new Datasets.Numbers(10)).numWorkers(2).workerJvmOptions("-XX:+NoSuchOptionAtAll").build()) {
            assertThatThrownBy(() -> l.iterator().next()).isInstanceOf(WorkerStartException.class)
                    .hasMessageContaining("exited with code 1 before it was ready")
                    .hasMessageContaining("Unrecognized VM option 'NoSuchOptionAtAll'");
        }
    }

    @Test
    void aWorkerThatCrashesInNativeCodeSaysSoWithItsBannerAndReportAndLeavesNoFileInTheWorkingDirectory() throws Exception {
        Path cwd = Path.of("").toAbsolutePath();
        DataLoader l = DataLoader.builder(new Datasets.Segfaults(100, 25)).batchSize(10).numWorkers(2).build();
        Throwable t = catchThrowable(() -> Batches.epoch(l));
        assertThat(t).isInstanceOf(WorkerDiedException.class)
                .hasMessageContaining("crashed in native code (SIGSEGV (0xb)), in C  [libc.so.6+")
                .hasMessageContaining("after which its JVM ") // exited with code 1 (no core dump), or was killed by SIGABRT
                .hasMessageContaining("batch 2 of epoch 0 (samples 20, 21")
                .hasMessageContaining("# A fatal error has been detected by the Java Runtime Environment")
                .hasMessageContaining("hs_err_pid" + ((WorkerDiedException) t).pid() + ".log")
                .hasMessageContaining("the second worker lost while building batch 2");
        assertThat(((WorkerDiedException) t).crashReport()).contains("SIGSEGV").contains("libc.so.6");
        l.close();
        try (var files = Files.list(cwd)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("hs_err") || n.startsWith("core")).toList())
                    .as("crash files in the trainer's working directory").isEmpty();
        }
    }

    @Test
    void aDeathIsReportedWithin1sWhileAnotherWorkerIsBusyInALongRead(@org.junit.jupiter.api.io.TempDir Path dir) {
        // Batch 0 (worker 0) exits its JVM; batch 1 (worker 1) sleeps 5 s, past the 2 s grace of a stop.
        try (DataLoader l = DataLoader.builder(new Datasets.ExitOrStall(100, 5000, dir.toString())).numWorkers(2).prefetchFactor(1)
                .maxWorkerRestarts(0).build()) {
            long[] exitedAt = new long[1];
            ProcessHandle.of(l.workerPids().getFirst()).orElseThrow().onExit().thenRun(() -> exitedAt[0] = System.nanoTime());
            Throwable t = catchThrowable(() -> l.iterator().next());
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - exitedAt[0]);
            assertThat(t).isInstanceOf(WorkerDiedException.class).hasMessageContaining("exited with code 3");
            assertThat(ms).as("ms from worker 0's exit to the trainer's exception, worker 1 still in its read").isLessThan(1000);
            System.out.println("a death was reported " + ms + " ms after it, another worker busy");
        }
        assertThat(ProcessHandle.current().children().filter(ProcessHandle::isAlive).toList()).as("workers after close()").isEmpty();
    }

    @Test
    void closeStopsStuckWorkersInParallelAndDoesItsWorkWhateverTheInterruptFlag(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        DataLoader l = DataLoader.builder(new Datasets.ExitOrStall(100, 60_000, dir.toString())).batchSize(1).numWorkers(3).build();
        l.iterator(); // batches 0, 1, 2 requested: worker 0 exits, 1 and 2 sleep a minute in read
        Thread.sleep(1500); // let workers 1 and 2 get into their reads
        List<Long> pids = l.workerPids();
        Thread.currentThread().interrupt(); // as after an interrupted next(), in a try-with-resources
        long t0 = System.nanoTime();
        l.close();
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertThat(Thread.interrupted()).as("the caller's interrupt flag, kept").isTrue();
        for (long pid : pids) assertThat(Batches.hasExited(pid)).as("worker pid %d after close()", pid).isTrue();
        assertThat(ms).as("ms to close 2 workers stuck in a read, with a 2 s grace each (in turn it would be 4 s and more)").isLessThan(3800);
        System.out.println("close() with 2 stuck workers took " + ms + " ms");
        // With workers that can finish, their datasets' close() runs, interrupt flag or not.
        try (DataLoader quick = DataLoader.builder(new Datasets.ExitOrStall(100, 1, dir.toString())).numWorkers(2)
                .sampler((size, seed, epoch) -> java.util.stream.LongStream.range(1, size).toArray()).build()) {
            Iterator<Batch> q = quick.iterator();
            q.next().close(); // from worker 0
            q.next().close(); // from worker 1: both have opened their dataset
            Thread.currentThread().interrupt();
            quick.close();
            assertThat(Thread.interrupted()).isTrue();
        }
        assertThat(dir.resolve("closed-0")).as("worker 0's dataset was closed").exists();
        assertThat(dir.resolve("closed-1")).as("worker 1's dataset was closed").exists();
        assertThat(ProcessHandle.current().children().filter(ProcessHandle::isAlive).toList()).isEmpty();
    }

    @Test
    void whenTheTrainerIsKilledWith9ItsWorkersExitWithin1sAndNothingIsLeftInDevShm() throws Exception {
        Process trainer = new ProcessBuilder(JavaProcess.command(TrainerMain.class.getName(),
                List.of("-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir")), List.of()))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        List<Long> workers = new ArrayList<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(trainer.getInputStream()))) {
            for (String line; (line = out.readLine()) != null; ) {
                if (line.startsWith("PIDS ")) {
                    for (String p : line.substring(5).split(" ")) workers.add(Long.parseLong(p));
                    break;
                }
            }
            assertThat(workers).hasSize(2);
            long killedAt = System.nanoTime();
            assertThat(Posix.kill(trainer.pid(), Posix.SIGKILL)).isTrue();
            trainer.waitFor();
            while (!workers.stream().allMatch(Batches::hasExited) && System.nanoTime() - killedAt < TimeUnit.SECONDS.toNanos(10)) {
                Thread.sleep(5);
            }
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killedAt);
            assertThat(ms).as("ms until both workers had exited").isLessThan(1000);
            try (var files = Files.list(Path.of("/dev/shm"))) {
                assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ringloader-" + trainer.pid() + "-")).toList())
                        .as("the dead trainer's shared memory").isEmpty();
            }
            System.out.println("workers of a killed trainer exited within " + ms + " ms");
            // The killed trainer could not remove its workers' temporary folder; the next loader does.
            DataLoader.builder(new Datasets.Numbers(1)).numWorkers(1).build().close();
            try (var dirs = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
                assertThat(dirs.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ringloader-workers-" + trainer.pid() + "-")).toList())
                        .as("the killed trainer's temporary folder, after the next loader").isEmpty();
            }
        } finally {
            trainer.destroyForcibly();
        }
    }

    @Test
    void aTrainerThatExitsWithoutClosingItsLoaderStopsItsWorkers() throws Exception {
        Process trainer = new ProcessBuilder(JavaProcess.command(ExitingTrainerMain.class.getName(), List.of(), List.of()))
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        String out = new String(trainer.getInputStream().readAllBytes());
        assertThat(trainer.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(trainer.exitValue()).isZero();
        List<Long> workers = Arrays.stream(out.strip().substring("PIDS ".length()).split(" ")).map(Long::parseLong).toList();
        assertThat(workers).hasSize(2);
        // The shutdown hook closed the loader before the JVM exited: its workers were stopped, not orphaned.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (!workers.stream().allMatch(Batches::hasExited) && System.nanoTime() < deadline) Thread.sleep(10);
        assertThat(workers).allMatch(Batches::hasExited);
        try (var files = Files.list(Path.of("/dev/shm"))) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ringloader-" + trainer.pid() + "-")).toList()).isEmpty();
        }
    }

    @Test
    void closeKillsWhatTheWorkersStartedEvenWhatIgnoresSigterm() throws Exception {
        String mark = "987655";
        try (DataLoader l = DataLoader.builder(new Datasets.WithStubbornHelper(mark)).batchSize(5).numWorkers(2).build()) {
            Batches.epoch(l);
        }
        List<ProcessHandle> left = ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().orElse("").contains("sleep " + mark)).toList();
        assertThat(left).as("helpers of the workers after close").isEmpty();
    }

    @Test
    void pinnedWorkersRunOnTheirOwnCpu() throws Exception {
        int[] cpus = Posix.allowedCpus();
        try (DataLoader l = DataLoader.builder(new Datasets.Numbers(100)).batchSize(10).numWorkers(2).pinWorkers(true).build()) {
            l.iterator().next().close();
            List<Long> pids = l.workerPids();
            for (int w = 0; w < 2; w++) {
                String status = Files.readString(Path.of("/proc/" + pids.get(w) + "/status"));
                String allowed = status.lines().filter(line -> line.startsWith("Cpus_allowed_list:")).findFirst().orElseThrow();
                assertThat(allowed.split(":")[1].strip()).as("CPUs of worker %d", w).isEqualTo(Integer.toString(cpus[w % cpus.length]));
            }
        }
    }

    @Test
    void aJvmWithoutTheFlagsIsToldWhichFlagIsMissing() throws Exception {
        List<String> command = new ArrayList<>(JavaProcess.command(FlaglessMain.class.getName(), List.of(), List.of()));
        command.removeAll(JvmFlags.REQUIRED);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(out).contains("REFUSED the DataLoader needs these JVM flags")
                .contains("--add-opens=java.base/java.nio=ALL-UNNAMED").contains("--enable-native-access=ALL-UNNAMED");
    }
}
