package io.ringloader.testkit.samples;

import io.ringloader.os.SharedMemory;
import io.ringloader.testkit.Isolated;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;

/** Run only by HarnessSelfTest: every kind of outcome, as seen from the parent. */
@Isolated(timeout = "30s")
public class OutcomesSample {
    private String setUp;

    @BeforeEach
    void setUp() {
        setUp = "set up in pid " + ProcessHandle.current().pid();
    }

    @AfterEach
    void tearDown() {
        System.out.println("after each ran in the child");
    }

    @Test
    void passesInAChildJvm() {
        assertThat(setUp).as("@BeforeEach ran in the same JVM as the test").isNotNull();
        assertThat(ProcessHandle.current().pid()).as("pid of the test")
                .isNotEqualTo(Long.getLong("ringloader.parent.pid"));
        System.out.println("hello from the isolated test");
    }

    @Test
    void failsWithAssertJ() {
        assertThat(1 + 1).as("one plus one").isEqualTo(3);
    }

    @Test
    void exitsWith3() {
        System.exit(3);
    }

    @Test
    void isSkipped() {
        Assumptions.abort("not on this machine");
    }

    @Test
    void leavesSharedMemory() {
        SharedMemory.create(SharedMemory.newName("leak"), 4096);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void parameterized(int n) {
        assertThat(n).isLessThan(3);
    }

    @Nested
    public class Inner {
        @Test
        void runsIsolatedToo() {
            assertThat(System.getProperty("ringloader.isolated.uniqueId")).contains("Inner");
            assertThat(setUp).isNotNull();
        }
    }
}
