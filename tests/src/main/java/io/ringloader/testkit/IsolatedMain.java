package io.ringloader.testkit;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.launcher.Launcher;
import org.junit.platform.launcher.LauncherDiscoveryRequest;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.core.LauncherFactory;
import org.opentest4j.TestAbortedException;

import java.io.ByteArrayOutputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.platform.engine.discovery.DiscoverySelectors.selectUniqueId;
import static org.junit.platform.launcher.core.LauncherDiscoveryRequestBuilder.request;

/**
 * The child JVM of an {@link Isolated} test: {@code IsolatedMain <unique id> <result file>}. Runs exactly
 * that test through the JUnit Platform and writes an {@link IsolatedResult} to the file. It ends with
 * {@link Runtime#halt}, so that a thread the test left running cannot keep the JVM alive.
 */
public final class IsolatedMain {
    /** Set in the child, to the unique id of the test it runs: the extension then lets the test proceed. */
    static final String CHILD_PROPERTY = "ringloader.isolated.uniqueId";

    private IsolatedMain() {}

    public static void main(String[] args) throws Exception {
        String uniqueId = args[0];
        Path resultFile = Path.of(args[1]);
        IsolatedResult[] result = {new IsolatedResult(IsolatedResult.Status.NOT_RUN, null, null,
                "the test " + uniqueId + " was not found in the child JVM", null)};
        LauncherDiscoveryRequest request = request().selectors(selectUniqueId(uniqueId)).build();
        Launcher launcher = LauncherFactory.create();
        launcher.execute(request, new TestExecutionListener() {
            @Override
            public void executionFinished(TestIdentifier id, TestExecutionResult r) {
                // The test itself, or a container around it that failed (e.g. in @BeforeAll).
                if (id.getUniqueId().equals(uniqueId) || r.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
                    if (result[0].status() == IsolatedResult.Status.FAILED && !id.getUniqueId().equals(uniqueId)) return;
                    result[0] = toResult(r);
                }
            }

            @Override
            public void executionSkipped(TestIdentifier id, String reason) {
                result[0] = toResult(TestExecutionResult.aborted(new TestAbortedException(reason)));
            }
        });
        System.out.flush();
        System.err.flush();
        byte[] bytes = serialize(result[0]);
        Path tmp = resultFile.resolveSibling(resultFile.getFileName() + ".tmp");
        Files.write(tmp, bytes);
        Files.move(tmp, resultFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        Runtime.getRuntime().halt(0);
    }

    private static IsolatedResult toResult(TestExecutionResult r) {
        return switch (r.getStatus()) {
            case SUCCESSFUL -> new IsolatedResult(IsolatedResult.Status.PASSED, null, null, null, null);
            case ABORTED -> failure(IsolatedResult.Status.SKIPPED, r.getThrowable().orElse(new TestAbortedException()));
            case FAILED -> failure(IsolatedResult.Status.FAILED, r.getThrowable().orElse(new AssertionError("failed")));
        };
    }

    private static IsolatedResult failure(IsolatedResult.Status status, Throwable t) {
        byte[] bytes;
        try {
            bytes = serialize(t);
        } catch (Exception notSerializable) {
            bytes = null; // the text below carries it
        }
        return new IsolatedResult(status, bytes, t.getClass().getName(), t.getMessage(), t.getStackTrace());
    }

    static byte[] serialize(Object o) throws java.io.IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ObjectOutputStream oos = new ObjectOutputStream((OutputStream) out)) {
            oos.writeObject(o);
        }
        return out.toByteArray();
    }
}
