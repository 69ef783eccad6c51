package io.ringloader.worker;

import io.ringloader.batch.ColumnLayout;
import io.ringloader.data.Columns;
import io.ringloader.data.Padding;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a worker needs to start: the dataset recipe (serialized), the bytes of classes it may not find on
 * its own class path, the layout of a batch's columns, who it is, and the CPU to pin it to (-1: none).
 *
 * <p>It travels to a process worker in a plain binary form of its own ({@link #encode}, {@link #decode}),
 * not through Java serialization: reading records with {@code ObjectInputStream} spins method handles
 * for their constructors, ~50 ms of a fresh worker JVM's start-up before the first batch. Only the
 * user's dataset, inside {@code dataset}, goes through Java serialization.
 */
record WorkerConfig(byte[] dataset, Map<String, byte[]> classes, List<ColumnLayout> columns, int workerId, int numWorkers, long seed,
                    int shardIndex, int shardCount, int cpu, long timeoutMillis) {

    /** Leads the encoded form: a worker of another ringloader version fails clearly instead of misreading. */
    private static final int MAGIC = 0x524C4334; // "RLC4": strings as length and UTF-8 bytes; columns with role, padding and packing

    byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(dataset.length + 256);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(MAGIC);
            out.writeInt(dataset.length);
            out.write(dataset);
            out.writeInt(classes.size());
            for (Map.Entry<String, byte[]> c : classes.entrySet()) {
                writeString(out, c.getKey());
                out.writeInt(c.getValue().length);
                out.write(c.getValue());
            }
            out.writeInt(columns.size());
            for (ColumnLayout c : columns) {
                writeString(out, c.name());
                out.writeByte(c.kind().ordinal());
                out.writeByte(c.dtype() == null ? -1 : c.dtype().ordinal());
                out.writeInt(c.count());
                out.writeByte(c.role().ordinal());
                out.writeInt(c.source());
                Padding p = c.padding();
                out.writeBoolean(p != null);
                if (p != null) {
                    out.writeInt(p.length());
                    out.writeDouble(p.value());
                    out.writeBoolean(p.truncates());
                    out.writeBoolean(p.mask());
                    out.writeBoolean(p.packs());
                    out.writeInt(p.rows());
                }
            }
            out.writeInt(workerId);
            out.writeInt(numWorkers);
            out.writeLong(seed);
            out.writeInt(shardIndex);
            out.writeInt(shardCount);
            out.writeInt(cpu);
            out.writeLong(timeoutMillis);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a ByteArrayOutputStream does not fail
        }
        return bytes.toByteArray();
    }

    static WorkerConfig decode(byte[] encoded) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(encoded))) {
            int magic = in.readInt();
            if (magic != MAGIC) {
                throw new IllegalStateException("the worker's configuration starts with 0x" + Integer.toHexString(magic) + ", not 0x"
                        + Integer.toHexString(MAGIC) + ": the trainer and this worker run different ringloader versions (check the class path)");
            }
            byte[] dataset = bytes(in);
            int classCount = in.readInt();
            Map<String, byte[]> classes = new LinkedHashMap<>();
            for (int i = 0; i < classCount; i++) classes.put(readString(in), bytes(in));
            int columnCount = in.readInt();
            List<ColumnLayout> columns = new ArrayList<>(columnCount);
            for (int i = 0; i < columnCount; i++) {
                String name = readString(in);
                ColumnLayout.Kind kind = ColumnLayout.Kind.values()[in.readByte()];
                int dtype = in.readByte();
                int count = in.readInt();
                ColumnLayout.Role role = ColumnLayout.Role.values()[in.readByte()];
                int source = in.readInt();
                Padding padding = in.readBoolean() ? new Padding(in.readInt(), in.readDouble(), in.readBoolean(), in.readBoolean(),
                        in.readBoolean(), in.readInt()) : null;
                columns.add(new ColumnLayout(name, kind, dtype < 0 ? null : Columns.DType.values()[dtype], count, role, source, padding));
            }
            return new WorkerConfig(dataset, classes, List.copyOf(columns), in.readInt(), in.readInt(), in.readLong(),
                    in.readInt(), in.readInt(), in.readInt(), in.readLong());
        } catch (IOException | ArrayIndexOutOfBoundsException e) {
            throw new IllegalStateException("the worker's configuration is cut short or malformed: " + e.getMessage(), e);
        }
    }

    /**
     * A string as its UTF-8 bytes after their length (not {@code writeUTF}, whose 64 KB limit a CSV
     * header or a wide schema's column names can pass).
     */
    private static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static String readString(DataInputStream in) throws IOException {
        return new String(bytes(in), StandardCharsets.UTF_8);
    }

    /** A length, then that many bytes; an EOFException if they are not all there. */
    private static byte[] bytes(DataInputStream in) throws IOException {
        int n = in.readInt();
        // A length past the end is a configuration cut short (or not one at all: a worker host reads what a network sent).
        if (n < 0 || n > in.available()) throw new java.io.EOFException("a length of " + n + " passes the end of the configuration");
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }
}
