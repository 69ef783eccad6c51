package io.ringloader.it.loader;

import io.ringloader.loader.DataLoader;
import io.ringloader.loader.LoaderStats;
import io.ringloader.os.ChildProcess;
import io.ringloader.os.JavaProcess;
import io.ringloader.os.Posix;
import io.ringloader.remote.HostProtocol;
import io.ringloader.remote.RemoteHost;
import io.ringloader.remote.Token;
import io.ringloader.remote.WorkerHost;
import io.ringloader.remote.WorkerHostMain;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.flight.Action;
import org.apache.arrow.flight.CallOption;
import org.apache.arrow.flight.FlightCallHeaders;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightDescriptor;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.flight.FlightStatusCode;
import org.apache.arrow.flight.HeaderCallOption;
import org.apache.arrow.flight.Location;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/**
 * Worker hosts on loopback: the batches of workers on hosts are those of local workers, a host killed
 * mid-epoch is dropped and its batches come from the others, and a host refuses every call that does
 * not carry the token, and any message that is not what the protocol says, before reading further.
 */
@Isolated(timeout = "300s")
class RemoteWorkersTest {
    private static final int SAMPLES = 2000, BATCH = 20, BATCHES = SAMPLES / BATCH;

    @TempDir
    Path tmp;
    private Token token;
    private Path tokenFile;
    private final List<AutoCloseable> cleanup = new ArrayList<>();

    @BeforeEach
    void token() throws Exception {
        tokenFile = tmp.resolve("token");
        token = Token.create(tokenFile);
    }

    @AfterEach
    void close() throws Exception {
        for (int i = cleanup.size() - 1; i >= 0; i--) cleanup.get(i).close();
    }

    private WorkerHost host(int workers) throws Exception {
        WorkerHost h = WorkerHost.start(new WorkerHost.Settings("127.0.0.1", 0, workers, token, null, null));
        cleanup.add(h);
        return h;
    }

    private static String uri(WorkerHost h) {
        return "grpc://127.0.0.1:" + h.port();
    }

    private static DataLoader.Builder numbers() {
        return DataLoader.builder(new Datasets.Numbers(SAMPLES)).batchSize(BATCH).shuffle(true).seed(7).prefetchFactor(4);
    }

    /** Two epochs of 2 local thread workers: what every run with hosts must deliver. */
    private static List<String> local() {
        try (DataLoader l = numbers().mode(WorkerMode.THREAD).numWorkers(2).persistentWorkers(true).build()) {
            List<String> out = new ArrayList<>(Batches.take(l.iterator(), BATCHES));
            out.addAll(Batches.take(l.iterator(), BATCHES));
            return out;
        }
    }

    private static List<String> twoEpochs(DataLoader l) {
        List<String> out = new ArrayList<>(Batches.take(l.iterator(), BATCHES));
        out.addAll(Batches.take(l.iterator(), BATCHES));
        return out;
    }

    @Test
    void batchesBuiltOnTwoHostsAndBesideALocalWorkerAreThoseOfALocalRun() throws Exception {
        List<String> expected = local();
        WorkerHost a = host(1), b = host(2);
        try (DataLoader l = numbers().numWorkers(0).remoteWorkers(uri(a), uri(b)).remoteToken(token).persistentWorkers(true).build()) {
            assertThat(l.numWorkers()).as("a worker on the first host, two on the second").isEqualTo(3);
            assertThat(twoEpochs(l)).isEqualTo(expected);
            LoaderStats s = l.stats();
            assertThat(s.workers()).hasSize(3).allMatch(w -> w.batches() > 0, "every remote worker built batches");
        }
        assertThat(a.workersServed() + b.workersServed()).isEqualTo(3);
        try (DataLoader l = numbers().numWorkers(1).remoteWorkers(uri(a)).remoteToken(token).persistentWorkers(true).build()) {
            assertThat(twoEpochs(l)).as("one local process worker and one on a host").isEqualTo(expected);
            assertThat(l.stats().workers()).allMatch(w -> w.batches() > 0);
            assertThat(l.stats().workers()).extracting(LoaderStats.WorkerStats::host).containsExactly(LoaderStats.LOCAL, "127.0.0.1:" + a.port());
            assertThat(l.workerPids()).as("this machine's worker processes only").containsExactly(l.stats().workers().get(0).pid());
        }
    }

