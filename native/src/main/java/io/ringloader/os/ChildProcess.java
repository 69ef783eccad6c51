package io.ringloader.os;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * A child process under supervision: its stdout and stderr are forwarded line by line with a prefix that
 * names it (e.g. {@code [worker 1 pid 4242]}), the last lines of its stderr are kept for error messages,
 * and waits on it race its exit, so that a child that dies is an error with its exit code, never a hang.
 * {@link #close} stops it: SIGTERM, a short grace, then SIGKILL for it and every descendant.
 */
public final class ChildProcess implements AutoCloseable {
    private static final int TAIL_LINES = 40;

    /**
     * A line a child prints on stdout to say it is ready (a spare worker JVM that has booted); it is
     * noted, not forwarded.
     */
    public static final String READY_LINE = "\u0001ringloader: ready";

    private volatile String label;
    private volatile boolean saidReady;
    private final Process process;
    private final ArrayDeque<String> stderrTail = new ArrayDeque<>();
    /** The last lines on stdout too: the JVM writes its own start-up failures there ("Error occurred during initialization of VM"). */
    private final ArrayDeque<String> stdoutTail = new ArrayDeque<>();
    private final Thread[] pumps;
    /** While a thread dump is being taken: where the child's stdout lines go instead of the console. */
    private volatile StringBuilder capture;

    private ChildProcess(String label, Process process, PrintStream out, PrintStream err) {
        this.label = label;
        this.process = process;
        this.pumps = new Thread[] {
                pump(process.getInputStream(), out, false),
                pump(process.getErrorStream(), err, true)
        };
    }

    /**
     * Starts {@code command}. Start children from a thread that lives as long as they should: the
     * parent-death signal of {@link ParentWatch} fires when the starting <em>thread</em> ends.
     */
    public static ChildProcess start(String label, List<String> command) {
        return start(label, command, System.out, System.err);
    }

    public static ChildProcess start(String label, List<String> command, PrintStream out, PrintStream err) {
        return start(label, new ProcessBuilder(command), out, err);
    }

    /** Starts what {@code builder} describes (its environment, its directory), forwarding its output. */
    public static ChildProcess start(String label, ProcessBuilder builder, PrintStream out, PrintStream err) {
        try {
            return new ChildProcess(label, builder.start(), out, err);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + label + ": " + String.join(" ", builder.command()), e);
        }
    }

    private Thread pump(InputStream in, PrintStream to, boolean keepTail) {
        Thread t = Thread.ofPlatform().daemon().name("ringloader-" + label + "-" + (keepTail ? "stderr" : "stdout")).start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    StringBuilder dump = capture;
                    if (!keepTail && dump != null) {
                        synchronized (dump) {
                            dump.append(line).append('\n');
                            dump.notifyAll();
                        }
                        continue;
                    }
                    if (!keepTail && line.equals(READY_LINE)) {
                        saidReady = true;
                        continue;
                    }
                    ArrayDeque<String> tail = keepTail ? stderrTail : stdoutTail;
                    synchronized (tail) {
                        if (tail.size() == TAIL_LINES) tail.removeFirst();
                        tail.addLast(line);
                    }
                    to.println("[" + label + " pid " + process.pid() + "] " + line);
                }
            } catch (IOException ignored) {
                // the child is gone and its pipe with it
            }
        });
        return t;
    }

    public long pid() {
        return process.pid();
    }

    public String label() {
        return label;
    }

    /** Names the child anew in its output and messages (a spare JVM that became worker 1, say). */
    public void relabel(String newLabel) {
        this.label = newLabel;
    }

    /** Whether the child printed {@link #READY_LINE}. */
    public boolean saidReady() {
        return saidReady;
    }

    /** Writes one line to the child's standard input. */
    public void tell(String line) {
        try {
            var in = process.getOutputStream();
            in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            in.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write to " + label + " (pid " + pid() + "): it has exited", e);
        }
    }

    public Process process() {
        return process;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /**
     * Waits until {@code condition} holds, checking it every millisecond or so, and fails at once with
     * {@link ChildDiedException} if the child exits first, or with {@link IllegalStateException} after
     * {@code timeoutMillis}.
     */
    public void awaitOrDie(BooleanSupplier condition, long timeoutMillis, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        long pause = 50_000;
        while (!condition.getAsBoolean()) {
            if (!process.isAlive()) throw died(what);
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException(label + " (pid " + pid() + ") did not " + what + " within "
                        + timeoutMillis + " ms" + tailForMessage());
            }
            TimeUnit.NANOSECONDS.sleep(pause);
            pause = Math.min(pause * 2, 2_000_000);
        }
    }

    /**
     * The thread dump of a child JVM: SIGQUIT makes HotSpot print one on its stdout, which is captured
     * here (and not forwarded) until the dump ends or {@code timeoutMillis} pass.
     */
    public String threadDump(long timeoutMillis) {
        StringBuilder dump = new StringBuilder();
        capture = dump;
        try {
            if (!Posix.kill(pid(), Posix.SIGQUIT)) return "(no thread dump: the process is gone)";
            long deadline = System.currentTimeMillis() + timeoutMillis;
            synchronized (dump) {
                // The dump ends with the JNI and heap summaries; give them a moment after the marker line.
                while (System.currentTimeMillis() < deadline && dump.indexOf("JNI global refs") < 0) {
                    dump.wait(Math.max(1, deadline - System.currentTimeMillis()));
                }
                long settle = Math.min(deadline, System.currentTimeMillis() + 200);
                while (System.currentTimeMillis() < settle) dump.wait(Math.max(1, settle - System.currentTimeMillis()));
                return dump.isEmpty() ? "(no thread dump within " + timeoutMillis + " ms)" : dump.toString();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted while taking a thread dump)";
        } finally {
            capture = null;
        }
    }

    /** An exception that says the child died while we waited for {@code what}, with its exit and stderr. */
    public ChildDiedException died(String what) {
        int code;
        try {
            code = process.waitFor();
            for (Thread t : pumps) t.join(500); // let the pump catch the last lines
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            code = -1;
        }
        return new ChildDiedException(label + " (pid " + pid() + ") " + describeExit(code) + " before it could "
                + what + tailForMessage(), pid(), code, stderrTail());
    }

    /** "exited with code 3" or "was killed by signal 9 (SIGKILL)". */
    public static String describeExit(int code) {
        if (code > 128 && code < 128 + 65) {
            int sig = code - 128;
            String name = switch (sig) {
                case 9 -> " (SIGKILL)";
                case 15 -> " (SIGTERM)";
                case 6 -> " (SIGABRT)";
                case 11 -> " (SIGSEGV)";
                case 7 -> " (SIGBUS)";
                case 2 -> " (SIGINT)";
                default -> "";
            };
            return "was killed by signal " + sig + name;
        }
        return "exited with code " + code;
    }

    /** The last lines the child wrote to stderr. */
    public List<String> stderrTail() {
        synchronized (stderrTail) {
            return List.copyOf(stderrTail);
        }
    }

    /** The last lines the child wrote to stdout (up to the same count as {@link #stderrTail()}). */
    public List<String> stdoutTail() {
        synchronized (stdoutTail) {
            return List.copyOf(stdoutTail);
        }
    }

    private String tailForMessage() {
        List<String> tail = stderrTail();
        return tail.isEmpty() ? " (it wrote nothing to stderr)"
                : ". The last lines of its stderr:\n  " + String.join("\n  ", tail);
    }

    /**
     * Stops the child: SIGTERM and up to {@code graceMillis} to exit, then SIGKILL for it and for every
     * descendant it started (whose own parent-death signal may not be armed).
     */
    public void stop(long graceMillis) {
        List<ProcessHandle> descendants = process.descendants().toList();
        if (process.isAlive()) {
            process.destroy();
            try {
                process.waitFor(graceMillis, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        // Collect again: a child may have started more while it shut down.
        List<ProcessHandle> all = new java.util.ArrayList<>(descendants);
        process.descendants().forEach(all::add);
        process.destroyForcibly();
        all.forEach(ProcessHandle::destroyForcibly);
        try {
            process.waitFor(5, TimeUnit.SECONDS);
            awaitExit(all, 5000);
            for (Thread t : pumps) t.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Waits up to {@code timeoutMillis} until every process has exited. A killed process whose parent
     * died is re-parented, and may stay a zombie until its new parent reaps it; it no longer runs, so
     * it counts as exited here ({@link ProcessHandle#onExit} would wait for the reaping).
     */
    public static void awaitExit(List<ProcessHandle> processes, long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        for (ProcessHandle p : processes) {
            while (!hasExited(p.pid()) && System.nanoTime() < deadline) Thread.sleep(2);
        }
    }

    /** Whether process {@code pid} no longer runs: gone, or a zombie. */
    public static boolean hasExited(long pid) {
        try {
            String stat = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/" + pid + "/stat"));
            char state = stat.charAt(stat.lastIndexOf(')') + 2);
            return state == 'Z' || state == 'X';
        } catch (IOException | RuntimeException e) {
            return true;
        }
    }

    @Override
    public void close() {
        stop(1000);
    }
}
