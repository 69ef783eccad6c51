package io.ringloader.remote;

import io.grpc.ManagedChannel;
import org.apache.arrow.flight.Action;
import org.apache.arrow.flight.CallOption;
import org.apache.arrow.flight.CallOptions;
import org.apache.arrow.flight.FlightCallHeaders;
import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightGrpcUtils;
import org.apache.arrow.flight.grpc.NettyClientBuilder;
import org.apache.arrow.flight.HeaderCallOption;
import org.apache.arrow.flight.Location;
import org.apache.arrow.flight.Result;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;

/**
 * A worker host as a trainer names it ({@code grpc+tls://data-1:7070}, or {@code grpc://127.0.0.1:7070} for
 * plain gRPC), with the token to show it.
 *
 * @param uri   where it listens
 * @param token the shared secret
 * @param trust PEM certificates to trust for {@code grpc+tls} (a private CA's, or the host's own), or null: the JDK's
 */
public record RemoteHost(URI uri, Token token, java.nio.file.Path trust) {
    /** How often each end pings the other while connected: a host that stops answering is lost within these two. */
    public static final Duration KEEPALIVE = Duration.ofSeconds(10), KEEPALIVE_TIMEOUT = Duration.ofSeconds(5);
    /** How long a connection to a host may take to be made. */
    public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);

    public RemoteHost {
        String scheme = uri.getScheme();
        if (!"grpc".equals(scheme) && !"grpc+tls".equals(scheme) && !"grpc+tcp".equals(scheme)) {
            throw new IllegalArgumentException("remoteWorkers: " + uri + " is not a worker host's address; write grpc+tls://HOST:PORT"
                    + " (or grpc://HOST:PORT for plain gRPC on a trusted network)");
        }
        if (uri.getHost() == null || uri.getPort() < 1) throw new IllegalArgumentException("remoteWorkers: " + uri + " needs a host and a port");
    }

    public static RemoteHost of(String uri, Token token) {
        return of(uri, token, null);
    }

    public static RemoteHost of(String uri, Token token, java.nio.file.Path trust) {
        try {
            return new RemoteHost(URI.create(uri), token, trust);
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("remoteWorkers")) throw e;
            throw new IllegalArgumentException("remoteWorkers: " + uri + " is not an address (" + e.getMessage() + ")", e);
        }
    }

    public boolean tls() {
        return uri.getScheme().equals("grpc+tls");
    }

    /** "data-1:7070", as messages name it. */
    public String name() {
        return uri.getHost() + ":" + uri.getPort();
    }

    Location location() {
        return tls() ? Location.forGrpcTls(uri.getHost(), uri.getPort()) : Location.forGrpcInsecure(uri.getHost(), uri.getPort());
    }

    /** The TLS of its data connections: null for plain grpc. */
    javax.net.ssl.SSLContext dataTls() {
        return tls() ? Tls.client(trust) : null;
    }

    CallOption[] callOptions() {
        FlightCallHeaders h = new FlightCallHeaders();
        h.insert(TokenCheck.AUTHORIZATION.name(), token.header());
        return new CallOption[] {new HeaderCallOption(h)};
    }

    FlightClient client(BufferAllocator allocator) {
        return FlightGrpcUtils.createFlightClient(allocator, channel(allocator)); // closing the client shuts the channel down
    }

    private ManagedChannel channel(BufferAllocator allocator) {
        NettyClientBuilder b = new NettyClientBuilder(allocator, location()).maxInboundMessageSize(Integer.MAX_VALUE);
        if (tls() && trust != null) {
            try {
                // Read now: Flight reads the stream only when the channel is built.
                b.trustedCertificates(new java.io.ByteArrayInputStream(java.nio.file.Files.readAllBytes(trust)));
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException("remoteTls: cannot read " + trust + ": " + e.getMessage(), e);
            }
        }
        // A link cut without a reset sends nothing back: without pings, a call would wait on TCP's
        // retransmissions for many minutes. gRPC's shortest client interval is 10 s; the host allows it.
        return b.build()
                .keepAliveTime(KEEPALIVE.toMillis(), TimeUnit.MILLISECONDS)
                .keepAliveTimeout(KEEPALIVE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                .keepAliveWithoutCalls(true)
                // A host whose link is down drops the connection's first packet too: give up on it as on a refusal.
                .withOption(io.netty.channel.ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) CONNECT_TIMEOUT.toMillis())
                .build();
    }

    /**
     * A client whose connection is made (or has failed) before it is returned. Flight's first message
     * on a call that is not connected yet waits on a spinning core, for as long as the connection takes
     * (up to {@link #CONNECT_TIMEOUT} for a host whose link is down, at each epoch's rejoin); here the
     * wait is asleep. A connection that failed is left to the first call, which says why; one that is
     * still being made after {@link #CONNECT_TIMEOUT} is an error naming the host.
     */
    FlightClient connectedClient(BufferAllocator allocator) {
        ManagedChannel channel = channel(allocator);
        try {
            io.grpc.ConnectivityState state = channel.getState(true);
            long until = System.nanoTime() + CONNECT_TIMEOUT.toNanos();
            while (state == io.grpc.ConnectivityState.IDLE || state == io.grpc.ConnectivityState.CONNECTING) {
                long left = until - System.nanoTime();
                if (left <= 0) {
                    throw new IllegalStateException("the worker host at " + uri + " did not answer: no connection within "
                            + CONNECT_TIMEOUT.toSeconds() + " s (is it running, and is its --port reachable from here?)");
                }
                java.util.concurrent.CountDownLatch changed = new java.util.concurrent.CountDownLatch(1);
                channel.notifyWhenStateChanged(state, changed::countDown);
                changed.await(left, TimeUnit.NANOSECONDS);
                state = channel.getState(false);
            }
            return FlightGrpcUtils.createFlightClient(allocator, channel);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            channel.shutdownNow();
            throw new IllegalStateException("interrupted while connecting to " + uri, e);
        } catch (RuntimeException e) {
            channel.shutdownNow();
            throw e;
        }
    }

    /** How many workers the host runs (its --workers), asked of it now; an error naming the host if it does not answer. */
    public int workers(Duration timeout) {
        try (BufferAllocator a = new RootAllocator(); FlightClient c = client(a)) {
            CallOption[] auth = callOptions();
            CallOption[] options = java.util.Arrays.copyOf(auth, auth.length + 1);
            options[auth.length] = CallOptions.timeout(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            Iterator<Result> results = c.doAction(new Action(HostProtocol.INFO_ACTION), options);
            String info = new String(results.next().getBody(), StandardCharsets.UTF_8);
            while (results.hasNext()) results.next();
            for (String line : info.split("\n")) if (line.startsWith("workers=")) return Integer.parseInt(line.substring(8));
            throw new IllegalStateException("the worker host at " + uri + " did not say how many workers it runs");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while asking " + uri, e);
        } catch (org.apache.arrow.flight.FlightRuntimeException e) {
            throw new IllegalStateException("the worker host at " + uri + " did not answer: " + e.status().code() + " "
                    + e.getMessage() + (e.status().code() == org.apache.arrow.flight.FlightStatusCode.UNAUTHENTICATED
                    ? " (the trainer and the host must share one token)" : ""), e);
        }
    }
}
