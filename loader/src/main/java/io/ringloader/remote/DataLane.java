package io.ringloader.remote;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.time.Duration;

/**
 * One TCP connection of a worker's data connection ({@link DataLink}): lengths and bytes, straight
 * between the socket and the rings' memory over plain TCP, so that only the kernel copies them. Over TLS
 * a 64 KiB buffer stands between the ring and the encryption. One thread reads and one thread writes;
 * {@link #close()} from any thread ends both.
 */
final class DataLane implements AutoCloseable {
    private static final int BUFFER = 64 << 10;

    private final SocketChannel channel;
    private final String peer;
    /** TLS only: the streams over the encrypted socket; null for plain TCP. */
    private final SSLSocket tls;
    private final DataInputStream tlsIn;
    private final DataOutputStream tlsOut;
    private final byte[] readBuffer, writeBuffer;
    /** Plain only (null over TLS): the length before each record. */
    private final ByteBuffer lengthIn, lengthOut;
    /** {@link #close()} was called at this end: what fails afterwards is its doing, not news. */
    private volatile boolean closed;

    private DataLane(SocketChannel channel, SSLSocket tls) throws IOException {
        this.channel = channel;
        this.peer = String.valueOf(channel.getRemoteAddress());
        this.tls = tls;
        this.tlsIn = tls == null ? null : new DataInputStream(new BufferedInputStream(tls.getInputStream(), BUFFER));
        this.tlsOut = tls == null ? null : new DataOutputStream(new BufferedOutputStream(tls.getOutputStream(), BUFFER));
        this.readBuffer = tls == null ? null : new byte[BUFFER];
        this.writeBuffer = tls == null ? null : new byte[BUFFER];
        this.lengthIn = tls == null ? ByteBuffer.allocateDirect(4) : null;
        this.lengthOut = tls == null ? ByteBuffer.allocateDirect(4) : null;
    }