    /**
     * numWorkers(AUTO) and prefetchFactor(AUTO) beside a host: the autotuner adds and retires this machine's
     * workers only (a host's run on another machine's CPUs); the host's worker serves both epochs, which
     * are a local run's.
     */
    @Test
    void anAutotunedLoaderTunesItsOwnWorkersBesideAHostAndDeliversALocalRunsBatches() throws Exception {
        List<String> expected = local();
        WorkerHost h = host(1);
        try (DataLoader l = DataLoader.builder(new AutotuneTest.SlowNumbers(SAMPLES, 500)).batchSize(BATCH).shuffle(true).seed(7)
                .numWorkers(DataLoader.AUTO).prefetchFactor(DataLoader.AUTO).remoteWorkers(uri(h)).remoteToken(token)
                .persistentWorkers(true).build()) {
            assertThat(l.numWorkers()).as("one of this machine's workers to start with, and the host's").isEqualTo(2);
            assertThat(twoEpochs(l)).isEqualTo(expected);
            assertThat(l.stats().tuning()).as("the autotuner decided as the epochs went").isNotEmpty();
            assertThat(l.stats().workers()).filteredOn(w -> !w.host().equals(LoaderStats.LOCAL)).singleElement()
                    .satisfies(w -> assertThat(w.batches()).isPositive());
        }
        assertThat(h.workersServed()).as("the host's worker was neither retired nor replaced").isEqualTo(1);

        // A stream: its count of workers changes between epochs, and the host's worker keeps its slot.
        DataLoader.Builder stream = DataLoader.builder(new AutotuneTest.SlowStream(60)).batchSize(10).shards(4).seed(3);
        List<String> streamed = new ArrayList<>();
        try (DataLoader l = stream.mode(WorkerMode.THREAD).numWorkers(2).persistentWorkers(true).build()) {
            for (int e = 0; e < 2; e++) {
                Iterator<io.ringloader.loader.Batch> it = l.iterator();
                while (it.hasNext()) streamed.addAll(Batches.take(it, 1));
            }
        }
        assertThat(streamed).as("4 shards of 60 samples, 6 batches each, in both epochs").hasSize(2 * 4 * 6);
        try (DataLoader l = stream.mode(WorkerMode.PROCESS).numWorkers(DataLoader.AUTO).remoteWorkers(uri(h)).remoteToken(token)
                .persistentWorkers(true).build()) {
            List<String> got = new ArrayList<>();
            long[] hostBatches = new long[2];
            for (int e = 0; e < 2; e++) {
                Iterator<io.ringloader.loader.Batch> it = l.iterator();
                while (it.hasNext()) got.addAll(Batches.take(it, 1));
                hostBatches[e] = l.stats().hosts().get("127.0.0.1:" + h.port()).batches();
            }
            assertThat(got).isEqualTo(streamed);
            assertThat(hostBatches[1]).as("the host's worker built batches in the second epoch too, after the loader's resize")
                    .isGreaterThan(hostBatches[0]);
        }
        assertThat(h.workersServed()).as("one more worker on the host, for the stream's loader").isEqualTo(2);
    }

