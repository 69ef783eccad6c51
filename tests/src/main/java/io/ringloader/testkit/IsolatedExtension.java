package io.ringloader.testkit;

import io.ringloader.os.ChildProcess;
import io.ringloader.os.JavaProcess;
import io.ringloader.os.SharedMemory;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.InvocationInterceptor;
import org.junit.jupiter.api.extension.ReflectiveInvocationContext;
import org.junit.platform.commons.support.AnnotationSupport;
import org.opentest4j.TestAbortedException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.PrintStream;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The engine of {@link Isolated}. In the test JVM it runs nothing of the test itself: each test
 * invocation becomes a child JVM that runs the same test by its unique id ({@link IsolatedMain}), and the
 * child's outcome becomes this invocation's outcome. Lifecycle methods are skipped here because they run
 * in the child. In the child (recognised by a system property naming the test) everything proceeds.
 */
public final class IsolatedExtension implements InvocationInterceptor {

    private static boolean inChild() {
        return System.getProperty(IsolatedMain.CHILD_PROPERTY) != null;
    }

    @Override
    public void interceptTestMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
                                    ExtensionContext context) throws Throwable {
        runIsolated(invocation, context);
    }

    @Override
    public void interceptTestTemplateMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
                                            ExtensionContext context) throws Throwable {
        runIsolated(invocation, context);
    }

    @Override
    public void interceptBeforeEachMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
                                          ExtensionContext context) throws Throwable {
        proceedOnlyInChild(invocation);
    }

    @Override
    public void interceptAfterEachMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
                                         ExtensionContext context) throws Throwable {
        proceedOnlyInChild(invocation);
    }

    @Override
    public void interceptBeforeAllMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
                                         ExtensionContext context) throws Throwable {
        proceedOnlyInChild(invocation);
    }

    @Override
    public void interceptAfterAllMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call,
                                        ExtensionContext context) throws Throwable {
        proceedOnlyInChild(invocation);
    }

    private static void proceedOnlyInChild(Invocation<Void> invocation) throws Throwable {
        if (inChild()) invocation.proceed();
        else invocation.skip();
    }

    private void runIsolated(Invocation<Void> invocation, ExtensionContext context) throws Throwable {
        if (inChild()) {
            invocation.proceed();
            return;
        }
        invocation.skip();
        Isolated settings = settings(context);
        Duration timeout = parseDuration(settings.timeout());
        String uniqueId = context.getUniqueId();
        ProcessTree tree = new ProcessTree(UUID.randomUUID().toString());
        Set<String> shmBefore = shmFiles();
        Path resultFile = Files.createTempFile("ringloader-isolated-", ".result");
        Files.delete(resultFile); // the child creates it when it is done
        List<String> jvmOptions = new ArrayList<>(List.of(settings.jvmOptions()));
        jvmOptions.add("-D" + IsolatedMain.CHILD_PROPERTY + "=" + uniqueId);
        // The child ends with Runtime.halt (or a kill), so File.deleteOnExit never runs there: its temporary
        // files go to a folder of its own, removed after it.
        Path tmp = Files.createTempDirectory("ringloader-isolated-tmp-");
        jvmOptions.add("-Djava.io.tmpdir=" + tmp);
        List<String> command = JavaProcess.command(IsolatedMain.class.getName(), jvmOptions,
                List.of(uniqueId, resultFile.toString()));

        Throwable outcome;
        List<String> problems = new ArrayList<>();
        long started = System.nanoTime();
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put(ProcessTree.MARKER, tree.id());
        PrintStream out = System.out, err = System.err; // Surefire captures these into the test's report
        ChildProcess child = ChildProcess.start("isolated test", pb, out, err);
        try {
            boolean finished = child.process().waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) {
                String dumps = tree.threadDumps();
                List<String> killed = tree.killAll();
                child.stop(0);
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
                outcome = new IsolatedTestHungError("test " + context.getDisplayName() + " hung: it ran for " + ms
                        + " ms, past its timeout of " + settings.timeout() + ". The harness took thread dumps of "
                        + "every JVM of the test and killed its processes (" + killed.size() + "):\n  "
                        + String.join("\n  ", killed) + "\n" + dumps);
            } else {
                child.stop(1000); // joins the output pumps
                outcome = readOutcome(resultFile, child);
            }
        } finally {
            Files.deleteIfExists(resultFile);
        }

        List<String> leftProcesses = tree.killAll();
        try (Stream<Path> files = Files.walk(tmp)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
        if (!leftProcesses.isEmpty()) {
            problems.add("the test left processes running (now killed):\n  " + String.join("\n  ", leftProcesses));
        }
        List<String> leftFiles = shmFiles().stream().filter(f -> !shmBefore.contains(f)).sorted().toList();
        for (String f : leftFiles) Files.deleteIfExists(SharedMemory.SHM_DIR.resolve(f));
        if (!leftFiles.isEmpty()) {
            problems.add("the test left files in /dev/shm (now removed): " + String.join(", ", leftFiles));
        }
        if (!problems.isEmpty()) {
            AssertionError leak = new AssertionError(context.getDisplayName() + ": " + String.join("; ", problems));
            if (outcome == null) throw leak;
            outcome.addSuppressed(leak);
        }
        if (outcome != null) throw outcome;
    }

    private static Throwable readOutcome(Path resultFile, ChildProcess child) {
        int code = child.process().exitValue();
        if (!Files.exists(resultFile)) {
            return new AssertionError("the isolated test's JVM (pid " + child.pid() + ") "
                    + ChildProcess.describeExit(code) + " before the test finished (System.exit, a crash, or a"
                    + " kill). The last lines of its stderr:\n  " + String.join("\n  ", child.stderrTail()));
        }
        IsolatedResult r;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(Files.readAllBytes(resultFile)))) {
            r = (IsolatedResult) in.readObject();
        } catch (IOException | ClassNotFoundException e) {
            return new AssertionError("cannot read the isolated test's result: " + e, e);
        }
        return switch (r.status()) {
            case PASSED -> null;
            case NOT_RUN -> new AssertionError(r.message());
            case SKIPPED, FAILED -> rebuild(r);
        };
    }

    /** The child's exception as it was thrown, or, if it did not deserialize, one that reads the same. */
    private static Throwable rebuild(IsolatedResult r) {
        if (r.throwable() != null) {
            try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(r.throwable()))) {
                return (Throwable) in.readObject();
            } catch (IOException | ClassNotFoundException e) {
                // fall through to the text form
            }
        }
        String text = r.throwableClass() + (r.message() == null ? "" : ": " + r.message());
        Throwable t = r.status() == IsolatedResult.Status.SKIPPED ? new TestAbortedException(text) : new AssertionError(text);
        if (r.stack() != null) t.setStackTrace(r.stack());
        return t;
    }

    private static Isolated settings(ExtensionContext context) {
        Optional<Isolated> onMethod = context.getTestMethod().flatMap(m -> AnnotationSupport.findAnnotation(m, Isolated.class));
        if (onMethod.isPresent()) return onMethod.get();
        for (Class<?> c = context.getRequiredTestClass(); c != null; c = c.getEnclosingClass()) {
            Optional<Isolated> found = AnnotationSupport.findAnnotation(c, Isolated.class);
            if (found.isPresent()) return found.get();
        }
        throw new IllegalStateException("IsolatedExtension is registered without @Isolated on " + context.getDisplayName());
    }

    /** "30s", "500ms", "2m", "1h". */
    static Duration parseDuration(String text) {
        String t = text.strip().toLowerCase(java.util.Locale.ROOT);
        try {
            if (t.endsWith("ms")) return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2).strip()));
            long n = Long.parseLong(t.substring(0, t.length() - 1).strip());
            return switch (t.charAt(t.length() - 1)) {
                case 's' -> Duration.ofSeconds(n);
                case 'm' -> Duration.ofMinutes(n);
                case 'h' -> Duration.ofHours(n);
                default -> throw new NumberFormatException();
            };
        } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
            throw new IllegalArgumentException("@Isolated(timeout = \"" + text + "\"): write a number and a unit, e.g. \"30s\", \"500ms\", \"2m\"");
        }
    }

    private static Set<String> shmFiles() throws IOException {
        try (Stream<Path> files = Files.list(SharedMemory.SHM_DIR)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(SharedMemory.PREFIX))
                    .collect(Collectors.toSet());
        }
    }
}
