package io.ringloader.remote;

import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightDescriptor;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * A trainer's end of one worker on a worker host ({@link HostProtocol}): the Flight call that started it,
 * and its data connection, which carries the ring records both ways. One thread sends, one receives.
 *
 * <p>A thread of its own waits on the call. The call carries nothing after its start, but it is what
 * notices a host that is gone: gRPC's pings ({@link RemoteHost#KEEPALIVE}) go unanswered on a cut link,
 * where a TCP connection would wait on its retransmissions for many minutes. When the call ends, the
 * records already received are still read, and then the data connection is closed.
 */
public final class HostConnection implements AutoCloseable {
    private static final FlightDescriptor WORKER = FlightDescriptor.command("ringloader.worker".getBytes(StandardCharsets.UTF_8));
    /** How long the records already on their way get to arrive once the call has ended. */
    private static final long DRAIN_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final RemoteHost host;
    private final BufferAllocator allocator = new RootAllocator();
    private final FlightClient client;
    private final FlightClient.ExchangeReaderWriter call;
    private final HostProtocol.Opened opened;
    private final DataLink link;
    private final Thread watch;
    /** Why the call ended, once it has (null while it runs). */
    private volatile String callEnd;
    /** The receiving side has seen the data connection's end. */
    private volatile boolean received;

    private HostConnection(RemoteHost host, HostProtocol.Open open) {
        this.host = host;
        try {
            this.client = host.connectedClient(allocator);
        } catch (RuntimeException e) {
            allocator.close();
            throw e;
        }
        FlightClient.ExchangeReaderWriter c = null;
        DataLink l = null;
        try {
            c = client.doExchange(WORKER, host.callOptions());
            put(c, open.encode());
            if (!c.getReader().next() || c.getReader().getLatestMetadata() == null) {
                throw new IllegalStateException("the worker host at " + host.uri() + " ended the call without starting a worker");
            }
            this.opened = HostProtocol.Opened.decode(bytes(c.getReader().getLatestMetadata()));
            try {
                l = DataLink.connect(host.uri().getHost(), opened.dataPort(), opened.ticket(), open.lanes(), host.dataTls(),
                        RemoteHost.CONNECT_TIMEOUT);
            } catch (IOException e) {
                throw new IllegalStateException("the worker host at " + host.uri() + " started worker pid " + opened.pid()
                        + ", but its data port " + opened.dataPort() + " cannot be reached (" + e.getMessage()
                        + "): a firewall between them must let the host's --data-port through as well as its --port", e);
            }
        } catch (RuntimeException e) {
            closeQuietly(c, null);
            throw e;
        }
        this.call = c;
        this.link = l;
        this.watch = Thread.ofPlatform().daemon().name("ringloader-remote-call-" + host.name()).start(this::watch);
    }

    /** Asks {@code host} to start a worker with {@code open}; returns once it did, or throws what the host said. */
    public static HostConnection open(RemoteHost host, HostProtocol.Open open) {
        try {
            return new HostConnection(host, open);
        } catch (FlightRuntimeException e) {
            throw new IllegalStateException("the worker host at " + host.uri() + " could not start a worker: " + e.status().code() + " "
                    + e.getMessage(), e);
        }
    }

    public HostProtocol.Opened opened() {
        return opened;
    }

    public RemoteHost host() {
        return host;
    }

    /** Sends a record; waits while the host's end is full (its worker's request ring, then TCP's window). */
    public void send(MemorySegment record) throws IOException {
        link.write(record);
    }

    /** The length of the host's next record, or -1 when the host has ended the connection. A broken one throws. */
    public int nextLength() throws IOException {
        try {
            int n = link.readLength();
            if (n < 0) received = true;
            return n;
        } catch (IOException e) {
            received = true;
            throw e;
        }
    }

    /** The record whose length {@link #nextLength()} gave, read into {@code into}, which has exactly that size. */
    public void read(MemorySegment into) throws IOException {
        try {
            link.readFully(into);
        } catch (IOException e) {
            received = true;
            throw e;
        }
    }

    /**
     * Why the host's call ended: waits up to a second for it (a data connection that ends a moment before
     * its call), then null if the call is still up.
     */
    public String callEnd() {
        long until = System.nanoTime() + DRAIN_NANOS;
        while (callEnd == null && System.nanoTime() < until) LockSupport.parkNanos(10_000_000L);
        return callEnd;
    }

    private void watch() {
        String why;
        try {
            while (call.getReader().next()) {
                // the host sends nothing more on the call
            }
            why = "the host ended the call";
        } catch (RuntimeException e) {
            why = e.getMessage() == null ? e.toString() : e.getMessage();
        }
        callEnd = why;
        long until = System.nanoTime() + DRAIN_NANOS;
        while (!received && System.nanoTime() < until) LockSupport.parkNanos(10_000_000L);
        link.close(); // a receiver still waiting (a cut link: no end ever comes) is woken by the close
    }

    /** The trainer is done with this worker: the host stops it and ends the call. */
    public void complete() {
        try {
            call.getWriter().completed();
        } catch (RuntimeException gone) {
            // the call is already over
        }
    }

    /** Ends the call and the connection at once (the host kills its worker). */
    public void cancel() {
        try {
            call.getReader().cancel("the trainer stopped this worker", null);
        } catch (RuntimeException gone) {
            // already over
        }
        link.close();
    }

    @Override
    public void close() {
        link.close();
        closeQuietly(call, watch);
    }

    private void closeQuietly(FlightClient.ExchangeReaderWriter c, Thread watcher) {
        try {
            if (c != null) c.close();
        } catch (Exception ignored) {
            // a broken call's close reports its error again
        }
        try {
            client.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception ignored) {
            // nothing left to do
        }
        try {
            if (watcher != null) watcher.join(2000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            allocator.close();
        } catch (RuntimeException leak) {
            // buffers Flight still holds of a broken call: they go with the JVM
        }
    }

    /** The Open: sent before the connection is made (Flight sends it once it is). */
    private void put(FlightClient.ExchangeReaderWriter c, byte[] message) {
        ArrowBuf buf = allocator.buffer(message.length);
        buf.setBytes(0, message);
        buf.writerIndex(message.length);
        c.getWriter().putMetadata(buf);
    }

    private static byte[] bytes(ArrowBuf m) {
        byte[] b = new byte[(int) m.readableBytes()];
        m.getBytes(m.readerIndex(), b);
        return b;
    }
}
