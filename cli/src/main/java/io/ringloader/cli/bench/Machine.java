package io.ringloader.cli.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.Locale;

/** The machine a benchmark ran on, for the report: figures mean little without it. */
record Machine(String cpu, int cpus, long memoryGiB, String kernel, String jdk, String djl, String torch, LocalDate date) {

    static Machine describe(String torch) {
        String cpu = "unknown CPU";
        long memKiB = 0;
        String kernel = "";
        try {
            cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse(cpu);
            memKiB = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemTotal:"))
                    .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(0);
            kernel = Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
        } catch (IOException e) {
            // not Linux, or /proc hidden: the report says less
        }
        return new Machine(cpu, Runtime.getRuntime().availableProcessors(), Math.round(memKiB / 1048576.0), kernel,
                Runtime.version().toString(), ai.djl.engine.Engine.getDjlVersion(), torch, LocalDate.now());
    }

    /** One line for the report. */
    String line() {
        return String.format(Locale.ROOT, "%s, %d CPUs, %d GiB; Linux %s; JDK %s; DJL %s (PyTorch engine)%s; %s",
                cpu, cpus, memoryGiB, kernel, jdk, djl, torch.isEmpty() ? "" : "; PyTorch " + torch + " (Debian's python3-torch)", date);
    }
}