    @Test
    void aHostKilledMidEpochIsDroppedAndEveryBatchIsDeliveredOnceInOrder() throws Exception {
        List<String> expected = local();
        WorkerHost stays = host(1);
        ChildHost doomed = childHost();
        try (DataLoader l = numbers().numWorkers(0).remoteWorkers(doomed.uri(), uri(stays)).remoteToken(token)
                .persistentWorkers(true).build()) {
            Iterator<io.ringloader.loader.Batch> it = l.iterator();
            List<String> got = new ArrayList<>(Batches.take(it, 30));
            assertThat(Posix.kill(doomed.process().pid(), Posix.SIGKILL)).isTrue();
            got.addAll(Batches.take(it, BATCHES));
            got.addAll(Batches.take(l.iterator(), BATCHES)); // its slot is lost for good: the next epoch asks the other host
            assertThat(got).as("both epochs, the first host killed after batch 30").isEqualTo(expected);
        }
    }

    /**
     * Batches of 2.4 MB, each cut over the data connection's lanes (records of 1 MiB or more): two epochs
     * equal to a local run, with one of two hosts killed with -9 mid-epoch, when most of its time goes
     * to moving such a batch.
     */
    @Test
    void batchesSplitOverTheLanesArriveWholeAlsoWhenTheirHostIsKilledMidEpoch() throws Exception {
        DataLoader.Builder wide = DataLoader.builder(new Datasets.RandomBytes(96, 300_000)).batchSize(8).shuffle(true).seed(11)
                .prefetchFactor(3).ringBytes(32 << 20);
        int batches = 96 / 8;
        List<String> expected = new ArrayList<>();
        try (DataLoader l = wide.mode(WorkerMode.THREAD).numWorkers(2).persistentWorkers(true).build()) {
            expected.addAll(Batches.take(l.iterator(), batches));
            expected.addAll(Batches.take(l.iterator(), batches));
        }
        WorkerHost stays = host(1);
        ChildHost doomed = childHost();
        try (DataLoader l = wide.mode(WorkerMode.PROCESS).numWorkers(0).remoteWorkers(doomed.uri(), uri(stays)).remoteToken(token)
                .persistentWorkers(true).build()) {
            Iterator<io.ringloader.loader.Batch> it = l.iterator();
            List<String> got = new ArrayList<>(Batches.take(it, 4));
            assertThat(Posix.kill(doomed.process().pid(), Posix.SIGKILL)).isTrue();
            got.addAll(Batches.take(it, batches));
            got.addAll(Batches.take(l.iterator(), batches));
            assertThat(got).as("both epochs, the first host killed after batch 4").isEqualTo(expected);
        }
    }

    @Test
    void aStreamsShardsOnAHostKilledMidEpochMoveToTheOtherSlotsAndEveryBatchComesOnceInOrder() throws Exception {
        DataLoader.Builder stream = DataLoader.builder(new Datasets.RandomStream(333)).batchSize(10).shards(6).seed(3).prefetchFactor(3);
        List<String> expected;
        try (DataLoader l = stream.mode(WorkerMode.THREAD).numWorkers(2).persistentWorkers(true).build()) {
            expected = twoStreamEpochs(l, -1, null);
        }
        WorkerHost stays = host(1);
        ChildHost doomed = childHost();
        try (DataLoader l = stream.mode(WorkerMode.PROCESS).numWorkers(1).remoteWorkers(doomed.uri(), uri(stays)).remoteToken(token)
                .persistentWorkers(true).build()) {
            assertThat(l.numWorkers()).isEqualTo(3);
            assertThat(twoStreamEpochs(l, 25, () -> Posix.kill(doomed.process().pid(), Posix.SIGKILL)))
                    .as("a local worker and two hosts, one killed after batch 25 of epoch 0").isEqualTo(expected);
            assertThat(l.stats().hosts().get(LoaderStats.LOCAL).batches()).isPositive();
        }
    }

    /** Every batch of two epochs of a stream; {@code then} runs once after batch {@code after} of the first. */
    private static List<String> twoStreamEpochs(DataLoader l, int after, Runnable then) {
        List<String> out = new ArrayList<>();
        for (int e = 0; e < 2; e++) {
            Iterator<io.ringloader.loader.Batch> it = l.iterator();
            while (it.hasNext()) {
                out.addAll(Batches.take(it, 1));
                if (e == 0 && out.size() == after) then.run();
            }
        }
        assertThat(out).as("6 shards of 333 samples, 34 batches each, in both epochs").hasSize(2 * 6 * 34);
        return out;
    }

