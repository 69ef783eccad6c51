package io.ringloader.os;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line for a fresh JVM like this one: the same {@code java.home}, the same class path, the
 * flags of {@link JvmFlags}, the serial collector unless the caller's options pick another (a worker
 * needs no GC threads of its own), and the caller's extra options. Workers are started this way, never
 * by forking: a forked JVM would have lost its GC, JIT and VM threads.
 */
public final class JavaProcess {
    private JavaProcess() {}

    /** The {@code java} executable of the running JVM. */
    public static Path javaExecutable() {
        return Path.of(System.getProperty("java.home"), "bin", "java");
    }

    /**
     * {@code java <flags> -XX:+UseSerialGC <jvmOptions> -cp <this class path> <mainClass> <args>}, without
     * the serial collector when {@code jvmOptions} select one (a JVM given two collectors does not start).
     * The child's parent pid check needs our pid: {@code ringloader.parent.pid} is set to it.
     */
    public static List<String> command(String mainClass, List<String> jvmOptions, List<String> args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(javaExecutable().toString());
        cmd.addAll(JvmFlags.REQUIRED);
        if (jvmOptions.stream().noneMatch(o -> o.startsWith("-XX:+Use") && o.endsWith("GC"))) cmd.add("-XX:+UseSerialGC");
        cmd.add("-Dringloader.parent.pid=" + ProcessHandle.current().pid());
        cmd.addAll(jvmOptions);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(mainClass);
        cmd.addAll(args);
        return cmd;
    }

    /** The pid our starter passed in {@code ringloader.parent.pid}, for {@link ParentWatch#dieWithParent}. */
    public static long parentPid() {
        String pid = System.getProperty("ringloader.parent.pid");
        if (pid == null) {
            throw new IllegalStateException("-Dringloader.parent.pid is not set: start this process with JavaProcess.command");
        }
        return Long.parseLong(pid);
    }
}
