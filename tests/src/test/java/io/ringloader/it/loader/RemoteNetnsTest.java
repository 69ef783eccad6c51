package io.ringloader.it.loader;

import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderStats;
import io.ringloader.os.ChildProcess;
import io.ringloader.os.JavaProcess;
import io.ringloader.os.Posix;
import io.ringloader.remote.Token;
import io.ringloader.remote.WorkerHostMain;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Worker hosts that are other hosts to the kernel: each in a network namespace of this test's own, joined
 * to the trainer's by a veth pair with addresses the test assigns. One host's link is cut mid-epoch (no
 * reset reaches either end: only the pings find out), another is killed with -9, and the epochs are
 * those of a clean local run; with the link back, the cut host is taken into a later epoch.
 *
 * <p>Needs root (as CI has) for {@code ip netns}; skipped without it. Every name and address is this
 * test's own and removed after it.
 */
@Isolated(timeout = "300s")
class RemoteNetnsTest {
    private static final int SAMPLES = 2000, BATCH = 20, BATCHES = SAMPLES / BATCH, EPOCHS = 6;
    private static final String PORT = "7070";

    @TempDir
    Path tmp;
    private Path tokenFile;
    private final List<Namespace> namespaces = new ArrayList<>();
    private final List<ChildProcess> hosts = new ArrayList<>();

    /** A namespace {@code name} whose end of the veth pair has {@code address}; the trainer's end is {@code outside}. */
    record Namespace(String name, String outside, String inside, String address) {}

    @BeforeEach
    void token() throws Exception {
        assumeTrue(isRoot() && run(10, "ip", "netns", "list").exit() == 0, "ip netns needs root");
        tokenFile = tmp.resolve("token");
        Token.create(tokenFile);
    }

    @AfterEach
    void cleanUp() throws Exception {
        for (ChildProcess h : hosts) h.close();
        for (Namespace n : namespaces) {
            run(10, "ip", "link", "del", n.outside()); // its peer goes with it
            run(10, "ip", "netns", "del", n.name());
        }
        for (Namespace n : namespaces) {
            assertThat(run(10, "ip", "netns", "list").out()).as("namespace %s removed", n.name()).doesNotContain(n.name());
        }
    }

    @Test
    void aHostCutOffAndAHostKilledMidEpochLoseNoBatchAndTheCutHostComesBack() throws Exception {
        List<List<String>> expected = local();
        Namespace cut = namespace('a'), killed = namespace('b'), stays = namespace('c');
        ChildProcess cutHost = host(cut), killedHost = host(killed);
        host(stays);
        String[] uris = namespaces.stream().map(n -> "grpc://" + n.address() + ":" + PORT).toArray(String[]::new);
        try (DataLoader l = numbers().numWorkers(0).remoteWorkers(uris).remoteToken(Token.ofFile(tokenFile))
                // A timeout past the harness's (300 s): only the pings can notice the cut link; without them the test hangs.
                .persistentWorkers(true).timeout(Duration.ofMinutes(10)).build()) {
            assertThat(l.stats().hosts()).containsOnlyKeys(cut.address() + ":" + PORT, killed.address() + ":" + PORT, stays.address() + ":" + PORT);
            Iterator<Batch> it = l.iterator();
            List<String> epoch0 = new ArrayList<>(Batches.take(it, 30));
            // Down inside the host's namespace: the trainer's route stays, its packets go nowhere, as a pulled cable's.
            assertThat(run(10, "ip", "netns", "exec", cut.name(), "ip", "link", "set", cut.inside(), "down").exit()).isZero();
            assertThat(Posix.kill(killedHost.pid(), Posix.SIGKILL)).isTrue();
            epoch0.addAll(Batches.take(it, BATCHES - 30));
            assertThat(epoch0).as("epoch 0: a host cut off and one killed after batch 30").isEqualTo(expected.get(0));

            // With the link down its host cannot be reached: the epoch is the third host's alone.
            assertThat(Batches.take(l.iterator(), BATCHES)).as("epoch 1").isEqualTo(expected.get(1));

            // The link back: once the host noticed that its trainer went, it takes the trainer's next epoch.
            assertThat(run(10, "ip", "netns", "exec", cut.name(), "ip", "link", "set", cut.inside(), "up").exit()).isZero();
            cutHost.awaitOrDie(() -> cutHost.stderrTail().stream().anyMatch(s -> s.contains("ringloader worker-host: stopped")), 60_000,
                    "the cut host's worker stopped");
            String cutName = cut.address() + ":" + PORT;
            long before = l.stats().hosts().get(cutName).batches();
            int epoch = 2;
            for (; epoch < EPOCHS && l.stats().hosts().get(cutName).batches() == before; epoch++) {
                // bounded: a link that has just come up may need a moment before a connection is made
                assertThat(Batches.take(l.iterator(), BATCHES)).as("epoch %d", epoch).isEqualTo(expected.get(epoch));
            }
            LoaderStats s = l.stats();
            assertThat(s.hosts().get(cutName).batches()).as("the cut host built batches again, by epoch %d", epoch - 1).isGreaterThan(before);
        }
    }

