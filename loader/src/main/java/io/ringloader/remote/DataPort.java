package io.ringloader.remote;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A worker host's listener for data connections ({@link HostProtocol}). A call that has started its
 * worker asks for a {@link Ticket}, sends it to its trainer inside the authenticated call, and waits for
 * the connections that show it, one per lane of its {@link DataLink}. A connection is read only as far
 * as its hello (a magic, a ticket, its lane and the lanes' count: 44 bytes, within {@link #HELLO_TIMEOUT});
 * one whose ticket is not a waiting call's, or whose lane is not one the call still waits for, is closed,
 * logged with its peer's address and counted. Each lane of a ticket is taken once, and the ticket is
 * forgotten when its lanes are all there or its call gives up.
 */
final class DataPort implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DataPort.class);
    /** How long a new connection has to say its hello. */
    static final Duration HELLO_TIMEOUT = Duration.ofSeconds(10);
    /** Connections not yet past their hello, at most: more are closed at once. */
    private static final int MOST_HELLOS = 64;

    /** One call's ticket, the lanes that showed it so far, and its data connection once they all have. */
    record Ticket(byte[] bytes, DataLane[] arrived, CompletableFuture<DataLink> link) {}

    private final ServerSocketChannel server;
    private final SSLContext tls;
    private final String hostName;
    private final Set<Ticket> waiting = ConcurrentHashMap.newKeySet();
    private final Set<DataLink> open = ConcurrentHashMap.newKeySet();
    /** Connections still saying their hello: closed with the port, so that none outlives it. */
    private final Set<SocketChannel> greeting = ConcurrentHashMap.newKeySet();
    private final Semaphore hellos = new Semaphore(MOST_HELLOS);
    private final AtomicLong refused = new AtomicLong();
    private final SecureRandom random = new SecureRandom();
    private final Thread acceptor;

    DataPort(String bind, int port, SSLContext tls, String hostName) throws IOException {
        this.server = ServerSocketChannel.open().bind(new InetSocketAddress(bind, port));
        this.tls = tls;
        this.hostName = hostName;
        this.acceptor = Thread.ofPlatform().daemon().name("ringloader-host-data-accept").start(this::acceptLoop);
    }

    int port() {
        return server.socket().getLocalPort();
    }

    /** Data connections refused so far (no hello, a wrong or used ticket, garbage). */
    long refused() {
        return refused.get();
    }

    /** A new ticket for one call whose data connection has {@code lanes} lanes: show it to the trainer, then {@link #await} it. */
    Ticket expect(int lanes) {
        byte[] b = new byte[HostProtocol.TICKET_BYTES];
        random.nextBytes(b);
        Ticket t = new Ticket(b, new DataLane[lanes], new CompletableFuture<>());
        waiting.add(t);
        return t;
    }

    /**
     * The connection that showed {@code t}, once it came; an IllegalStateException after {@code timeout} or
     * once {@code givenUp} says the call is over. The ticket is forgotten either way.
     */
    DataLink await(Ticket t, Duration timeout, java.util.function.BooleanSupplier givenUp) throws InterruptedException {
        long until = System.nanoTime() + timeout.toNanos();
        try {
            while (System.nanoTime() < until && !givenUp.getAsBoolean()) {
                try {
                    DataLink link = t.link().get(50, java.util.concurrent.TimeUnit.MILLISECONDS);
                    if (link == null) throw new IllegalStateException("the trainer's data connection broke as it was made");
                    open.add(link);
                    return link;
                } catch (java.util.concurrent.TimeoutException notYet) {
                    // look again
                } catch (java.util.concurrent.ExecutionException impossible) {
                    throw new IllegalStateException(impossible.getCause());
                }
            }
        } finally {
            waiting.remove(t);
            synchronized (t) { // the lanes that came, or a link made in the last instant, of a call that gave up are closed
                if (!t.link().complete(null)) {
                    DataLink late = t.link().getNow(null);
                    if (late != null && !open.contains(late)) late.close();
                } else {
                    for (DataLane l : t.arrived()) if (l != null) l.close();
                }
            }
        }
        throw new IllegalStateException("the trainer did not open its data connection to port " + port() + " within "
                + timeout.toSeconds() + " s (can it reach this port? a host behind a firewall needs --data-port open as well as --port)");
    }

    /** Done with a call's connection. */
    void closed(DataLink link) {
        open.remove(link);
        link.close();
    }

    private void acceptLoop() {
        while (server.isOpen()) {
            SocketChannel c;
            try {
                c = server.accept();
            } catch (ClosedChannelException closing) {
                return;
            } catch (IOException e) {
                LOG.warn("ringloader worker-host {}: accepting a data connection failed: {}", hostName, e.toString());
                continue;
            }
            if (!hellos.tryAcquire()) {
                refuse(c, String.valueOf(remote(c)), MOST_HELLOS + " connections are already saying their hello");
                continue;
            }
            greeting.add(c);
            Thread.ofVirtual().name("ringloader-host-data-hello").start(() -> {
                try {
                    hello(c);
                } finally {
                    greeting.remove(c);
                    hellos.release();
                }
            });
        }
    }

    private void hello(SocketChannel c) {
        String peer = String.valueOf(remote(c));
        DataLane lane;
        DataLane.Hello said;
        try {
            lane = DataLane.accept(c, tls, HELLO_TIMEOUT);
            said = lane.readHello();
        } catch (IOException | RuntimeException e) {
            refuse(c, peer, e.getMessage() == null ? e.toString() : e.getMessage());
            return;
        }
        // Every waiting ticket is compared, each in constant time: how long this takes says nothing of them.
        Ticket match = null;
        for (Ticket t : waiting) if (MessageDigest.isEqual(t.bytes(), said.ticket())) match = t;
        if (match == null) {
            refuse(c, peer, "its ticket is not one this host gave out, or was used already"); // counted before the peer sees the close
            lane.close();
            return;
        }
        synchronized (match) {
            int lanes = match.arrived().length;
            String wrong = said.lanes() != lanes || said.lane() < 0 || said.lane() >= lanes
                    ? "it says it is lane " + said.lane() + " of " + said.lanes() + "; its call has " + lanes
                    : match.arrived()[said.lane()] != null || match.link().isDone() ? "lane " + said.lane() + " of its ticket came already" : null;
            if (wrong != null) {
                refuse(c, peer, wrong);
                lane.close();
                return;
            }
            try {
                lane.welcome();
            } catch (IOException e) {
                lane.close();
                LOG.warn("ringloader worker-host {}: the data connection from {} broke at once: {}", hostName, peer, e.getMessage());
                return; // its call waits on, and gives up at its timeout
            }
            match.arrived()[said.lane()] = lane;
            if (java.util.Arrays.stream(match.arrived()).allMatch(java.util.Objects::nonNull)) {
                waiting.remove(match);
                DataLink link = new DataLink(match.arrived());
                if (!match.link().complete(link)) link.close(); // its call gave up in the meantime
            }
        }
    }

    private void refuse(SocketChannel c, String peer, String why) {
        refused.incrementAndGet();
        LOG.warn("ringloader worker-host {}: refused a data connection from {}: {}", hostName, peer, why);
        try {
            c.close();
        } catch (IOException ignored) {
            // closed anyway
        }
    }

    private static Object remote(SocketChannel c) {
        try {
            return c.getRemoteAddress();
        } catch (IOException e) {
            return "an unknown peer";
        }
    }

    @Override
    public void close() throws InterruptedException {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        acceptor.join(2000);
        for (SocketChannel c : greeting) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closed anyway
            }
        }
        open.forEach(DataLink::close);
        waiting.forEach(t -> t.link().complete(null));
    }
}
