package io.ringloader.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The processes of one isolated test: the child JVM and everything it started, found by an environment
 * variable that every descendant inherits. Unlike {@link ProcessHandle#descendants()}, this still finds a
 * grandchild after its parent died and it was re-parented to init.
 */
final class ProcessTree {
    /** Set in the child's environment to a fresh id per test. */
    static final String MARKER = "RINGLOADER_ISOLATED_TEST";

    private final String id;

    ProcessTree(String id) {
        this.id = id;
    }

    String id() {
        return id;
    }

    /** Every live process of the tree, by the marker in {@code /proc/<pid>/environ}. */
    List<ProcessHandle> members() {
        byte[] needle = (MARKER + "=" + id).getBytes(StandardCharsets.UTF_8);
        List<ProcessHandle> found = new ArrayList<>();
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            for (Path p : (Iterable<Path>) procs::iterator) {
                String name = p.getFileName().toString();
                if (name.isEmpty() || !Character.isDigit(name.charAt(0))) continue;
                byte[] env;
                try {
                    env = Files.readAllBytes(p.resolve("environ"));
                } catch (IOException | SecurityException e) {
                    continue; // gone, or not ours
                }
                if (containsEntry(env, needle)) ProcessHandle.of(Long.parseLong(name)).ifPresent(found::add);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list /proc", e);
        }
        return found;
    }

    private static boolean containsEntry(byte[] env, byte[] entry) {
        int start = 0;
        for (int i = 0; i <= env.length; i++) {
            if (i == env.length || env[i] == 0) {
                if (i - start == entry.length && java.util.Arrays.equals(env, start, i, entry, 0, entry.length)) return true;
                start = i + 1;
            }
        }
        return false;
    }

    /** "pid 123: java ... " for messages; a process without a command line says why it has none. */
    static String describe(ProcessHandle p) {
        ProcessHandle.Info info = p.info();
        String cmd = info.commandLine().or(info::command).orElseGet(() -> withoutCommandLine(p.pid()));
        if (cmd.length() > 300) cmd = cmd.substring(0, 300) + " ...";
        return "pid " + p.pid() + ": " + cmd;
    }

    /** Why {@code pid} shows no command line: it is gone, or a zombie (killed, not yet reaped), from /proc/pid/stat. */
    static String withoutCommandLine(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            int close = stat.lastIndexOf(')'); // the name, in parentheses, may hold spaces
            String name = stat.substring(stat.indexOf('(') + 1, close);
            char state = stat.charAt(close + 2);
            return state == 'Z' ? "(" + name + ", exited: a zombie its parent has not reaped yet)" : "(" + name + ", state " + state + ", command line unreadable)";
        } catch (IOException | RuntimeException e) {
            return "(exited)";
        }
    }

    /** A thread dump of every JVM in the tree, taken with {@code jcmd <pid> Thread.print}. */
    String threadDumps() {
        StringBuilder out = new StringBuilder();
        Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
        for (ProcessHandle p : members()) {
            boolean jvm = p.info().command().map(c -> c.endsWith("/java")).orElse(false);
            if (!jvm) continue;
            out.append("\n===== thread dump of ").append(describe(p)).append(" =====\n");
            out.append(run(List.of(jcmd.toString(), Long.toString(p.pid()), "Thread.print"), 20));
        }
        return out.toString();
    }

    private static String run(List<String> command, int timeoutSeconds) {
        try {
            Path outFile = Files.createTempFile("ringloader-jcmd", ".txt");
            try {
                Process proc = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(outFile.toFile()).start();
                if (!proc.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                    proc.destroyForcibly();
                    return "(" + String.join(" ", command) + " did not answer within " + timeoutSeconds + " s)\n";
                }
                return Files.readString(outFile);
            } finally {
                Files.deleteIfExists(outFile);
            }
        } catch (IOException e) {
            return "(cannot run " + String.join(" ", command) + ": " + e.getMessage() + ")\n";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted)\n";
        }
    }

    /** SIGKILL for every member, then waits (briefly) for them to be gone. Returns what it killed. */
    List<String> killAll() {
        List<String> killed = new ArrayList<>();
        // Repeat: a member may start another process while we kill its siblings.
        for (int round = 0; round < 5; round++) {
            List<ProcessHandle> members = members();
            if (members.isEmpty()) break;
            for (ProcessHandle p : members) {
                killed.add(describe(p));
                p.destroyForcibly();
            }
            try {
                io.ringloader.os.ChildProcess.awaitExit(members, 5000); // a killed orphan may stay a zombie: it no longer runs
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return killed;
    }
}