    record ChildHost(ChildProcess process, String uri) {}

    /** A worker host of 1 worker in a JVM of its own (to be killed with -9), on loopback. */
    private ChildHost childHost() throws Exception {
        ChildProcess p = ChildProcess.start("worker host", JavaProcess.command(WorkerHostMain.class.getName(), List.of("-Xmx256m"),
                List.of("--port", "0", "--workers", "1", "--token-file", tokenFile.toString())));
        cleanup.add(p);
        p.awaitOrDie(() -> WorkerHostMain.listeningPort(p.stdoutTail()) > 0, 60_000, "listen");
        return new ChildHost(p, "grpc://127.0.0.1:" + WorkerHostMain.listeningPort(p.stdoutTail()));
    }

    @Test
    void callsWithoutTheTokenAndMessagesOutsideTheProtocolAreRefusedAndTheHostServesOn() throws Exception {
        WorkerHost h = host(1);
        Location at = Location.forGrpcInsecure("127.0.0.1", h.port());
        try (BufferAllocator alloc = new RootAllocator(); FlightClient client = FlightClient.builder(alloc, at).build()) {
            // No token, and a wrong one: refused before any message is read.
            FlightRuntimeException none = (FlightRuntimeException) catchThrowable(
                    () -> client.doAction(new Action(HostProtocol.INFO_ACTION)).next());
            assertThat(none.status().code()).isEqualTo(FlightStatusCode.UNAUTHENTICATED);
            assertThat(none.getMessage()).contains("no token");
            Throwable wrong = catchThrowable(() -> RemoteHost.of(uri(h), Token.ofFile(write("an-entirely-wrong-token"))).workers(java.time.Duration.ofSeconds(10)));
            assertThat(wrong).hasMessageContaining("UNAUTHENTICATED").hasMessageContaining("must share one token");
            assertThat(exchange(client, null, validOpen()).code()).isEqualTo(FlightStatusCode.UNAUTHENTICATED);
            assertThat(h.workersServed()).as("no worker started for a call without the token").isZero();
            assertThat(h.refusedCalls()).isEqualTo(3);

            // Garbage on the port: the connection is dropped.
            try (Socket s = new Socket("127.0.0.1", h.port())) {
                s.setSoTimeout(10_000);
                byte[] junk = new byte[4096];
                new SplittableRandom(5).nextBytes(junk);
                OutputStream out = s.getOutputStream();
                out.write(junk);
                out.flush();
                InputStream in = s.getInputStream();
                long read = 0;
                while (in.read() >= 0 && read++ < 1 << 20) {
                    // what the server says before it closes (an HTTP/2 GOAWAY)
                }
            } catch (java.net.SocketException reset) {
                // the host reset the connection: refused as well
            }

            // With the token: an Open cut short, one that is not ringloader's, and an Open sent again where a request belongs.
            byte[] open = validOpen();
            CallStatusAndMessage cut = exchange(client, token, java.util.Arrays.copyOf(open, open.length / 2));
            assertThat(cut.code()).isEqualTo(FlightStatusCode.INVALID_ARGUMENT);
            assertThat(cut.message()).contains("passes the end of the message");
            byte[] foreign = open.clone();
            foreign[0] = 'G';
            assertThat(exchange(client, token, foreign).message()).contains("not 0x524c4832");
            assertThat(h.workersServed()).isZero();
        }
        // The host still serves its real trainer, while a call with the token that never sends its Open
        // stays open beside it (it holds none of the host's one place).
        List<String> expected;
        try (DataLoader l = numbers().numWorkers(0).build()) {
            expected = Batches.take(l.iterator(), BATCHES);
        }
        FlightCallHeaders headers = new FlightCallHeaders();
        headers.insert("authorization", "Bearer " + Files.readString(tokenFile).strip());
        try (BufferAllocator alloc = new RootAllocator(); FlightClient idle = FlightClient.builder(alloc, at).build();
             FlightClient.ExchangeReaderWriter silent = idle.doExchange(FlightDescriptor.command("ringloader.worker".getBytes(StandardCharsets.UTF_8)),
                     new HeaderCallOption(headers))) {
            try (DataLoader l = numbers().numWorkers(0).remoteWorkers(uri(h)).remoteToken(token).build()) {
                assertThat(Batches.take(l.iterator(), BATCHES)).isEqualTo(expected);
            }
            silent.getReader().cancel("the test is done with it", null);
        }
    }

