package io.ringloader.worker;

import io.ringloader.os.ChildProcess;
import io.ringloader.os.JavaProcess;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** A worker in a JVM of its own, started with the parent's {@code java}, class path and flags. */
public final class ProcessWorker extends Worker {
    /**
     * Workers are started from this one thread, which lives as long as the JVM: a child's parent-death
     * signal fires when the <em>thread</em> that started it ends, so starting workers from a trainer's
     * short-lived thread would kill them with it.
     */
    private static final ExecutorService SPAWNER = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "ringloader-spawner");
        t.setDaemon(true);
        return t;
    });

    /** System property naming a JDK AOT cache for worker JVMs (the launcher sets it; see README). */
    public static final String AOT_CACHE_PROPERTY = "ringloader.worker.aotCache";

    private final ChildProcess child;
    /**
     * The processes the worker had started when it was asked to stop. Once it exits they are re-parented
     * and no longer its descendants, so they are collected first, to be killed with it.
     */
    private volatile List<ProcessHandle> family;

    private ProcessWorker(int id, Segment segment, ChildProcess child) {
        super(id, segment.shm(), segment.control(), segment.requests(), segment.batches());
        this.child = child;
        // A worker that exits, for whatever reason, closes its rings at once: a trainer waiting for its
        // next batch wakes up now, not at its next liveness check.
        child.process().onExit().thenRun(() -> {
            batches.close();
            requests.close();
        });
    }

    static ProcessWorker start(WorkerSpec spec) {
        return start(spec, launch(spec.id(), spec.jvmOptions(), spec.tmpDir()));
    }

    /**
     * A worker's JVM, started before its segment exists: it boots while the trainer works out the
     * dataset's schema and lays the segment out, then opens the segment by the name it was given.
     */
    public record Launch(int id, String segmentName, ChildProcess child) {
        /** Kills a launched JVM that will not get its segment (the loader failed to build). */
        public void abandon() {
            child.stop(0);
            io.ringloader.os.SharedMemory.unlink(segmentName); // in case it was created after all
        }
    }

    /**
     * Worker {@code id}'s JVM: a booted spare of the {@link WorkerPool} if there is one for these options,
     * else a JVM started now. {@link #start(WorkerSpec, Launch)} gives it its segment.
     */
    public static Launch launch(int id, List<String> jvmOptions, java.nio.file.Path tmpDir) {
        String name = io.ringloader.os.SharedMemory.newName("w" + id);
        String label = "worker " + id;
        ChildProcess spare = WorkerPool.take(jvmOptions);
        if (spare != null) {
            try {
                spare.relabel(label);
                spare.tell(name + "\t" + (tmpDir == null ? "-" : tmpDir.toString()) + "\t" + System.nanoTime());
                return new Launch(id, name, spare);
            } catch (java.io.UncheckedIOException gone) {
                spare.stop(0); // it died as a spare: start one now
            }
        }
        try {
            return new Launch(id, name, spawn(label, jvmOptions, tmpDir, name).get());
        } catch (InterruptedException | ExecutionException e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            throw new IllegalStateException("cannot start " + label + ": " + e.getCause(), e.getCause());
        }
    }

    /** Starts a spare JVM for the {@link WorkerPool}, from the spawner thread. */
    static CompletableFuture<ChildProcess> spawnSpare(List<String> jvmOptions) {
        return spawn("spare worker", jvmOptions, null, WorkerMain.SPARE);
    }

    /**
     * Starts {@code WorkerMain <argument>} from the spawner thread: the options every worker JVM gets, then
     * its temporary folder (if known now), then the user's options, which come last and win.
     */
    private static CompletableFuture<ChildProcess> spawn(String label, List<String> jvmOptions, java.nio.file.Path tmpDir, String argument) {
        List<String> options = new ArrayList<>();
        // Memory: a worker's own is what it allocates, not what a default JVM reserves for a big program.
        // The default initial heap is 1/64 of RAM (384 MB here), whose young generation a worker touched
        // whole before its first collection; the AOT cache, relocated by default, became private copies
        // of its pages (mapped where it asks, they stay the page cache's, shared by every worker); and
        // glibc's malloc arenas kept native memory that had been freed (trimming gave back 26 MiB). Measured in ./ringloader demo (RssAnon per worker):
        // 210 MiB before; see docs/benchmarks.md.
        options.add("-Xmx1g"); // a small default heap
        options.add("-Xms16m");
        options.add("-XX:+UnlockDiagnosticVMOptions");
        options.add("-XX:ArchiveRelocationMode=0"); // map the AOT cache at its address (relocated only if that fails)
        options.add("-XX:TrimNativeHeapInterval=2000"); // give freed native memory back to the OS every 2 s
        options.add("-XX:-UsePerfData"); // no /tmp/hsperfdata file to leave behind on kill -9
        options.add("-Dringloader.spawnNanos=" + System.nanoTime()); // for RINGLOADER_TRACE
        String aot = System.getProperty(AOT_CACHE_PROPERTY);
        if (aot != null && java.nio.file.Files.isRegularFile(java.nio.file.Path.of(aot))) {
            // A JDK AOT cache recorded with this class path: the worker loads and links its classes from it.
            options.add("-XX:AOTCache=" + aot);
            options.add("-Xlog:aot=off"); // a stale cache is ignored; the worker starts as without one
        }
        // Temporary files a worker's libraries make (native libraries unpacked from jars, say) go to a
        // folder the loader removes: a worker killed with -9 cannot clean up after itself. (A spare is
        // told its folder when a loader takes it.)
        if (tmpDir != null) options.add("-Djava.io.tmpdir=" + tmpDir);
        // A worker that crashes in native code (a decoder's SIGSEGV) writes its hs_err report there too, not
        // into the trainer's working directory, and leaves no core file; its error carries the report.
        // -XX:ErrorFile among the user's options, which come last, keeps reports in a folder of their own.
        options.add("-XX:ErrorFile=" + (tmpDir != null ? tmpDir.toString() : System.getProperty("java.io.tmpdir")) + "/hs_err_pid%p.log");
        options.add("-XX:-CreateCoredumpOnCrash");
        options.addAll(jvmOptions);
        List<String> command = JavaProcess.command(WorkerMain.class.getName(), options, List.of(argument));
        return CompletableFuture.supplyAsync(() -> ChildProcess.start(label, command), SPAWNER);
    }

    /**
     * A worker host's worker: a process worker of this machine for a trainer on another, from the
     * configuration the trainer sent (read here only as far as checking it is one, and unpinning it: the
     * trainer's CPU numbers are not this machine's). Its id is the trainer's slot.
     */
    public static ProcessWorker startHosted(byte[] config, long requestCapacity, long batchCapacity, List<String> jvmOptions,
                                            java.nio.file.Path tmpDir) {
        WorkerConfig c = WorkerConfig.decode(config);
        c = new WorkerConfig(c.dataset(), c.classes(), c.columns(), c.workerId(), c.numWorkers(), c.seed(), c.shardIndex(), c.shardCount(),
                -1, c.timeoutMillis());
        Launch launch = launch(c.workerId(), jvmOptions, tmpDir);
        Segment segment;
        try {
            segment = allocate(c, requestCapacity, batchCapacity, launch.segmentName());
        } catch (RuntimeException e) {
            launch.abandon();
            throw e;
        }
        return new ProcessWorker(c.workerId(), segment, launch.child());
    }

    /** Lays out the segment a launched JVM waits for; the worker is then this loader's. */
    public static ProcessWorker start(WorkerSpec spec, Launch launch) {
        if (launch.id() != spec.id()) throw new IllegalArgumentException("worker " + spec.id() + " given the JVM launched for worker " + launch.id());
        Segment segment;
        try {
            segment = allocate(spec, launch.segmentName());
        } catch (RuntimeException e) {
            launch.abandon();
            throw e;
        }
        return new ProcessWorker(spec.id(), segment, launch.child());
    }

    @Override
    public String describe() {
        return "worker " + id + " (pid " + child.pid() + ")";
    }

    @Override
    public long pid() {
        return child.pid();
    }

    @Override
    public boolean isAlive() {
        return child.isAlive();
    }

    @Override
    public long privateMemoryBytes() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc", Long.toString(child.pid()), "status"))) {
                if (line.startsWith("RssAnon:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024; // "RssAnon:  1234 kB"
            }
            return -1;
        } catch (java.io.IOException | RuntimeException gone) {
            return -1;
        }
    }

    @Override
    public String exitDescription() {
        try {
            int code = child.process().waitFor(); // it has exited; this only collects the code
            return ChildProcess.describeExit(code);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "exited";
        }
    }

    @Override
    public List<String> stderrTail() {
        try {
            child.process().onExit().get(); // let the pump take the last lines
        } catch (InterruptedException | ExecutionException e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
        }
        try {
            Thread.sleep(20);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return child.stderrTail();
    }

    @Override
    public List<String> stdoutTail() {
        return child.stdoutTail();
    }

    @Override
    public String threadDump() {
        return child.threadDump(3000);
    }

    @Override
    public void kill() {
        child.stop(0);
    }

    @Override
    public void signalStop() {
        if (family == null) family = child.process().descendants().toList();
        super.signalStop();
    }

    @Override
    protected void awaitStop(long graceMillis) {
        try {
            child.process().waitFor(graceMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        child.stop(0); // whatever is left, and every descendant it still has, is killed
        List<ProcessHandle> started = family == null ? List.of() : family;
        started.forEach(ProcessHandle::destroyForcibly);
        try {
            ChildProcess.awaitExit(started, 2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