    /** The epochs of 2 local thread workers: what every run with hosts must deliver. */
    private static List<List<String>> local() {
        List<List<String>> out = new ArrayList<>();
        try (DataLoader l = numbers().mode(WorkerMode.THREAD).numWorkers(2).persistentWorkers(true).build()) {
            for (int e = 0; e < EPOCHS; e++) out.add(Batches.take(l.iterator(), BATCHES));
        }
        return out;
    }

    private static DataLoader.Builder numbers() {
        return DataLoader.builder(new Datasets.Numbers(SAMPLES)).batchSize(BATCH).shuffle(true).seed(11).prefetchFactor(4);
    }

    /**
     * A namespace of this test's own with a veth pair into it; the addresses are a /30 of 10.231.0.0/16 that
     * no interface of this machine has.
     */
    private Namespace namespace(char which) throws Exception {
        long pid = ProcessHandle.current().pid() % 100_000;
        String name = "ringloader-" + pid + "-" + which, outside = "rl" + pid + which + "t", inside = "rl" + pid + which + "h";
        String addresses = run(10, "ip", "-4", "addr").out();
        int net = (int) ((pid * 3 + which) % 250);
        while (addresses.contains("10.231." + net + ".")) net = (net + 1) % 250;
        Namespace n = new Namespace(name, outside, inside, "10.231." + net + ".2");
        namespaces.add(n);
        must("ip", "netns", "add", name);
        must("ip", "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", name);
        must("ip", "addr", "add", "10.231." + net + ".1/30", "dev", outside);
        must("ip", "link", "set", outside, "up");
        must("ip", "netns", "exec", name, "ip", "addr", "add", n.address() + "/30", "dev", inside);
        must("ip", "netns", "exec", name, "ip", "link", "set", inside, "up");
        must("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"); // Netty looks for a loopback interface
        return n;
    }

    /** A worker host of 1 worker in {@code n}, listening on its address only; returns once it listens. */
    private ChildProcess host(Namespace n) throws Exception {
        List<String> command = new ArrayList<>(List.of("ip", "netns", "exec", n.name()));
        command.addAll(JavaProcess.command(WorkerHostMain.class.getName(), List.of("-Xmx256m"),
                List.of("--bind", n.address(), "--port", PORT, "--workers", "1", "--token-file", tokenFile.toString())));
        ChildProcess h = ChildProcess.start("worker host in " + n.name(), command); // ip netns exec execs java: the pid is the host's
        hosts.add(h);
        h.awaitOrDie(() -> WorkerHostMain.listeningPort(h.stdoutTail()) > 0, 60_000, "listen");
        return h;
    }

    record Ran(int exit, String out) {}

    private static Ran run(int seconds, String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            return new Ran(-1, String.join(" ", command) + " did not end within " + seconds + " s");
        }
        return new Ran(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    private static void must(String... command) throws Exception {
        Ran r = run(10, command);
        assertThat(r.exit()).as("%s: %s", String.join(" ", command), r.out()).isZero();
    }

    private static boolean isRoot() {
        try {
            return Files.readString(Path.of("/proc/self/status")).lines().anyMatch(l -> l.matches("Uid:\\s+0\\s.*"));
        } catch (java.io.IOException e) {
            return false;
        }
    }
}
