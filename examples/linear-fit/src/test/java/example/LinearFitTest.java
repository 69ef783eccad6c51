package example;

import io.ringloader.testkit.Isolated;
import org.junit.jupiter.api.Test;

import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The example's own tests, run in a JVM of their own each by ringloader's harness. */
@Isolated(timeout = "240s")
class LinearFitTest {

    @Test
    void twoProcessWorkersFeedAFitThatFindsTheLine() throws Exception {
        LinearFit.Result r = LinearFit.train(2, 3);
        assertTrue(r.loss() < 0.01, "last epoch's loss " + r.loss());
        for (int j = 0; j < NoisyLine.W.length; j++) {
            assertEquals(NoisyLine.W[j], r.weights()[j], 0.05, "weight " + j);
        }
        assertEquals(NoisyLine.B, r.bias(), 0.05, "bias");
    }

    @Test
    void theLoggingBackendIsTheApplicationsAlone() {
        // ringloader's artifacts bring no SLF4J backend: the only one found is the one this pom chose
        var providers = ServiceLoader.load(org.slf4j.spi.SLF4JServiceProvider.class).stream().map(p -> p.type().getName()).toList();
        assertEquals(java.util.List.of("org.slf4j.simple.SimpleServiceProvider"), providers);
    }
}