    /**
     * The trainer's end: connects to {@code host:port} and says its hello (the call's ticket, and which of
     * its {@code lanes} lanes this is); returns once the host has taken it. {@code tls} null: plain TCP.
     */
    static DataLane connect(String host, int port, byte[] ticket, int lane, int lanes, SSLContext tls, Duration timeout) throws IOException {
        SocketChannel c = SocketChannel.open();
        try {
            c.setOption(StandardSocketOptions.TCP_NODELAY, true); // a request is a few hundred bytes: send it now
            c.socket().connect(new InetSocketAddress(host, port), (int) timeout.toMillis());
            DataLane l = new DataLane(c, tls == null ? null : handshake(c, tls, host, port, true));
            l.hello(ticket, lane, lanes, timeout);
            return l;
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /**
     * The host's end of a connection just accepted: its TLS handshake (if {@code tls}); then its hello is
     * to be read within {@code timeout} ({@link #readHello()}), and checked before anything else is read.
     */
    static DataLane accept(SocketChannel c, SSLContext tls, Duration timeout) throws IOException {
        c.setOption(StandardSocketOptions.TCP_NODELAY, true);
        c.socket().setSoTimeout((int) timeout.toMillis()); // a caller that says nothing is dropped
        return new DataLane(c, tls == null ? null : handshake(c, tls, null, 0, false));
    }

    private static SSLSocket handshake(SocketChannel c, SSLContext tls, String host, int port, boolean client) throws IOException {
        SSLSocket s = (SSLSocket) tls.getSocketFactory().createSocket(c.socket(), host, port, true);
        s.setUseClientMode(client);
        if (client) {
            SSLParameters p = s.getSSLParameters();
            p.setEndpointIdentificationAlgorithm("HTTPS"); // the certificate must name the host, as gRPC checks it
            s.setSSLParameters(p);
        }
        s.startHandshake();
        return s;
    }

    /** A data connection's hello: the data magic, the call's ticket, the lane's index and the lanes' count. */
    record Hello(byte[] ticket, int lane, int lanes) {}

    private void hello(byte[] ticket, int lane, int lanes, Duration timeout) throws IOException {
        ByteBuffer hello = ByteBuffer.allocate(4 + ticket.length + 8).putInt(HostProtocol.DATA_MAGIC).put(ticket).putInt(lane).putInt(lanes).flip();
        writeRaw(MemorySegment.ofBuffer(hello));
        channel.socket().setSoTimeout((int) timeout.toMillis());
        int answer = readInt(true);
        channel.socket().setSoTimeout(0);
        if (answer != HostProtocol.DATA_MAGIC) throw new IOException("the host at " + peer + " answered the data connection with "
                + (answer == -1 ? "its end" : "0x" + Integer.toHexString(answer)) + ", not ringloader's worker-host protocol 2");
    }

    /** The host's end: the hello, or an IOException saying what came instead. */
    Hello readHello() throws IOException {
        int magic = readInt(true);
        if (magic == -1) throw new EOFException("it closed the connection without a word");
        if (magic != HostProtocol.DATA_MAGIC) throw new IOException("it started with 0x" + Integer.toHexString(magic) + ", not ringloader's data magic");
        byte[] rest = new byte[HostProtocol.TICKET_BYTES + 8];
        readFully(MemorySegment.ofArray(rest));
        ByteBuffer b = ByteBuffer.wrap(rest);
        byte[] ticket = new byte[HostProtocol.TICKET_BYTES];
        b.get(ticket);
        return new Hello(ticket, b.getInt(), b.getInt());
    }

    /** The host's end: the ticket was good; from now on reads wait as long as they need. */
    void welcome() throws IOException {
        channel.socket().setSoTimeout(0);
        ByteBuffer b = ByteBuffer.allocate(4).putInt(HostProtocol.DATA_MAGIC).flip();
        writeRaw(MemorySegment.ofBuffer(b));
    }

    String peer() {
        return peer;
    }

    /** Writes {@code length}, then {@code bytes} (a record's, or its first part when it is split over lanes). */
    void write(int length, MemorySegment bytes) throws IOException {
        if (tls == null) {
            lengthOut.clear().putInt(length).flip();
            ByteBuffer[] both = {lengthOut, bytes.asByteBuffer()};
            while (both[1].hasRemaining() || lengthOut.hasRemaining()) channel.write(both);
        } else {
            tlsOut.writeInt(length);
            writeRaw(bytes);
        }
    }

    /** Writes {@code bytes} alone (a part of a record split over lanes). */
    void writeRaw(MemorySegment bytes) throws IOException {
        if (tls == null) {
            ByteBuffer b = bytes.asByteBuffer();
            while (b.hasRemaining()) channel.write(b);
            return;
        }
        for (long at = 0, n = bytes.byteSize(); at < n; ) {
            int k = (int) Math.min(writeBuffer.length, n - at);
            MemorySegment.copy(bytes, java.lang.foreign.ValueLayout.JAVA_BYTE, at, writeBuffer, 0, k);
            tlsOut.write(writeBuffer, 0, k);
            at += k;
        }
        tlsOut.flush();
    }

    /**
     * The next record's length, or -1 if the other end closed the connection between two records. A
     * connection cut inside a record is an EOFException.
     */
    int readLength() throws IOException {
        int n = readInt(false);
        if (n < -1) throw new IOException("the peer " + peer + " sent a record length of " + n);
        return n;
    }

    /** An int, or -1 at a clean end; through the socket's stream when a read timeout must apply. */
    private int readInt(boolean timed) throws IOException {
        if (tls != null) {
            int first = tlsIn.read();
            if (first < 0) return -1;
            return (first << 24) | (tlsIn.readUnsignedByte() << 16) | (tlsIn.readUnsignedShort());
        }
        if (timed) {
            java.io.InputStream in = channel.socket().getInputStream(); // its reads honour the socket's timeout
            int first = in.read();
            if (first < 0) return -1;
            byte[] rest = in.readNBytes(3);
            if (rest.length < 3) throw new EOFException("the peer " + peer + " closed the connection inside a message");
            return (first << 24) | ((rest[0] & 0xFF) << 16) | ((rest[1] & 0xFF) << 8) | (rest[2] & 0xFF);
        }
        lengthIn.clear();
        while (lengthIn.hasRemaining()) {
            if (channel.read(lengthIn) < 0) {
                if (lengthIn.position() == 0) return -1;
                throw new EOFException("the peer " + peer + " closed the connection inside a record's length");
            }
        }
        return lengthIn.flip().getInt();
    }

    /** Reads exactly {@code into}'s bytes (a record's, or its part on this lane) into it. */
    void readFully(MemorySegment into) throws IOException {
        if (tls == null) {
            ByteBuffer b = into.asByteBuffer();
            while (b.hasRemaining()) {
                if (channel.read(b) < 0) throw new EOFException("the peer " + peer + " closed the connection inside a record");
            }
            return;
        }
        for (long at = 0, n = into.byteSize(); at < n; ) {
            int k = (int) Math.min(readBuffer.length, n - at);
            tlsIn.readFully(readBuffer, 0, k);
            MemorySegment.copy(readBuffer, 0, into, java.lang.foreign.ValueLayout.JAVA_BYTE, at, k);
            at += k;
        }
    }

    /** No more records from this end; the other end reads what was sent, then the end. */
    void shutdownOutput() {
        try {
            if (tls != null) tls.shutdownOutput();
            else channel.shutdownOutput();
        } catch (IOException | UnsupportedOperationException gone) {
            // closed already, or TLS without half-close: the close that follows ends it
        }
    }

    boolean closedHere() {
        return closed;
    }

    @Override
    public void close() {
        closed = true;
        try {
            if (tls != null) tls.close();
            channel.close();
        } catch (IOException ignored) {
            // nothing left to do
        }
    }
}