    /**
     * A data connection is read no further than its hello: garbage, silence, a ticket the host never gave
     * and a ticket used once already are each refused and counted; the call's own ticket is welcomed; a
     * second message on the call after its Open ends the call; and the host serves its real trainer on.
     */
    @Test
    void dataConnectionsWithoutTheirCallsTicketAreRefusedAndTheHostServesOn() throws Exception {
        WorkerHost h = host(1);
        FlightCallHeaders headers = new FlightCallHeaders();
        headers.insert("authorization", "Bearer " + Files.readString(tokenFile).strip());
        try (BufferAllocator alloc = new RootAllocator();
             FlightClient client = FlightClient.builder(alloc, Location.forGrpcInsecure("127.0.0.1", h.port())).build();
             FlightClient.ExchangeReaderWriter call = client.doExchange(FlightDescriptor.command("ringloader.worker".getBytes(StandardCharsets.UTF_8)),
                     new HeaderCallOption(headers))) {
            putMetadata(alloc, call, validOpen());
            assertThat(call.getReader().next()).isTrue();
            ArrowBuf m = call.getReader().getLatestMetadata();
            byte[] answer = new byte[(int) m.readableBytes()];
            m.getBytes(m.readerIndex(), answer);
            HostProtocol.Opened opened = HostProtocol.Opened.decode(answer);
            assertThat(opened.dataPort()).isEqualTo(h.dataPort());

            byte[] junk = new byte[36];
            new SplittableRandom(7).nextBytes(junk);
            assertThat(welcomed(h, junk)).as("garbage").isFalse();
            assertThat(welcomed(h, new byte[0])).as("a connection closed without a word").isFalse();
            byte[] wrong = opened.ticket().clone();
            wrong[31] ^= 1;
            assertThat(welcomed(h, hello(wrong, 0, 2))).as("a ticket one bit off the call's").isFalse();
            assertThat(welcomed(h, hello(opened.ticket(), 2, 2))).as("the call's ticket, on a lane it does not have").isFalse();
            assertThat(welcomed(h, hello(opened.ticket(), 0, 3))).as("the call's ticket, with another count of lanes").isFalse();
            assertThat(refusedDataConnections(h, 5)).isEqualTo(5);
            try (Socket lane0 = new Socket("127.0.0.1", h.dataPort()); Socket lane1 = new Socket("127.0.0.1", h.dataPort())) {
                lane0.getOutputStream().write(hello(opened.ticket(), 0, 2));
                assertThat(answer(lane0)).as("the call's own ticket, lane 0").isEqualTo("RLD2");
                assertThat(welcomed(h, hello(opened.ticket(), 0, 2))).as("lane 0 again (a replayed hello)").isFalse();
                lane1.getOutputStream().write(hello(opened.ticket(), 1, 2));
                assertThat(answer(lane1)).as("lane 1").isEqualTo("RLD2");
                assertThat(welcomed(h, hello(opened.ticket(), 1, 2))).as("lane 1 again, once the ticket's lanes are all there").isFalse();
                assertThat(refusedDataConnections(h, 7)).isEqualTo(7);
                // A message on the call after its Open is outside the protocol: the call is ended, its worker stopped.
                putMetadata(alloc, call, validOpen());
                FlightRuntimeException ended = (FlightRuntimeException) catchThrowable(() -> {
                    while (call.getReader().next()) {
                        // nothing else comes
                    }
                });
                assertThat(ended.status().code()).isEqualTo(FlightStatusCode.INVALID_ARGUMENT);
                assertThat(ended.getMessage()).contains("after the Open");
                assertThat(answer(lane0)).as("the data connection ends with its call").isNull();
            }
        }
        assertThat(h.workersServed()).isEqualTo(1);
        List<String> expected;
        try (DataLoader l = numbers().numWorkers(0).build()) {
            expected = Batches.take(l.iterator(), BATCHES);
        }
        try (DataLoader l = numbers().numWorkers(0).remoteWorkers(uri(h)).remoteToken(token).build()) {
            assertThat(Batches.take(l.iterator(), BATCHES)).isEqualTo(expected);
        }
    }

