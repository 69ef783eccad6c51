package io.ringloader.testkit.samples;

import io.ringloader.testkit.Isolated;
import org.junit.jupiter.api.Test;

/** Run only by HarnessSelfTest: two threads deadlock; the harness must report the hang with both stacks. */
@Isolated(timeout = "3s")
public class DeadlockSample {
    @Test
    void deadlocks() throws InterruptedException {
        Object a = new Object(), b = new Object();
        Thread left = new Thread(() -> lockBoth(a, b), "deadlock-left");
        Thread right = new Thread(() -> lockBoth(b, a), "deadlock-right");
        left.start();
        right.start();
        left.join();
    }

    private static void lockBoth(Object first, Object second) {
        synchronized (first) {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                return;
            }
            synchronized (second) {
                System.out.println("unreachable");
            }
        }
    }
}
