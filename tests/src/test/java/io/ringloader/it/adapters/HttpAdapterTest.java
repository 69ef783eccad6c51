package io.ringloader.it.adapters;

import io.ringloader.adapters.http.HttpDataset;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.SampleReadException;
import io.ringloader.testkit.Isolated;
import org.apache.arrow.vector.VarBinaryVector;
import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Iterator;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** HTTP through a Netty client built in each worker, against a real Netty server on 127.0.0.1. */
@Isolated(timeout = "90s")
class HttpAdapterTest {

    private static Set<String> bodies(DataLoader l) {
        Set<String> out = new HashSet<>();
        for (Batch b : l) {
            try (b) {
                VarBinaryVector body = (VarBinaryVector) b.root().getVector("body");
                for (int r = 0; r < b.size(); r++) {
                    String s = new String(body.get(r));
                    assertThat(s).isEqualTo("item-" + b.sampleIndices()[r]);
                    out.add(s);
                }
            }
        }
        return out;
    }

    @Test
    void eachWorkerBuildsItsOwnEventLoopAndConnection() throws Exception {
        try (TestHttpServer server = new TestHttpServer();
             DataLoader l = DataLoader.builder(HttpDataset.of(server.template(), 300)).batchSize(20).shuffle(true).numWorkers(2).build()) {
            assertThat(bodies(l)).hasSize(300);
            assertThat(server.connections.get()).as("connections the server accepted: one keep-alive per worker, none from the trainer").isEqualTo(2);
            assertThat(server.clientPorts).hasSize(2);
        }
    }

    @Test
    void transientFailuresAreRetriedPermanentOnesNameTheUrl() throws Exception {
        try (TestHttpServer server = new TestHttpServer()) {
            server.failOnce.addAll(Set.of(5L, 6L, 77L));
            try (DataLoader l = DataLoader.builder(HttpDataset.of(server.template(), 100)).batchSize(10).numWorkers(2).build()) {
                assertThat(bodies(l)).hasSize(100);
                assertThat(server.failed).containsExactlyInAnyOrder(5L, 6L, 77L);
            }
            server.missing = 13;
            try (DataLoader l = DataLoader.builder(HttpDataset.of(server.template(), 100)).batchSize(10).numWorkers(2).build()) {
                assertThatThrownBy(() -> bodies(l)).isInstanceOf(SampleReadException.class)
                        .hasMessageContaining("GET http://127.0.0.1:" + server.port() + "/item/13 (sample 13) returned 404 Not Found");
            }
        }
    }

    @Test
    void aServerThatIsDownIsAClearErrorAfterTheRetries() throws Exception {
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        try (DataLoader l = DataLoader.builder(HttpDataset.of("http://127.0.0.1:" + port + "/item/{i}", 10).withRetries(3, 1000))
                .batchSize(5).numWorkers(1).build()) {
            assertThatThrownBy(() -> l.iterator().next()).isInstanceOf(SampleReadException.class)
                    .hasMessageContaining("GET http://127.0.0.1:" + port + "/item/0 (sample 0) failed 3 times");
        }
    }

    @Test
    void aServerThatNeverAnswersIsAnErrorNamingTheUrlWithinTheLoadersTimeout() throws Exception {
        // It listens (connections are accepted by the kernel) but reads nothing and answers nothing. The
        // default retries (4 attempts of up to 5 s) would outlast the loader's 5 s timeout and end as a
        // hung worker without a URL; they fit in half of it instead.
        try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
            String url = "http://127.0.0.1:" + silent.getLocalPort() + "/item/{i}";
            try (DataLoader l = DataLoader.builder(HttpDataset.of(url, 10)).batchSize(5).numWorkers(1)
                    .timeout(java.time.Duration.ofSeconds(5)).build()) {
                assertThatThrownBy(() -> l.iterator().next()).isInstanceOf(SampleReadException.class)
                        .hasMessageContaining("GET http://127.0.0.1:" + silent.getLocalPort() + "/item/0 (sample 0) failed")
                        .hasMessageContaining("in 2500 ms, the half of the loader's timeout (5000 ms)")
                        .hasMessageContaining("DataLoader.Builder.timeout");
            }
        }
    }

    @Test
    void aServerThatDiesMidEpochIsAClearErrorNotAHang() throws Exception {
        TestHttpServer server = new TestHttpServer();
        try (DataLoader l = DataLoader.builder(HttpDataset.of(server.template(), 1000).withRetries(3, 1000)).batchSize(10).numWorkers(2).build()) {
            Iterator<Batch> it = l.iterator();
            it.next().close(); // from worker 0
            it.next().close(); // from worker 1: both are past open() and reading when the server goes
            server.close();
            assertThatThrownBy(() -> {
                while (it.hasNext()) it.next().close();
            }).isInstanceOf(SampleReadException.class).hasMessageContaining("http://127.0.0.1:" + server.port() + "/item/")
                    .hasMessageContaining("failed 3 times");
        } finally {
            server.close();
        }
    }
}