    private static void putMetadata(BufferAllocator alloc, FlightClient.ExchangeReaderWriter call, byte[] message) {
        ArrowBuf buf = alloc.buffer(message.length);
        buf.setBytes(0, message);
        buf.writerIndex(message.length);
        call.getWriter().putMetadata(buf);
    }

    /** A data connection's hello: "RLD2", the ticket, then which lane of how many (the trainer opens 2). */
    private static byte[] hello(byte[] ticket, int lane, int lanes) {
        return java.nio.ByteBuffer.allocate(4 + ticket.length + 8).put("RLD2".getBytes(StandardCharsets.US_ASCII)).put(ticket)
                .putInt(lane).putInt(lanes).array();
    }

    /** Whether the host welcomes a data connection that says {@code hello} (and then shuts its sending side). */
    private static boolean welcomed(WorkerHost h, byte[] hello) throws Exception {
        try (Socket s = new Socket("127.0.0.1", h.dataPort())) {
            s.getOutputStream().write(hello);
            s.shutdownOutput();
            return "RLD2".equals(answer(s)); // not a TLS alert, nor nothing
        }
    }

    /**
     * The host's count of refused data connections once it reaches {@code n}, or as it is after 10 s: over
     * TLS the failed handshake closes the connection before the host's code sees the failure and counts it.
     */
    private static long refusedDataConnections(WorkerHost h, long n) throws InterruptedException {
        for (long end = System.nanoTime() + 10_000_000_000L; h.refusedDataConnections() < n && System.nanoTime() < end; ) Thread.sleep(10);
        return h.refusedDataConnections();
    }

    /** The host's 4-byte answer on a data connection, or null if it closed it instead. */
    private static String answer(Socket s) throws Exception {
        s.setSoTimeout(30_000);
        try {
            byte[] b = s.getInputStream().readNBytes(4);
            return b.length == 4 ? new String(b, StandardCharsets.US_ASCII) : null;
        } catch (java.net.SocketException reset) {
            return null;
        }
    }

    @Test
    void overTlsTheTrainerGetsItsBatchesFromAHostWhoseCertificateItTrusts() throws Exception {
        Path cert = tmp.resolve("host.pem"), key = tmp.resolve("host.key");
        Process openssl = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key.toString(), "-out", cert.toString())
                .redirectErrorStream(true).start();
        String said = new String(openssl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(openssl.waitFor()).as("openssl: %s", said).isZero();
        WorkerHost h = WorkerHost.start(new WorkerHost.Settings("127.0.0.1", 0, 1, token, cert, key));
        cleanup.add(h);
        List<String> expected;
        try (DataLoader l = numbers().numWorkers(0).build()) {
            expected = Batches.take(l.iterator(), BATCHES);
        }
        String tls = "grpc+tls://127.0.0.1:" + h.port();
        try (DataLoader l = numbers().numWorkers(0).remoteWorkers(tls).remoteToken(token).remoteTls(cert).build()) {
            assertThat(Batches.take(l.iterator(), BATCHES)).isEqualTo(expected);
        }
        // Its data port speaks TLS only: a hello in the clear is refused (the handshake fails), as is garbage.
        assertThat(welcomed(h, hello(new byte[32], 0, 2))).isFalse();
        assertThat(refusedDataConnections(h, 1)).isEqualTo(1);
        // Without trusting the certificate, and in plain gRPC against a TLS port: clear errors, no batch.
        assertThat(catchThrowable(() -> numbers().numWorkers(0).remoteWorkers(tls).remoteToken(token).build()))
                .hasMessageContaining("did not answer").hasMessageContaining(tls);
        assertThat(catchThrowable(() -> numbers().numWorkers(0).remoteWorkers(uri(h)).remoteToken(token).build()))
                .hasMessageContaining("did not answer");
        assertThat(h.workersServed()).isEqualTo(1);
    }

