package io.ringloader.testkit;

import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Inherited;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Runs each test (with its {@code @BeforeEach}/{@code @AfterEach}, and its class's {@code @BeforeAll}/
 * {@code @AfterAll}) in a fresh child JVM, with the test class path and the JVM flags ringloader needs,
 * and reports the outcome as if the test had run in place.
 *
 * <p>When the child runs past {@link #timeout}, the harness takes a thread dump of it and of every JVM
 * it started (a loader's workers), kills the whole process tree, and fails the test with the dumps.
 * A test that leaves a process running or a {@code ringloader-*} file in {@code /dev/shm} fails, naming
 * them, and they are removed: the next test starts clean.
 *
 * <pre>{@code
 * @Isolated(timeout = "30s")
 * class MyDatasetTest {
 *     @Test void readsWithTwoProcessWorkers() { ... }
 * }
 * }</pre>
 */
@Documented
@Inherited
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@ExtendWith(IsolatedExtension.class)
public @interface Isolated {
    /** How long the test may run, e.g. {@code "30s"}, {@code "500ms"}, {@code "2m"}. */
    String timeout() default "60s";

    /** Extra options for the child JVM, e.g. {@code "-Xmx1g"}. */
    String[] jvmOptions() default {};
}
