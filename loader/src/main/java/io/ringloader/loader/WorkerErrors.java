package io.ringloader.loader;

import io.ringloader.worker.Worker;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/** The errors that name a worker that failed: what it was doing, how it ended, what it said. */
final class WorkerErrors {
    private WorkerErrors() {}

    /** A worker that died: before it was ready (it could not start) or while the trainer waited for {@code what}. */
    static DataLoaderException died(Worker w, String what) {
        String tail = String.join("\n  ", w.stderrTail());
        String phase = (w.isReady() ? "while the trainer waited for " + what : "before it was ready (while starting or opening the dataset)")
                + reading(w);
        List<String> stdout = w.stdoutTail();
        Crash crash = Crash.of(stdout);
        if (crash != null) {
            String message = w.describe() + " crashed in native code (" + crash.signal() + ")" + (crash.frame().isEmpty() ? "" : ", in " + crash.frame())
                    + ", after which its JVM " + w.exitDescription() + ", " + phase + ". Its crash banner:\n  "
                    + String.join("\n  ", crash.banner())
                    + (crash.reportFile() == null ? "" : "\nIts report, " + crash.reportFile() + ", is in WorkerDiedException.crashReport()"
                    + " (the file goes with the loader's temporary folder; workerJvmOptions(\"-XX:ErrorFile=DIR/hs_err_pid%p.log\") keeps"
                    + " reports in a folder of yours)")
                    + (tail.isEmpty() ? "" : "\nThe last lines of its stderr:\n  " + tail);
            return w.isReady() ? new WorkerDiedException(message, w.id(), w.pid(), crash.report())
                    : new WorkerStartException(message, w.id(), w.pid(), null);
        }
        // A JVM that cannot start (two collectors, a heap it cannot reserve) says why on stdout.
        String out = w.isReady() ? "" : String.join("\n  ", stdout);
        String message = w.describe() + " " + w.exitDescription() + " " + phase
                + (tail.isEmpty() ? "" : ". The last lines of its stderr:\n  " + tail)
                + (out.isEmpty() ? "" : (tail.isEmpty() ? "." : "\n") + " The last lines of its stdout:\n  " + out);
        return w.isReady() ? new WorkerDiedException(message, w.id(), w.pid()) : new WorkerStartException(message, w.id(), w.pid(), null);
    }

    /**
     * What a JVM that crashed printed on stdout: its "A fatal error has been detected" banner, the signal,
     * the problematic frame, and the report file it wrote (read now: it may not outlive the loader).
     */
    record Crash(List<String> banner, String signal, String frame, String reportFile, String report) {
        private static final int MAX_REPORT_BYTES = 1 << 20;

        static Crash of(List<String> stdout) {
            int from = -1;
            for (int i = 0; i < stdout.size(); i++) {
                if (stdout.get(i).contains("A fatal error has been detected by the Java Runtime Environment")) from = Math.max(0, i - 1);
            }
            if (from < 0) return null;
            List<String> banner = stdout.subList(from, stdout.size()).stream().filter(l -> l.startsWith("#")).toList();
            String signal = "a fatal error", frame = "", file = null;
            for (int i = 0; i < banner.size(); i++) {
                String line = banner.get(i).substring(1).trim();
                if (line.matches("SIG[A-Z]+ \\(0x[0-9a-f]+\\).*")) signal = line.substring(0, line.indexOf(')') + 1);
                if (line.equals("Problematic frame:") && i + 1 < banner.size()) frame = banner.get(i + 1).substring(1).trim();
                if (line.startsWith("An error report file with more information is saved as:") && i + 1 < banner.size()) {
                    file = banner.get(i + 1).substring(1).trim();
                }
            }
            return new Crash(banner, signal, frame, file, read(file));
        }

        private static String read(String file) {
            if (file == null) return null;
            try (var in = java.nio.file.Files.newInputStream(java.nio.file.Path.of(file))) {
                return new String(in.readNBytes(MAX_REPORT_BYTES), java.nio.charset.StandardCharsets.UTF_8);
            } catch (java.io.IOException | RuntimeException e) {
                return null;
            }
        }
    }

    /** A worker that did not deliver {@code what} within {@code timeout}: its thread dump is taken, then it is killed. */
    static WorkerHungException hung(Worker w, String what, Duration timeout) {
        // A worker also "hangs" when the trainer keeps its batches: its ring fills and it waits for space.
        int held = w.held();
        String holding = held == 0 ? "" : " Note that the trainer still holds " + held + (held == 1 ? " batch" : " batches")
                + " of this worker, taking " + w.batches().occupancy() + " of its " + w.batches().capacity()
                + " ring bytes: if the dump shows the worker waiting in claim(), close batches when done with them,"
                + " or raise ringBytes.";
        String inSample = reading(w); // before the kill: an interrupted thread worker leaves its sample at once
        String dump = w.threadDump();
        w.kill();
        return new WorkerHungException(w.describe() + " did not deliver " + what + inSample + " within the timeout of " + timeout.toSeconds()
                + " s (DataLoader.Builder.timeout; default " + DataLoader.DEFAULT_TIMEOUT.toMinutes() + " min), so it was killed."
                + holding + " Its thread dump follows.", w.id(), w.pid(), dump);
    }

    /** ", reading sample 25" when the worker stopped inside a sample's read, else nothing. */
    static String reading(Worker w) {
        long sample = w.readingSample();
        return sample < 0 ? "" : ", reading sample " + sample;
    }

    /** " (samples 1, 2, 3, ... 256 in all)", or nothing for a streaming batch. */
    static String describe(long[] indices) {
        if (indices == null) return "";
        String first = Arrays.stream(indices).limit(8).mapToObj(Long::toString).collect(Collectors.joining(", "));
        return " (samples " + first + (indices.length > 8 ? ", ... " + indices.length + " in all" : "") + ")";
    }
}
