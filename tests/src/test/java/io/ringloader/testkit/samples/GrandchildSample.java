package io.ringloader.testkit.samples;

import io.ringloader.testkit.Isolated;
import org.junit.jupiter.api.Test;

import java.io.IOException;

/** Run only by HarnessSelfTest: a grandchild that ignores SIGTERM, left behind by a passing and a hung test. */
@Isolated(timeout = "5s")
public class GrandchildSample {
    /** The harness self-test looks for processes with this in their command line. */
    public static final String MARK = "987654";

    static void startStubbornGrandchild() throws IOException {
        new ProcessBuilder("sh", "-c", "trap '' TERM; exec sleep " + MARK).inheritIO().start();
    }

    @Test
    void leavesItBehind() throws IOException {
        startStubbornGrandchild();
    }

    @Test
    void leavesItBehindAndHangs() throws Exception {
        startStubbornGrandchild();
        Thread.sleep(60_000);
    }
}
