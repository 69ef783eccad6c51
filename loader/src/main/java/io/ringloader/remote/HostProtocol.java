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
 * What a trainer and a worker host say to each other, over one Flight {@code DoExchange} per worker.
 * Every message is a Flight message with application metadata only:
 *
 * <pre>
 *   trainer                                   worker host
 *     | -- Open (magic, ring sizes, JVM options, worker config) --> |  starts a process worker of its own
 *     | &lt;-- Opened (magic, the worker's pid, the host's name) ----- |
 *     | -- request record --> ... (as the trainer's ring held it)    |  into the worker's request ring
 *     | &lt;-- batch record ... (as the worker's ring held it) -------- |  from the worker's batch ring
 *     | -- (end of stream) -->                                      |  stops the worker
 * </pre>
 *
 * The records are the rings' own (ringloader's header, then the Arrow batch), byte for byte: a batch from
 * a host is the batch a local worker builds, and the trainer reads it with the same reader. Nothing of a
 * call is read before its token was checked ({@link TokenCheck}); the worker's configuration is read by
 * the worker, and this class decodes only the envelope around it, refusing any length that passes the
 * message's end.
 */
public final class HostProtocol {
    private HostProtocol() {}

    /** "RLH1": a message of this protocol, version 1. */
    static final int MAGIC = 0x524C4831;
    /** The Flight action that tells a trainer how many workers a host runs. */
    public static final String INFO_ACTION = "ringloader.info";

    /**
     * @param requestCapacity bytes of the worker's request ring
     * @param batchCapacity   bytes of its batch ring
     * @param jvmOptions      the trainer's workerJvmOptions
     * @param config          the worker's configuration, as a local process worker gets it
     */
    public record Open(long requestCapacity, long batchCapacity, List<String> jvmOptions, byte[] config) {
        public byte[] encode() {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(config.length + 256);
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeInt(MAGIC);
                out.writeLong(requestCapacity);
                out.writeLong(batchCapacity);
                out.writeInt(jvmOptions.size());
                for (String o : jvmOptions) writeBytes(out, o.getBytes(StandardCharsets.UTF_8));
                writeBytes(out, config);
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
                if (in.available() != 0) throw new IllegalArgumentException(in.available() + " bytes after the end of the message");
                return new Open(request, batch, List.copyOf(options), config);
            } catch (IOException e) {
                throw new IllegalArgumentException("the message is cut short", e);
            }
        }
    }

    /** @param pid the worker's process on the host; @param host the host's name, for messages */
    public record Opened(long pid, String host) {
        public byte[] encode() {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
            try (DataOutputStream out = new DataOutputStream(bytes)) {
                out.writeInt(MAGIC);
                out.writeLong(pid);
                writeBytes(out, host.getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return bytes.toByteArray();
        }

        public static Opened decode(byte[] message) {
            try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(message))) {
                checkMagic(in.readInt(), "Opened");
                return new Opened(in.readLong(), new String(readBytes(in), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new IllegalArgumentException("the host's answer is cut short", e);
            }
        }
    }

    private static void checkMagic(int magic, String what) {
        if (magic != MAGIC) {
            throw new IllegalArgumentException("a " + what + " message starts with 0x" + Integer.toHexString(magic) + ", not 0x"
                    + Integer.toHexString(MAGIC) + " (ringloader's worker-host protocol 1): another program, or another ringloader version");
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
