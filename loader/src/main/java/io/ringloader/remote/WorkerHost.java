package io.ringloader.remote;

import io.grpc.netty.NettyServerBuilder;
import io.ringloader.batch.RecordHeader;
import io.ringloader.ring.RingClosedException;
import io.ringloader.ring.RingRecord;
import io.ringloader.ring.SpscRing;
import io.ringloader.worker.ProcessWorker;
import io.ringloader.worker.WorkerTmpDir;
import org.apache.arrow.flight.Action;
import org.apache.arrow.flight.CallStatus;
import org.apache.arrow.flight.FlightServer;
import org.apache.arrow.flight.FlightStream;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.NoOpFlightProducer;
import org.apache.arrow.flight.Result;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * A worker host: runs ringloader's own process workers on this machine, over its own rings, for trainers
 * on other machines. Each Flight {@code DoExchange} is one worker ({@link HostProtocol}): the trainer
 * sends its configuration, the host starts a process worker with it, and then moves ring records both
 * ways as they are, on the worker's data connection ({@link DataPort}). The host never reads a dataset
 * itself: the worker does, in a JVM of its own, as a local one would.
 *
 * <p>Closed to strangers: every call must carry the shared {@link Token} ({@link TokenCheck}, before
 * any message is read), every data connection its call's one-time ticket (before anything else is
 * read), it listens on 127.0.0.1 unless given an address, and TLS is used, for both, when given a
 * certificate and key. A trainer that has the token runs code here: its dataset, and any classes it
 * ships. Give the token only to trainers you would let log in to this machine.
 */
