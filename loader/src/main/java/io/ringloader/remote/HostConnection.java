package io.ringloader.remote;

import org.apache.arrow.flight.FlightClient;
import org.apache.arrow.flight.FlightDescriptor;
import org.apache.arrow.flight.FlightRuntimeException;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.LockSupport;
import java.nio.charset.StandardCharsets;

/**
 * A trainer's end of one worker's exchange with a worker host ({@link HostProtocol}): sends ring records
 * up, hands the host's records over one at a time. Not thread-safe beyond one sending thread and one
 * receiving thread.
 */
public final class HostConnection implements AutoCloseable {
    private static final FlightDescriptor WORKER = FlightDescriptor.command("ringloader.worker".getBytes(StandardCharsets.UTF_8));

    private final RemoteHost host;
    private final BufferAllocator allocator = new RootAllocator();
    private final FlightClient client;
    private final FlightClient.ExchangeReaderWriter call;
    private final HostProtocol.Opened opened;
    /** The call has ended: the host ended it, it broke, or the trainer cancelled it. */
    private volatile boolean ended;

    private HostConnection(RemoteHost host, HostProtocol.Open open) {
        this.host = host;
        this.client = host.client(allocator);
        try {
            this.call = client.doExchange(WORKER, host.callOptions());
            send(open.encode());
            if (!call.getReader().next() || call.getReader().getLatestMetadata() == null) {
                throw new IllegalStateException("the worker host at " + host.uri() + " ended the call without starting a worker");
            }
            this.opened = HostProtocol.Opened.decode(bytes(call.getReader().getLatestMetadata()));
        } catch (RuntimeException e) {
            closeQuietly();
            throw e;
        }
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

    /** Sends a record (copied into a buffer that Flight frees once it is on the wire). */
    public void send(MemorySegment record) {
        // Flight's putMetadata spins on a full core until gRPC's stream takes more; wait here asleep instead
        // (on a small machine that core is a worker's). A call that has ended is never ready again: the
        // receiving thread sees it end (a broken connection, or the pings' failure) and says so.
        while (!ended && !call.getWriter().isReady() && !Thread.currentThread().isInterrupted()) LockSupport.parkNanos(50_000);
        put(record);
    }

    private void put(MemorySegment record) {
        long n = record.byteSize();
        ArrowBuf buf = allocator.buffer(n);
        MemorySegment.copy(record, 0, MemorySegment.ofAddress(buf.memoryAddress()).reinterpret(n), 0, n);
        buf.writerIndex(n);
        call.getWriter().putMetadata(buf);
    }

    /** The Open, sent before the connection is made (a call is not ready until then). */
    private void send(byte[] message) {
        put(MemorySegment.ofArray(message));
    }

    /**
     * The host's next record, in place in Flight's buffer (valid until the next call); null when the host
     * ended the call. A broken call throws.
     */
    public MemorySegment next() throws Exception {
        boolean more;
        try {
            more = call.getReader().next();
        } catch (RuntimeException broken) {
            ended = true;
            throw broken;
        }
        if (!more) {
            ended = true;
            return null;
        }
        ArrowBuf m = call.getReader().getLatestMetadata();
        if (m == null) return MemorySegment.NULL;
        return MemorySegment.ofAddress(m.memoryAddress() + m.readerIndex()).reinterpret(m.readableBytes());
    }

    /** The trainer is done with this worker: the host stops it and ends the call. */
    public void complete() {
        try {
            call.getWriter().completed();
        } catch (RuntimeException gone) {
            // the call is already over
        }
    }

    /** Ends the call at once (the host kills its worker). */
    public void cancel() {
        ended = true;
        try {
            call.getReader().cancel("the trainer stopped this worker", null);
        } catch (RuntimeException gone) {
            // already over
        }
    }

    @Override
    public void close() {
        closeQuietly();
    }

    private void closeQuietly() {
        try {
            if (call != null) call.close();
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
            allocator.close();
        } catch (RuntimeException leak) {
            // buffers Flight still holds of a broken call: they go with the JVM
        }
    }

    private static byte[] bytes(ArrowBuf m) {
        byte[] b = new byte[(int) m.readableBytes()];
        m.getBytes(m.readerIndex(), b);
        return b;
    }
}
