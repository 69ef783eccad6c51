package io.ringloader.testkit;

import io.ringloader.testkit.samples.DeadlockSample;
import io.ringloader.testkit.samples.GrandchildSample;
import io.ringloader.testkit.samples.OutcomesSample;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.platform.testkit.engine.EngineTestKit;
import org.junit.platform.testkit.engine.Event;
import org.junit.platform.testkit.engine.Events;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectMethod;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectNestedClass;

/**
 * The harness tested by running sample test classes (under {@code samples/}, which Surefire does not run
 * by itself) through the JUnit engine, as Surefire would, and looking at what the parent reports.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class HarnessSelfTest {

    private static Events run(org.junit.platform.engine.DiscoverySelector selector) {
        return EngineTestKit.engine("junit-jupiter").selectors(selector).execute().testEvents();
    }

    private static Throwable failureOf(Events events, String method) {
        Optional<Event> finished = events.finished().stream()
                .filter(e -> e.getTestDescriptor().getUniqueId().toString().contains(method)).findFirst();
        assertThat(finished).as("finished event of %s", method).isPresent();
        return finished.get().getRequiredPayload(org.junit.platform.engine.TestExecutionResult.class)
                .getThrowable().orElse(null);
    }

    @Test
    void aDeadlockIsReportedWithinTimeoutPlus5sWithBothStacks() {
        long t0 = System.nanoTime();
        Events events = run(selectClass(DeadlockSample.class));
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        Throwable t = failureOf(events, "deadlocks");
        assertThat(t).isInstanceOf(IsolatedTestHungError.class)
                .hasMessageContaining("hung").hasMessageContaining("timeout of 3s")
                .hasMessageContaining("\"deadlock-left\"").hasMessageContaining("\"deadlock-right\"")
                .hasMessageContaining("waiting to lock");
        assertThat(ms).as("ms until the hang was reported (timeout 3000)").isLessThan(3000 + 5000);
        System.out.println("deadlock reported after " + ms + " ms (timeout 3 s)");
    }

    @Test
    void aGrandchildThatIgnoresSigtermIsKilledAndNamed() {
        Events events = run(selectClass(GrandchildSample.class));
        Throwable passedButLeaked = failureOf(events, "leavesItBehind()");
        assertThat(passedButLeaked).isInstanceOf(AssertionError.class)
                .hasMessageContaining("left processes running").hasMessageContaining("sleep " + GrandchildSample.MARK);
        Throwable hung = failureOf(events, "leavesItBehindAndHangs");
        assertThat(hung).isInstanceOf(IsolatedTestHungError.class).hasMessageContaining("sleep " + GrandchildSample.MARK);
        assertThat(ProcessHandle.allProcesses()
                .filter(p -> p.info().commandLine().orElse("").contains("sleep " + GrandchildSample.MARK)).toList())
                .as("stubborn grandchildren still running").isEmpty();
    }

    @Test
    void outcomesReadAsIfTheTestRanInPlace() {
        Events events = run(selectClass(OutcomesSample.class));
        assertThat(failureOf(events, "passesInAChildJvm")).isNull();
        assertThat(failureOf(events, "failsWithAssertJ"))
                .isInstanceOf(org.opentest4j.AssertionFailedError.class)
                .hasMessageContaining("[one plus one]").hasMessageContaining("expected: 3").hasMessageContaining("but was: 2");
        assertThat(failureOf(events, "exitsWith3")).hasMessageContaining("exited with code 3");
        assertThat(events.aborted().stream().map(e -> e.getTestDescriptor().getDisplayName()).toList())
                .containsExactly("isSkipped()");
        assertThat(failureOf(events, "leavesSharedMemory")).hasMessageContaining("left files in /dev/shm")
                .hasMessageContaining("ringloader-");
        assertThat(events.failed().stream().map(e -> e.getTestDescriptor().getUniqueId().toString())
                .filter(id -> id.contains("parameterized")).toList())
                .as("only the third parameterized invocation fails").hasSize(1).allMatch(id -> id.endsWith("#3]"));
        assertThat(events.succeeded().stream().map(e -> e.getTestDescriptor().getDisplayName()).toList())
                .contains("passesInAChildJvm()", "[1] 1", "[2] 2", "runsIsolatedToo()");
    }

    @Test
    void nestedClassesRunIsolated() {
        Events events = run(selectNestedClass(List.of(OutcomesSample.class), OutcomesSample.Inner.class));
        assertThat(events.succeeded().count()).isEqualTo(1);
        assertThat(events.failed().count()).isZero();
    }

    @Test
    void aProcessWithoutACommandLineIsDescribedAsWhatItIs() throws Exception {
        // sh execs a sleep that never reaps its child: the child, once it exits, stays a zombie.
        Process parent = new ProcessBuilder("sh", "-c", "sleep 0.2 & exec sleep 30").start();
        try {
            ProcessHandle child = null;
            String seen = "";
            for (int i = 0; i < 200 && !seen.contains("zombie"); i++) {
                Thread.sleep(25);
                child = parent.toHandle().children().findFirst().orElse(null);
                if (child != null) seen = ProcessTree.describe(child);
            }
            assertThat(seen).as("a zombie, which the kill rounds meet again").startsWith("pid " + child.pid() + ": (sleep, exited: a zombie");
        } finally {
            parent.destroyForcibly().waitFor();
        }
        assertThat(ProcessTree.withoutCommandLine(parent.pid())).isEqualTo("(exited)");
    }

    @Test
    void nothingIsLeftInDevShm() throws Exception {
        run(selectMethod(OutcomesSample.class, "leavesSharedMemory"));
        try (Stream<Path> files = Files.list(Path.of("/dev/shm"))) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.contains("-leak-")).toList()).isEmpty();
        }
    }
}