    @Test
    void badAddressesAndMissingTokensAreClearErrors() throws Exception {
        WorkerHost h = host(1);
        assertThat(catchThrowable(() -> numbers().remoteWorkers("http://127.0.0.1:" + h.port()).remoteToken(token).build()))
                .hasMessageContaining("is not a worker host's address; write grpc+tls://HOST:PORT");
        assertThat(catchThrowable(() -> Token.ofFile(write("short"))))
                .hasMessageContaining("has 5 bytes; a worker host needs at least 16");
        ServerSocketPort free = new ServerSocketPort();
        assertThat(catchThrowable(() -> numbers().remoteWorkers("grpc://127.0.0.1:" + free.port).remoteToken(token).build()))
                .hasMessageContaining("did not answer").hasMessageContaining("127.0.0.1:" + free.port);
        assertThat(catchThrowable(() -> WorkerHostMain.main(new String[] {"--token", "x"})))
                .hasMessageContaining("never given on the command line");
    }

    /** A port nothing listens on (taken and given back). */
    private static final class ServerSocketPort {
        final int port;

        ServerSocketPort() throws java.io.IOException {
            try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
                port = s.getLocalPort();
            }
        }
    }

    private Path write(String secret) throws java.io.IOException {
        Path p = Files.createTempFile(tmp, "token", "");
        Files.writeString(p, secret);
        return p;
    }

    /** An Open as a trainer sends it (a worker of {@link Datasets.Numbers}): what a captured call would hold. */
    private static byte[] validOpen() {
        return new HostProtocol.Open(64 << 10, 4 << 20, List.of(), io.ringloader.worker.WorkerConfigAccess.of(new Datasets.Numbers(10))).encode();
    }

    record CallStatusAndMessage(FlightStatusCode code, String message) {}

    /** One DoExchange with {@code messages} sent as metadata, then its end: how the host ended it. */
    private CallStatusAndMessage exchange(FlightClient client, Token t, byte[]... messages) throws Exception {
        List<CallOption> options = new ArrayList<>();
        if (t != null) {
            FlightCallHeaders headers = new FlightCallHeaders();
            headers.insert("authorization", "Bearer " + Files.readString(tokenFile).strip());
            options.add(new HeaderCallOption(headers));
        }
        try (BufferAllocator alloc = new RootAllocator();
             FlightClient.ExchangeReaderWriter call = client.doExchange(FlightDescriptor.command("ringloader.worker".getBytes(StandardCharsets.UTF_8)),
                     options.toArray(CallOption[]::new))) {
            for (byte[] m : messages) {
                ArrowBuf buf = alloc.buffer(m.length);
                buf.setBytes(0, m);
                buf.writerIndex(m.length);
                call.getWriter().putMetadata(buf);
            }
            try {
                while (call.getReader().next()) {
                    // the host's Opened, for a valid Open
                }
                call.getWriter().completed();
                return new CallStatusAndMessage(FlightStatusCode.OK, "");
            } catch (FlightRuntimeException e) {
                return new CallStatusAndMessage(e.status().code(), e.getMessage());
            }
        } catch (FlightRuntimeException e) {
            return new CallStatusAndMessage(e.status().code(), e.getMessage());
        }
    }


}
