package io.ringloader.cli.bench;

import io.ringloader.os.JavaProcess;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * {@code ringloader bench --compare}: every workload of docs/benchmarks.md and {@code train}, for
 * ringloader (process, thread and inline workers; 0, 1, 2 and 4 of them), PyTorch's DataLoader (fork and
 * spawn, through cli/peers/pytorch_peer.py) and DJL's own pipeline (1 and 2 threads), in one go on this
 * machine. Each measurement runs in a fresh process, one after the other, so that none competes with
 * another for the cores. The raw JSON lines, a Markdown report and PNG charts go to bench-results/;
 * {@code --publish} also copies the report and charts to docs/bench/ and puts the summary in the README.
 */
public final class CompareBench {
    private CompareBench() {}

    static final List<String> LOADER_WORKLOADS = List.of("tiny", "wide", "cpu", "wide-long", "cpu-long");
    /** One measurement may take this long before it is killed and reported as missing. */
    private static final long CHILD_TIMEOUT_MINUTES = 10;

    public static void run(String[] args) throws Exception {
        Path root = Path.of(System.getProperty("ringloader.root", ".")).toAbsolutePath().normalize();
        Path out = root.resolve("bench-results");
        int[] workers = {0, 1, 2, 4};
        boolean publish = false, peers = true;
        Path from = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--compare" -> {}
                case "--out" -> out = Path.of(args[++i]).toAbsolutePath();
                case "--workers" -> workers = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--publish" -> publish = true;
                case "--no-pytorch" -> peers = false;
                case "--from" -> from = Path.of(args[++i]).toAbsolutePath();
                default -> throw new IllegalArgumentException("bench --compare: unknown option " + args[i]
                        + " (known: --out DIR, --workers 0,1,2,4, --publish, --no-pytorch, --from RAW.jsonl)");
            }
        }
        Files.createDirectories(out);
        if (from != null) {
            // The report again, from the lines of an earlier run (its last line says how long it took).
            List<String> lines = Files.readAllLines(from);
            double minutes = lines.stream().filter(l -> l.contains("\"compare_minutes\"")).mapToDouble(l ->
                    Double.parseDouble(l.replaceAll(".*\"compare_minutes\":([0-9.]+).*", "$1"))).findFirst().orElse(0);
            String torch = lines.stream().filter(l -> l.contains("\"torch\"")).map(l -> l.replaceAll(".*\"torch\":\"([^\"]*)\".*", "$1"))
                    .findFirst().orElse("");
            report(root, out, CompareReport.of(lines, Machine.describe(torch), minutes, List.of()), publish);
            return;
        }
        Path raw = out.resolve("raw.jsonl");
        Files.deleteIfExists(raw);
        long t0 = System.nanoTime();
        Path log = out.resolve("stderr.log");
        Files.deleteIfExists(log);
        Runs runs = new Runs(raw, log);

        for (String workload : LOADER_WORKLOADS) {
            for (int w : workers) {
                if (w == 0) runs.java(workload, "--workload", workload, "--workers", "0");
                else for (String mode : List.of("process", "thread")) runs.java(workload, "--workload", workload, "--workers", "" + w, "--mode", mode);
            }
            for (int w : workers) if (w == 1 || w == 2) runs.java(workload, "--workload", workload, "--peer", "djl", "--threads", "" + w);
        }
        for (int w : workers) {
            if (w == 0) runs.java("startup", "--workload", "startup", "--workers", "0");
            else for (String mode : List.of("process", "thread")) runs.java("startup", "--workload", "startup", "--workers", "" + w, "--mode", mode);
        }
        for (int w : workers) {
            if (w == 0) runs.java("train", "--workload", "train", "--workers", "0", "--mode", "inline", "--peer", "none");
            else for (String mode : List.of("process", "thread")) runs.java("train", "--workload", "train", "--workers", "" + w, "--mode", mode, "--peer", "none");
        }
        for (int w : workers) if (w == 1 || w == 2) runs.java("train", "--workload", "train", "--peer", "djl", "--threads", "" + w);

        String torch = "";
        if (peers) {
            Path peer = root.resolve("cli/peers/pytorch_peer.py");
            String counts = String.join(",", Arrays.stream(workers).mapToObj(Integer::toString).toList());
            String positive = String.join(",", Arrays.stream(workers).filter(w -> w > 0).mapToObj(Integer::toString).toList());
            runs.python("pytorch fork", List.of("/usr/bin/python3", peer.toString(), "--workloads", "tiny,wide,cpu,wide-long,startup", "--workers", counts, "--context", "fork"));
            if (!positive.isEmpty()) {
                runs.python("pytorch spawn", List.of("/usr/bin/python3", peer.toString(), "--workloads", "tiny,wide,cpu,wide-long,startup", "--workers", positive, "--context", "spawn"));
            }
            // cpu-long's pure-Python kernel takes tens of seconds an epoch: its scaling, from 1 to 2 fork workers, is what counts.
            runs.python("pytorch cpu-long", List.of("/usr/bin/python3", peer.toString(), "--workloads", "cpu-long", "--workers", "1,2", "--context", "fork"));
            torch = runs.capture(List.of("/usr/bin/python3", "-c", "import torch; print(torch.__version__)")).strip();
        }
        double minutes = (System.nanoTime() - t0) / 60e9;

        Files.writeString(raw, String.format(Locale.ROOT, "{\"compare_minutes\":%.2f,\"torch\":\"%s\"}%n", minutes, torch),
                StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND);
        System.err.printf(Locale.ROOT, "bench --compare: %d measurements in %.1f min; raw lines in %s%n", runs.lines().size(), minutes, raw);
        report(root, out, CompareReport.of(runs.lines(), Machine.describe(torch), minutes, runs.missing()), publish);
    }

    private static void report(Path root, Path out, CompareReport report, boolean publish) throws IOException {
        Files.writeString(out.resolve("results.md"), report.markdown("", ""));
        List<String> charts = report.charts(out);
        System.err.printf(Locale.ROOT, "bench --compare: the report is %s, with %d charts beside it%n", out.resolve("results.md"), charts.size());
        if (publish) report.publish(root, out, charts);
    }

    /**
     * {@code ringloader bench ARGS} as the command of a fresh JVM, with this JVM's start-up cache (if any)
     * and its {@code ringloader.*} and {@code ai.djl.*} properties (the data folder, the workers' cache,
     * verbose output, DJL's engine threads).
     */
    static List<String> benchCommand(List<String> args) {
        List<String> options = new ArrayList<>();
        String aot = System.getProperty("ringloader.trainer.aotCache");
        if (aot != null && Files.isRegularFile(Path.of(aot))) options.addAll(List.of("-XX:AOTCache=" + aot, "-Xlog:aot=off"));
        System.getProperties().stringPropertyNames().stream().filter(k -> (k.startsWith("ringloader.") || k.startsWith("ai.djl.")) && !k.equals("ringloader.parent.pid"))
                .sorted().forEach(k -> options.add("-D" + k + "=" + System.getProperty(k)));
        List<String> all = new ArrayList<>(List.of("bench"));
        all.addAll(args);
        return JavaProcess.command(io.ringloader.cli.Main.class.getName(), options, all);
    }

    /** The measurements, run one at a time; each JSON line is kept and echoed. */
    static final class Runs {
        private final Path raw;
        private final Path log;
        private final List<String> lines = new ArrayList<>();
        private final List<String> missing = new ArrayList<>();

        Runs(Path raw, Path log) {
            this.raw = raw;
            this.log = log;
        }

        List<String> lines() {
            return lines;
        }

        List<String> missing() {
            return missing;
        }

        /** {@code ringloader bench ARGS} in a fresh JVM. */
        void java(String label, String... args) {
            run(label + " " + String.join(" ", args), benchCommand(List.of(args)));
        }

        void python(String label, List<String> command) {
            run(label, command);
        }

        /** What a short command prints (for versions). */
        String capture(List<String> command) {
            try {
                Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
                String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                p.waitFor(1, TimeUnit.MINUTES);
                return p.exitValue() == 0 ? text : "";
            } catch (IOException | InterruptedException | IllegalThreadStateException e) {
                return "";
            }
        }

        private void run(String label, List<String> command) {
            System.err.println("bench --compare: " + label);
            try {
                Files.writeString(log, "== " + label + "\n", StandardCharsets.UTF_8,
                        java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
                Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
                int before = lines.size();
                Thread reader = Thread.ofVirtual().start(() -> {
                    try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                        for (String line; (line = in.readLine()) != null; ) {
                            if (!line.startsWith("{")) continue;
                            synchronized (lines) {
                                lines.add(line);
                            }
                            System.out.println(line);
                            Files.writeString(raw, line + "\n", StandardCharsets.UTF_8,
                                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
                if (!p.waitFor(CHILD_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                    missing.add(label + ": killed after " + CHILD_TIMEOUT_MINUTES + " minutes");
                }
                reader.join();
                if (p.exitValue() != 0) missing.add(label + ": exited with code " + p.exitValue() + " (its stderr is in " + log.getFileName() + ")");
                else if (lines.size() == before) missing.add(label + ": printed no figure");
            } catch (IOException e) {
                missing.add(label + ": could not start (" + e.getMessage() + ")");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("bench --compare was interrupted", e);
            }
        }
    }
}
