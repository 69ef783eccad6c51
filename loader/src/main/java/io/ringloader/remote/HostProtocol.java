package io.ringloader.remote;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What a trainer and a worker host say to each other. Each worker is one Flight {@code DoExchange}, which
 * carries the worker's start and its end, and one data connection of its own, which carries its ring
 * records. This is the shape of Arrow's Dissociated IPC protocol: the messages that say what to do go
 * over Flight, the bytes go over a transport that moves them without gRPC's framing (Flight's receive
 * path copies every byte out of 16 KB HTTP/2 frames, arrow-java#835; here a record goes from the host's
 * ring to the socket and from the socket into the trainer's ring, with the kernel's two copies only).
 *
 * <pre>
 *   trainer                                   worker host
 *     | == DoExchange, token in its headers ===================&gt; |  refused here without the token
 *     | -- Open (magic, ring sizes, JVM options, config, lanes) --&gt; |  starts a process worker of its own
 *     | &lt;-- Opened (magic, worker's pid, host's name, data port,   |
 *     |              a ticket: 32 random bytes for this call)       |
 *     | == TCP (TLS for grpc+tls) to the data port, once per lane ==&gt; |
 *     | -- Hello (data magic, the ticket, lane, lanes) -----------&gt; |  refused here unless the ticket is a
 *     | &lt;-- Hello (data magic) ------------------------------------ |  call's, the lane unused; then bound to it
 *     | -- [length][request record] ... (as the trainer's ring) --&gt; |  into the worker's request ring
 *     | &lt;-- [length][batch record] ... (as the worker's ring) ----- |  from the worker's batch ring
 *     |     (a record of 1 MiB or more: cut in one part per lane, each on its lane)
 *     | -- (end of the DoExchange) --&gt;                              |  stops the worker, closes the connection
 * </pre>
 *
 * The records are the rings' own (ringloader's header, then the Arrow batch), byte for byte: a batch from
 * a host is the batch a local worker builds, and the trainer reads it with the same reader. Nothing of a
 * call is read before its token was checked ({@link TokenCheck}), and nothing of a data connection before
 * its ticket was (the ticket travels inside the authenticated call, is used once, and is forgotten when
 * its call ends). The worker's configuration is read by the worker; this class decodes only the envelope
 * around it, refusing any length that passes the message's end.
 */
public final class HostProtocol {
    private HostProtocol() {}

    /** "RLH2": a message of this protocol, version 2 (version 1 carried the records inside the call). */
    static final int MAGIC = 0x524C4832;
    /** "RLD2": the first bytes each way on a data connection. */
    static final int DATA_MAGIC = 0x524C4432;
    /** The bytes of a data connection's ticket. */
    static final int TICKET_BYTES = 32;
    /** The Flight action that tells a trainer how many workers a host runs. */
    public static final String INFO_ACTION = "ringloader.info";

    /**
     * @param requestCapacity bytes of the worker's request ring
     * @param batchCapacity   bytes of its batch ring
     * @param jvmOptions      the trainer's workerJvmOptions
     * @param config          the worker's configuration, as a local process worker gets it
     * @param lanes           the TCP connections of its data connection (1 to 8; see DataLink)
     */
    public record Open(long requestCapacity, long batchCapacity, List<String> jvmOptions, byte[] config, int lanes) {
        /** With the lanes a trainer of this version opens. */
        public Open(long requestCapacity, long batchCapacity, List<String> jvmOptions, byte[] config) {
            this(requestCapacity, batchCapacity, jvmOptions, config, DataLink.LANES);
        }

        public byte[] encode() {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(config.length + 256);
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeInt(MAGIC);
                out.writeLong(requestCapacity);
                out.writeLong(batchCapacity);
                out.writeInt(jvmOptions.size());
                for (String o : jvmOptions) writeBytes(out, o.getBytes(StandardCharsets.UTF_8));
                writeBytes(out, config);
                out.writeInt(lanes);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return bytes.toByteArray();
        }

        /** The Open in {@code message}, or an IllegalArgumentException saying what is wrong with it. */
        public static Open decode(byte[] message, long mostRingBytes) {
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(message))) {
                checkMagic(in.readInt(), "Open");
                long request = in.readLong(), batch = in.readLong();
                if (request <= 0 || batch <= 0 || request > mostRingBytes || batch > mostRingBytes) {
                    throw new IllegalArgumentException("ring sizes " + request + " and " + batch + " are not in (0, " + mostRingBytes + "]");
                }
                int n = in.readInt();
                if (n < 0 || n > 1000) throw new IllegalArgumentException(n + " JVM options");
                List<String> options = new ArrayList<>(n);
                for (int i = 0; i < n; i++) options.add(new String(readBytes(in), StandardCharsets.UTF_8));
                byte[] config = readBytes(in);
                int lanes = in.readInt();
                if (lanes < 1 || lanes > DataLink.MOST_LANES) throw new IllegalArgumentException(lanes + " lanes, not 1 to " + DataLink.MOST_LANES);
                if (in.available() != 0) throw new IllegalArgumentException(in.available() + " bytes after the end of the message");
                return new Open(request, batch, List.copyOf(options), config, lanes);
            } catch (IOException e) {
                throw new IllegalArgumentException("the message is cut short", e);
            }
        }
    }

    /**
     * @param pid      the worker's process on the host
     * @param host     the host's name, for messages
     * @param dataPort the port of the host's data connections (on the address the trainer called)
     * @param ticket   what the trainer shows on its data connection: {@link #TICKET_BYTES} random bytes
     */
    public record Opened(long pid, String host, int dataPort, byte[] ticket) {
        public byte[] encode() {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeInt(MAGIC);
                out.writeLong(pid);
                writeBytes(out, host.getBytes(StandardCharsets.UTF_8));
                out.writeInt(dataPort);
                writeBytes(out, ticket);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return bytes.toByteArray();
        }

        public static Opened decode(byte[] message) {
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(message))) {
                checkMagic(in.readInt(), "Opened");
                Opened o = new Opened(in.readLong(), new String(readBytes(in), StandardCharsets.UTF_8), in.readInt(), readBytes(in));
                if (o.dataPort() < 1 || o.dataPort() > 65535 || o.ticket().length != TICKET_BYTES) {
                    throw new IllegalArgumentException("the host's answer names data port " + o.dataPort() + " and a ticket of "
                            + o.ticket().length + " bytes");
                }
                return o;
            } catch (IOException e) {
                throw new IllegalArgumentException("the host's answer is cut short", e);
            }
        }
    }

    private static void checkMagic(int magic, String what) {
        if (magic != MAGIC) {
            throw new IllegalArgumentException("a " + what + " message starts with 0x" + Integer.toHexString(magic) + ", not 0x"
                    + Integer.toHexString(MAGIC) + " (ringloader's worker-host protocol 2): another program, or another ringloader version");
        }
    }

    private static void writeBytes(DataOutputStream out, byte[] b) throws IOException {
        out.writeInt(b.length);
        out.write(b);
    }

    /** A length, then that many bytes, refused if the length passes the end of the message. */
    private static byte[] readBytes(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > in.available()) throw new IllegalArgumentException("a length of " + n + " passes the end of the message");
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }
}