public final class WorkerHost implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WorkerHost.class);
    /** The largest ring a trainer may ask a host's worker to have. */
    static final long MOST_RING_BYTES = 1L << 30;
    /** How long a stopping worker gets to close its dataset, as a local one does. */
    static final long STOP_GRACE_MILLIS = 2000;

    /**
     * @param bind     the address to listen on (127.0.0.1 unless told otherwise)
     * @param port     the port (0: any free one; see {@link #port()})
     * @param workers  the most workers it runs at once, for all trainers together
     * @param token    the shared secret
     * @param tlsCert  a PEM certificate chain for TLS, or null for plain gRPC
     * @param tlsKey   its PEM private key, or null
     * @param dataPort the port of the workers' data connections (0: any free one; the trainer is told it)
     */
    public record Settings(String bind, int port, int workers, Token token, Path tlsCert, Path tlsKey, int dataPort) {
        public Settings {
            if (workers < 1) throw new IllegalArgumentException("--workers must be at least 1, got " + workers);
            if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be in [0, 65535], got " + port);
            if (dataPort < 0 || dataPort > 65535) throw new IllegalArgumentException("--data-port must be in [0, 65535], got " + dataPort);
            if (dataPort != 0 && dataPort == port) throw new IllegalArgumentException("--data-port must differ from --port (" + port + ")");
            if ((tlsCert == null) != (tlsKey == null)) throw new IllegalArgumentException("TLS needs both --tls-cert and --tls-key");
            java.util.Objects.requireNonNull(token, "token");
        }

        /** With the data connections on {@code port + 1} (any free port when {@code port} is 0). */
        public Settings(String bind, int port, int workers, Token token, Path tlsCert, Path tlsKey) {
            this(bind, port, workers, token, tlsCert, tlsKey, defaultDataPort(port));
        }

        /** The data port a host on {@code port} uses unless told: the next one (any free one for port 0). */
        public static int defaultDataPort(int port) {
            return port == 0 || port == 65535 ? 0 : port + 1;
        }
    }

    private final Settings settings;
    private final BufferAllocator allocator = new RootAllocator();
    private final FlightServer server;
    private final TokenCheck check;
    private final Semaphore free;
    private final Path tmpDir = WorkerTmpDir.create();
    private final AtomicInteger served = new AtomicInteger();
    private final java.util.Set<ProcessWorker> running = ConcurrentHashMap.newKeySet();
    private final String name;
    private final DataPort data;

    private WorkerHost(Settings s) throws IOException {
        this.settings = s;
        this.check = new TokenCheck(s.token());
        this.free = new Semaphore(s.workers());
        Location where = s.tlsCert() != null ? Location.forGrpcTls(s.bind(), s.port()) : Location.forGrpcInsecure(s.bind(), s.port());
        // The host pings its trainers as they ping it (RemoteHost.KEEPALIVE): a trainer cut off is noticed,
        // its call ended and its worker stopped, so that its place is free for the trainer's next epoch.
        Consumer<NettyServerBuilder> guard = b -> b.intercept(check)
                .keepAliveTime(RemoteHost.KEEPALIVE.toMillis(), TimeUnit.MILLISECONDS)
                .keepAliveTimeout(RemoteHost.KEEPALIVE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                .permitKeepAliveTime(RemoteHost.KEEPALIVE.toMillis() / 2, TimeUnit.MILLISECONDS)
                .permitKeepAliveWithoutCalls(true);
        FlightServer.Builder b = FlightServer.builder(allocator, where, new Producer())
                .maxInboundMessageSize(Integer.MAX_VALUE)
                .transportHint("grpc.builderConsumer", guard);
        if (s.tlsCert() != null) b.useTls(s.tlsCert().toFile(), s.tlsKey().toFile());
        this.server = b.build().start();
        this.name = hostName() + ":" + server.getPort(); // the port it got, for --port 0
        try {
            this.data = new DataPort(s.bind(), s.dataPort(), s.tlsCert() != null ? Tls.server(s.tlsCert(), s.tlsKey()) : null, name);
        } catch (IOException | RuntimeException e) {
            try {
                server.close();
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            throw new IOException("ringloader worker-host: cannot listen for data connections on " + s.bind() + ":" + s.dataPort()
                    + " (--data-port): " + e.getMessage(), e);
        }
    }

    /** Starts a host; it serves until {@link #close()}. */
    public static WorkerHost start(Settings s) throws IOException {
        WorkerHost h = new WorkerHost(s);
        LOG.info("ringloader worker-host: serving up to {} workers on {}://{}:{}, data connections on port {} ({})", s.workers(),
                s.tlsCert() != null ? "grpc+tls" : "grpc", s.bind(), h.port(), h.dataPort(),
                s.tlsCert() != null ? "TLS" : "no TLS: use it on a trusted network or loopback only");
        return h;
    }

    public int port() {
        return server.getPort();
    }

    /** The port of the workers' data connections. */
    public int dataPort() {
        return data.port();
    }

    /** Calls refused for a missing or wrong token so far. */
    public long refusedCalls() {
        return check.refused();
    }

    /** Data connections refused so far: no hello, a ticket that is not a waiting call's, or garbage. */
    public long refusedDataConnections() {
        return data.refused();
    }

    /** Workers started for trainers so far. */
    public int workersServed() {
        return served.get();
    }

    public void awaitTermination() throws InterruptedException {
        server.awaitTermination();
    }

    @Override
    public void close() throws InterruptedException {
        running.forEach(w -> w.stop(0));
        data.close();
        server.shutdown();
        if (!server.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS)) server.close();
        WorkerTmpDir.delete(tmpDir);
        try {
            allocator.close();
        } catch (IllegalStateException held) {
            // gRPC still holds buffers of calls that were cut off; they go with this JVM
            LOG.debug("ringloader worker-host: {}", held.getMessage());
        }
    }

    private static String hostName() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }

    private final class Producer extends NoOpFlightProducer {
        @Override
        public void doAction(CallContext context, Action action, StreamListener<Result> listener) {
            if (!action.getType().equals(HostProtocol.INFO_ACTION)) {
                listener.onError(CallStatus.UNIMPLEMENTED.withDescription("ringloader worker-host has no action " + action.getType()).toRuntimeException());
                return;
            }
            listener.onNext(new Result(("workers=" + settings.workers() + "\nhost=" + name).getBytes(StandardCharsets.UTF_8)));
            listener.onCompleted();
        }

        @Override
        public void doExchange(CallContext context, FlightStream reader, ServerStreamListener writer) {
            // The Open first, then a place: a caller that never sends its Open holds no worker's place.
            HostProtocol.Open open;
            try {
                if (!reader.next() || reader.getLatestMetadata() == null) throw new IllegalArgumentException("the call sent no Open message");
                open = HostProtocol.Open.decode(bytes(reader.getLatestMetadata()), MOST_RING_BYTES);
            } catch (RuntimeException e) {
                LOG.warn("ringloader worker-host: refused a worker: {}", e.getMessage());
                endQuietly(writer, CallStatus.INVALID_ARGUMENT.withDescription("ringloader worker-host " + name + ": " + e.getMessage()).toRuntimeException());
                return;
            }
            if (!free.tryAcquire()) {
                endQuietly(writer, CallStatus.RESOURCE_EXHAUSTED.withDescription("ringloader worker-host " + name + " runs its most workers ("
                        + settings.workers() + ", --workers)").toRuntimeException());
                return;
            }
            // The call ends only after its worker has stopped and its place is free again, so that a trainer
            // that starts again at once (a next epoch, a rejoin, a new run) finds the place it just left.
            ProcessWorker worker = null;
            RuntimeException end = null; // null: the call completes
            try {
                try {
                    worker = ProcessWorker.startHosted(open.config(), open.requestCapacity(), open.batchCapacity(), open.jvmOptions(), tmpDir);
                } catch (IllegalArgumentException | IllegalStateException | java.io.UncheckedIOException e) {
                    LOG.warn("ringloader worker-host: refused a worker: {}", e.getMessage());
                    end = CallStatus.INVALID_ARGUMENT.withDescription("ringloader worker-host " + name + ": " + e.getMessage()).toRuntimeException();
                    return;
                }
                running.add(worker);
                served.incrementAndGet();
                LOG.info("ringloader worker-host: started {} for a trainer", worker.describe());
                DataPort.Ticket ticket = data.expect(open.lanes());
                put(writer, new HostProtocol.Opened(worker.pid(), name, data.port(), ticket.bytes()).encode());
                DataLink link = data.await(ticket, DataPort.HELLO_TIMEOUT, context::isCancelled);
                ProcessWorker w = worker;
                Thread up = Thread.ofPlatform().daemon().name("ringloader-host-up-" + w.pid()).start(() -> uplink(w, link));
                Thread down = Thread.ofPlatform().daemon().name("ringloader-host-down-" + w.pid()).start(() -> downlink(w, link));
                try {
                    // The call carries nothing after the Open: it ends when the trainer is done with this
                    // worker, or is gone (cancelled, or its connection's pings unanswered).
                    while (reader.next()) {
                        if (reader.getLatestMetadata() != null) {
                            throw new IllegalArgumentException("the trainer sent a message on its call after the Open (records go on the data"
                                    + " connection); the call is ended");
                        }
                    }
                } finally {
                    w.signalStop(); // the worker's rings close, it leaves its loop, and downlink with it
                    data.closed(link); // uplink's read ends
                    up.join();
                    down.join();
                }
            } catch (Exception e) {
                if (!context.isCancelled()) LOG.warn("ringloader worker-host: a worker's call failed: {}", e.getMessage());
                CallStatus status = e instanceof IllegalArgumentException ? CallStatus.INVALID_ARGUMENT : CallStatus.INTERNAL;
                end = status.withDescription("ringloader worker-host " + name + ": " + e.getMessage()).toRuntimeException();
            } finally {
                if (worker != null) {
                    running.remove(worker);
                    worker.stop(STOP_GRACE_MILLIS);
                    LOG.info("ringloader worker-host: stopped {}", worker.describe());
                }
                free.release();
                if (end == null) {
                    try {
                        writer.completed();
                    } catch (RuntimeException gone) {
                        // the trainer already went (cancelled, or its connection is gone)
                    }
                } else {
                    endQuietly(writer, end);
                }
            }
        }

        private static void endQuietly(ServerStreamListener writer, RuntimeException status) {
            try {
                writer.error(status);
            } catch (RuntimeException gone) {
                // the trainer already went (cancelled, or its connection is gone)
            }
        }

        /** The trainer's requests, from the data connection into the worker's request ring, until either closes. */
        private void uplink(ProcessWorker w, DataLink link) {
            SpscRing requests = w.requests();
            try {
                int n;
                while ((n = link.readLength()) >= 0) {
                    if (n < RecordHeader.LENGTH || n > requests.maxPayload()) {
                        throw new IllegalArgumentException("a record of " + n + " bytes, not a request for a ring of " + requests.maxPayload());
                    }
                    long pos;
                    while ((pos = requests.claim(n, 100_000_000L)) == SpscRing.NO_SPACE) {
                        if (!w.isAlive()) return;
                    }
                    MemorySegment record = requests.payload(pos).asSlice(0, n);
                    link.readFully(record);
                    String wrong = notARequest(record);
                    if (wrong != null) {
                        requests.abort(pos);
                        throw new IllegalArgumentException(wrong);
                    }
                    requests.commit(pos);
                }
            } catch (RingClosedException stopping) {
                // the worker is stopping
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException | RuntimeException e) {
                if (link.closedHere()) return; // the call ended
                // A trainer's records are never wrong: this is not one, or its connection broke. Its worker stops;
                // the trainer sees its data connection end, and asks another worker for what this one had.
                LOG.warn("ringloader worker-host: the data connection of {} from {} is ended: {}", w.describe(), link.peer(), e.getMessage());
                w.signalStop();
                link.shutdownOutput();
            }
        }

        /** The worker's records, from its batch ring onto the data connection as they are, as fast as the trainer reads them. */
        private void downlink(ProcessWorker w, DataLink link) {
            SpscRing batches = w.batches();
            try {
                while (true) {
                    RingRecord r = batches.read(50_000_000L);
                    if (r == null) {
                        if (!w.isAlive()) break;
                        continue;
                    }
                    link.write(r.payload()); // waits while the trainer's ring is full: the back-pressure
                    batches.release(r);
                }
            } catch (RingClosedException closed) {
                // the worker ended, or was asked to
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (IOException | RuntimeException e) {
                if (!link.closedHere()) LOG.warn("ringloader worker-host: sending {}'s batches failed: {}", w.describe(), e.toString());
            }
            // The trainer reads every record sent, then the end: a worker that died here is a worker that died there.
            link.shutdownOutput();
        }
    }

    /** Why {@code r} is not a request a worker can take (its kind, or a length that does not match it), or null. */
    static String notARequest(MemorySegment r) {
        if (r.byteSize() < RecordHeader.LENGTH) return "a message of " + r.byteSize() + " bytes, shorter than a request";
        int kind = r.get(java.lang.foreign.ValueLayout.JAVA_INT, RecordHeader.KIND);
        int rows = r.get(java.lang.foreign.ValueLayout.JAVA_INT, RecordHeader.ROWS);
        return switch (kind) {
            case RecordHeader.BATCH_REQUEST -> rows >= 0 && r.byteSize() == RecordHeader.LENGTH + 8L * rows ? null
                    : "a batch request of " + rows + " samples in " + r.byteSize() + " bytes";
            case RecordHeader.STREAM_REQUEST -> r.byteSize() == RecordHeader.LENGTH && rows > 0 ? null
                    : "a stream request of " + rows + " samples in " + r.byteSize() + " bytes";
            default -> "a message of kind " + kind + ", not a request";
        };
    }

    static byte[] bytes(ArrowBuf m) {
        byte[] b = new byte[(int) m.readableBytes()];
        m.getBytes(m.readerIndex(), b);
        return b;
    }

    /** Sends {@code message} as a metadata-only Flight message (Flight closes the buffer once it is sent). */
    private void put(org.apache.arrow.flight.OutboundStreamListener writer, byte[] message) {
        ArrowBuf buf = allocator.buffer(message.length);
        buf.setBytes(0, message);
        buf.writerIndex(message.length);
        writer.putMetadata(buf);
    }
}
