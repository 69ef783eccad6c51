package io.ringloader.cli.bench;

import io.ringloader.data.MapDataset;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.complex.FixedSizeListVector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code ringloader bench --workload tiny|wide|cpu|cpu-long|wide-long|seq|startup|train|resume [--workers N|auto] [--mode process|thread|inline]}
 * {@code [--consumer-ms X] [--remote-hosts N [--remote-tls]]}:
 * the workloads of docs/benchmarks.md, one JSON line per figure.
 */
public final class LoaderBench {
    private LoaderBench() {}

    public static void run(String[] args) throws Exception {
        String workload = null;
        int workers = 2;
        boolean autoWorkers = false;
        WorkerMode mode = WorkerMode.PROCESS;
        int prefetch = 0;
        boolean pin = false;
        String peer = "";
        int threads = 2;
        int djlPrefetch = -1;
        int remoteHosts = 0;
        boolean remoteTls = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--workload" -> workload = args[++i];
                case "--workers" -> {
                    autoWorkers = args[++i].equals("auto");
                    if (!autoWorkers) workers = Integer.parseInt(args[i]);
                }
                case "--consumer-ms" -> CONSUMER_NANOS = (long) (Double.parseDouble(args[++i]) * 1e6);
                case "--mode" -> mode = WorkerMode.valueOf(args[++i].toUpperCase(Locale.ROOT));
                case "--prefetch" -> prefetch = Integer.parseInt(args[++i]);
                case "--pin" -> pin = true;
                case "--worker-jvm" -> WORKER_JVM = args[++i].trim().split("\\s+");
                case "--peer" -> peer = args[++i];
                case "--timed-epoch" -> TIMED_EPOCH = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--djl-prefetch" -> djlPrefetch = Integer.parseInt(args[++i]);
                case "--remote-hosts" -> remoteHosts = Integer.parseInt(args[++i]);
                case "--remote-tls" -> remoteTls = true;
                default -> throw new IllegalArgumentException("bench: unknown option " + args[i]
                        + " (known: --workload tiny|wide|cpu|cpu-long|wide-long|seq|startup|train|resume, --workers N|auto, --consumer-ms X, --mode process|thread|inline, --prefetch K, --pin, --worker-jvm OPTIONS, --peer djl|none, --threads N, --timed-epoch K, --djl-prefetch K, --remote-hosts N, --remote-tls)");
            }
        }
        if (workload == null) throw new IllegalArgumentException("bench: say which workload: --workload tiny|wide|cpu|cpu-long|wide-long|seq|startup|train|resume");
        if (workers == 0) mode = WorkerMode.INLINE;
        PREFETCH = prefetch;
        PIN = pin;
        String impl = "ringloader-" + mode.name().toLowerCase(Locale.ROOT) + (pin ? "-pinned" : "");
        if (!peer.isEmpty() && !peer.equals("djl") && !peer.equals("none")) {
            throw new IllegalArgumentException("bench: unknown peer " + peer + " (djl: DJL's own pipeline; none: ringloader only, for train)");
        }
        if (peer.equals("djl") && !workload.equals("train")) {
            if (!THROUGHPUT.contains(workload)) throw new IllegalArgumentException("bench: DJL's pipeline runs " + THROUGHPUT + " and train, not " + workload);
            System.out.println(DjlPipelineBench.run(workload, dataset(workload), batch(workload), threads));
            return;
        }
        if (remoteTls && remoteHosts == 0) throw new IllegalArgumentException("bench: --remote-tls goes with --remote-hosts N");
        if (remoteHosts > 0) {
            if (!THROUGHPUT.contains(workload)) throw new IllegalArgumentException("bench: --remote-hosts runs " + THROUGHPUT + ", not " + workload);
            RemoteBench.run(impl, workload, dataset(workload), batch(workload), remoteHosts, remoteTls);
            return;
        }
        if (autoWorkers) {
            if (!THROUGHPUT.contains(workload)) throw new IllegalArgumentException("bench: --workers auto runs " + THROUGHPUT + ", not " + workload);
            AutotuneBench.run(impl, workload, dataset(workload), batch(workload), mode);
            return;
        }
        switch (workload) {
            case "tiny", "cpu", "cpu-long" -> System.out.println(throughput(impl, workload, dataset(workload), batch(workload), mode, workers));
            case "wide", "wide-long" -> {
                System.out.println(memcpyLine(workload));
                System.out.println(throughput(impl, workload, dataset(workload), batch(workload), mode, workers));
            }
            case "startup" -> {
                System.out.println(startup(impl, mode, workers));
                if (mode == WorkerMode.PROCESS) System.out.println(warmStartup(impl + "-warm", workers));
            }
            case "resume" -> ResumeBench.run(workers);
            case "seq" -> SequenceBench.run(impl, mode, workers);
            case "train" -> {
                if (peer.isEmpty()) TrainBench.inFreshJvms(args);
                else TrainBench.run(workers, mode, !peer.equals("djl"), !peer.equals("none"), threads, TIMED_EPOCH, djlPrefetch);
            }
            default -> throw new IllegalArgumentException("bench: unknown workload " + workload + " (tiny, wide, cpu, cpu-long, wide-long, seq, startup, train, resume)");
        }
    }

    /** The workloads measured by throughput, as WORKLOADS.md names them. */
    static final List<String> THROUGHPUT = List.of("tiny", "wide", "cpu", "cpu-long", "wide-long");

    static MapDataset dataset(String workload) {
        return switch (workload) {
            case "tiny" -> new Workloads.Tiny();
            case "wide" -> new Workloads.Wide();
            case "wide-long" -> new Workloads.Wide(Workloads.Wide.LONG);
            case "cpu" -> new Workloads.Cpu();
            case "cpu-long" -> new Workloads.Cpu(Workloads.Cpu.LONG);
            default -> throw new IllegalArgumentException("bench: " + workload + " is not a throughput workload " + THROUGHPUT);
        };
    }

    static int batch(String workload) {
        return switch (workload) {
            case "tiny" -> 256;
            case "wide", "wide-long" -> 32;
            default -> 64;
        };
    }

    /** Whether the workload's batches are {@code wide}'s images (GB/s, one float read per page). */
    static boolean wide(String workload) {
        return workload.startsWith("wide");
    }

    /** The largest private memory (RssAnon, MiB) of the workers {@code stats} names, or -1 (not process workers). */
    static long workerRssMib(io.ringloader.loader.LoaderStats stats) {
        return stats.largestWorkerPrivateMemoryBytes() >> 20;
    }

    /** --consumer-ms: what the consumer spends on each batch besides reading it (a trainer's step), spinning. */
    private static long CONSUMER_NANOS;

    static double consumerMillis() {
        return CONSUMER_NANOS / 1e6;
    }

    /** --prefetch, or 0 for the loader's default. */
    private static int PREFETCH;
    /** --pin: pinWorkers(true). */
    private static boolean PIN;
    /** --timed-epoch: which epoch is timed (WORKLOADS.md says 2; later ones show the steady state). */
    private static int TIMED_EPOCH = 2;
    /** --worker-jvm: extra JVM options for process workers. */
    private static String[] WORKER_JVM = new String[0];

    static DataLoader.Builder builder(MapDataset ds, int batch, WorkerMode mode, int workers) {
        DataLoader.Builder b = DataLoader.builder(ds).batchSize(batch).mode(mode).numWorkers(mode == WorkerMode.INLINE ? 0 : workers);
        b.pinWorkers(PIN);
        if (WORKER_JVM.length > 0 && !WORKER_JVM[0].isEmpty()) b.workerJvmOptions(WORKER_JVM);
        return PREFETCH > 0 ? b.prefetchFactor(PREFETCH) : b;
    }

    /** Epoch 1 warms up (workers stay up), epoch 2 is timed from the first next() to the last batch (--timed-epoch: a later one). */
    static String throughput(String impl, String workload, MapDataset ds, int batch, WorkerMode mode, int workers) {
        return throughput(impl, workload, ds, batch, mode, workers, b -> b, (l, s) -> "").line();
    }

    /** A throughput run's JSON line, its timed epoch's rate and checksum. */
    record Throughput(String line, double rate, long checksum) {}

    /**
     * {@link #throughput(String, String, MapDataset, int, WorkerMode, int)} with {@code more} applied to the
     * builder, and {@code extra} JSON fields (",\"k\":v") taken from the loader after its timed epoch.
     */
    static Throughput throughput(String impl, String workload, MapDataset ds, int batch, WorkerMode mode, int workers,
                                 java.util.function.UnaryOperator<DataLoader.Builder> more,
                                 java.util.function.BiFunction<DataLoader, Measured, String> extraFields) {
        try (DataLoader loader = more.apply(builder(ds, batch, mode, workers)).shuffle(true).seed(42).persistentWorkers(true).build()) {
            // Epoch 1 is timed as well: its rate beside the timed epoch's is the warm-up a short job sees.
            Measured first = epoch("epoch 1", workload, loader);
            for (int e = 2; e < TIMED_EPOCH; e++) consume(workload, loader);
            Measured timed = epoch("the timed epoch (" + TIMED_EPOCH + ")", workload, loader);
            long rss = workerRssMib(loader.stats());
            double bytesPerSample = Workloads.Wide.ELEMENTS * 4.0;
            String extra = wide(workload) ? String.format(Locale.ROOT, ",\"gb_per_s\":%.3f,\"epoch1_gb_per_s\":%.3f",
                    timed.rate() * bytesPerSample / 1e9, first.rate() * bytesPerSample / 1e9) : "";
            extra += String.format(Locale.ROOT, ",\"epoch1_samples_per_s\":%.1f", first.rate());
            if (rss >= 0) extra += ",\"worker_rss_mib\":" + rss;
            if (TIMED_EPOCH != 2) extra += ",\"timed_epoch\":" + TIMED_EPOCH;
            extra += extraFields.apply(loader, timed);
            return new Throughput(String.format(Locale.ROOT,
                    "{\"impl\":\"%s\",\"workload\":\"%s\",\"workers\":%d,\"samples_per_s\":%.1f%s,\"check\":%d,\"stall_pct\":%.1f}",
                    impl, workload, mode == WorkerMode.INLINE ? 0 : workers, timed.rate(), extra, timed.checksum(), loader.stats().stallPercent()),
                    timed.rate(), timed.checksum());
        }
    }

    /** One epoch's samples per second and checksum. */
    record Measured(double rate, long checksum) {}

    /**
     * One epoch, timed from the first next() to the last batch; with {@code -Dringloader.bench.verbose=true}
     * it also prints where the CPU went meanwhile, per process and thread (the JIT's compiler threads too).
     */
    static Measured epoch(String label, String workload, DataLoader loader) {
        boolean verbose = Boolean.getBoolean("ringloader.bench.verbose");
        var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        long cpu0 = os.getProcessCpuTime();
        var before = loader.stats();
        List<Map<String, Long>> threads0 = new ArrayList<>();
        if (verbose) {
            threads0.add(threadTicks("self"));
            for (var w : before.workers()) threads0.add(w.pid() > 0 ? threadTicks(Long.toString(w.pid())) : Map.of());
            System.err.println("--- " + label + " starts");
        }
        long t0 = System.nanoTime();
        long[] n = consume(workload, loader);
        double s = (System.nanoTime() - t0) / 1e9;
        if (verbose) {
            var after = loader.stats();
            System.err.printf(Locale.ROOT, "trainer process (all its threads, the JIT's too): cpu %.1f ms of %.1f ms%n", (os.getProcessCpuTime() - cpu0) / 1e6, s * 1e3);
            printThreads("trainer", threads0.get(0), threadTicks("self"));
            for (int w = 0; w < after.workers().size(); w++) {
                var a = after.workers().get(w);
                var bw = before.workers().get(w);
                System.err.printf(Locale.ROOT, "worker %d: %d batches, busy %.1f ms of %.1f ms%n", w, a.batches() - bw.batches(),
                        (a.busy().toNanos() - bw.busy().toNanos()) / 1e6, s * 1e3);
                if (a.pid() > 0) printThreads("worker " + a.id(), threads0.get(w + 1), threadTicks(Long.toString(a.pid())));
            }
        }
        return new Measured(n[0] / s, n[1]);
    }

    /** CPU time in clock ticks (1/100 s on Linux) per thread name of process {@code pid} ("self": this one), from /proc. */
    static Map<String, Long> threadTicks(String pid) {
        Map<String, Long> out = new TreeMap<>();
        try (var tasks = Files.list(Path.of("/proc", pid, "task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                String stat;
                try {
                    stat = Files.readString(t.resolve("stat"));
                } catch (java.nio.file.NoSuchFileException ended) {
                    continue; // the thread ended meanwhile
                }
                String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                out.merge(name, Long.parseLong(f[11]) + Long.parseLong(f[12]), Long::sum); // utime + stime
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return out;
    }

    private static void printThreads(String who, Map<String, Long> before, Map<String, Long> after) {
        after.forEach((name, ticks) -> {
            long d = ticks - before.getOrDefault(name, 0L);
            if (d > 0) System.err.printf(Locale.ROOT, "  %s thread %s: %d ms%n", who, name, d * 10);
        });
    }

    /** One epoch, doing with each batch what the workload says; returns {samples, checksum}. */
    static long[] consume(String workload, DataLoader loader) {
        long samples = 0, sum = 0;
        for (Batch b : loader) {
            try (b) {
                BigIntVector label = (BigIntVector) b.root().getVector("label");
                int rows = b.size();
                for (int r = 0; r < rows; r++) sum += label.get(r);
                if (wide(workload)) {
                    Float4Vector image = (Float4Vector) ((FixedSizeListVector) b.root().getVector("image")).getDataVector();
                    long address = image.getDataBuffer().memoryAddress();
                    MemorySegment data = MemorySegment.ofAddress(address).reinterpret((long) rows * Workloads.Wide.ELEMENTS * 4);
                    float pages = 0;
                    for (long off = 0; off < data.byteSize(); off += 4096) pages += data.get(java.lang.foreign.ValueLayout.JAVA_FLOAT, off);
                    sum += (long) pages;
                }
                samples += rows;
            }
            if (CONSUMER_NANOS > 0) {
                long until = System.nanoTime() + CONSUMER_NANOS;
                while (System.nanoTime() < until) Thread.onSpinWait();
            }
        }
        return new long[] {samples, sum};
    }

    /** Median of 5 fresh loaders: from building a loader to holding its first batch (tiny's dataset, no shuffle). */
    static String startup(String impl, WorkerMode mode, int workers) {
        double[] ms = new double[5];
        for (int i = 0; i < ms.length; i++) {
            long t0 = System.nanoTime();
            try (DataLoader loader = builder(new Workloads.Tiny(), 256, mode, workers).build()) {
                Batch first = loader.iterator().next();
                ms[i] = (System.nanoTime() - t0) / 1e6;
                first.close();
            }
        }
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        return String.format(Locale.ROOT, "{\"impl\":\"%s\",\"workload\":\"startup\",\"workers\":%d,\"ms\":%.1f,\"first_ms\":%.1f,\"all_ms\":%s}",
                impl, mode == WorkerMode.INLINE ? 0 : workers, sorted[2], ms[0], Arrays.toString(Arrays.stream(ms).map(x -> Math.round(x * 10) / 10.0).toArray()));
    }

    /**
     * The warm figure: loaders built with {@code warmWorkers(true)}, each once the spare JVMs the previous
     * one left have booted (as the next cell of a notebook would find them); median of 5, after one that
     * starts the pool.
     */
    static String warmStartup(String impl, int workers) throws InterruptedException {
        double[] ms = new double[5];
        try {
            for (int i = -1; i < ms.length; i++) {
                if (i >= 0 && !io.ringloader.worker.WorkerPool.awaitBooted(
                        WORKER_JVM.length > 0 && !WORKER_JVM[0].isEmpty() ? List.of(WORKER_JVM) : List.of(), workers, java.time.Duration.ofSeconds(60))) {
                    throw new IllegalStateException("bench: the spare worker JVMs did not boot within 60 s");
                }
                long t0 = System.nanoTime();
                try (DataLoader loader = builder(new Workloads.Tiny(), 256, WorkerMode.PROCESS, workers).warmWorkers(true).build()) {
                    Batch first = loader.iterator().next();
                    if (i >= 0) ms[i] = (System.nanoTime() - t0) / 1e6;
                    first.close();
                }
            }
        } finally {
            io.ringloader.worker.WorkerPool.shutdown();
        }
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        return String.format(Locale.ROOT, "{\"impl\":\"%s\",\"workload\":\"startup\",\"workers\":%d,\"ms\":%.1f,\"all_ms\":%s}",
                impl, workers, sorted[2], Arrays.toString(Arrays.stream(ms).map(x -> Math.round(x * 10) / 10.0).toArray()));
    }

    /** A single-thread copy of one wide batch (19.3 MB), the physical limit of the wide workload. */
    static String memcpyLine(String workload) {
        long bytes = 32L * Workloads.Wide.ELEMENTS * 4;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(bytes, 64).fill((byte) 1);
            MemorySegment dst = arena.allocate(bytes, 64).fill((byte) 0);
            for (int i = 0; i < 10; i++) MemorySegment.copy(src, 0, dst, 0, bytes);
            int reps = 50;
            long t0 = System.nanoTime();
            for (int i = 0; i < reps; i++) MemorySegment.copy(src, 0, dst, 0, bytes);
            double gbs = reps * bytes / 1e9 / ((System.nanoTime() - t0) / 1e9);
            return String.format(Locale.ROOT, "{\"impl\":\"memcpy\",\"workload\":\"%s\",\"workers\":0,\"gb_per_s\":%.3f}", workload, gbs);
        }
    }
}
