package io.ringloader.it.adapters;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32;

/**
 * Writes Parquet files whose pages carry checksums, which Arrow Java's writer cannot be asked for: one
 * row group, columns {@code id} (int64) and {@code name} (utf8, "row-" + id), both required, plain
 * encoding, uncompressed, {@code rowsPerPage} rows a data page (v1), each page's header holding the
 * CRC32 of its bytes. Small, and written from the format's spec (parquet.thrift), not from a library.
 */
final class ChecksummedParquet {
    private ChecksummedParquet() {}

    private static final int INT64 = 2, BYTE_ARRAY = 6, REQUIRED = 0, UTF8 = 0, PLAIN = 0, RLE = 3, DATA_PAGE = 0, UNCOMPRESSED = 0;

    static Path write(Path file, long firstId, int rows, int rowsPerPage) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write("PAR1".getBytes(StandardCharsets.US_ASCII));
        List<long[]> chunks = new ArrayList<>(); // {start, length} per column
        for (int column = 0; column < 2; column++) {
            long start = out.size();
            for (int from = 0; from < rows; from += rowsPerPage) {
                int n = Math.min(rowsPerPage, rows - from);
                ByteArrayOutputStream page = new ByteArrayOutputStream();
                for (long id = firstId + from; id < firstId + from + n; id++) {
                    if (column == 0) {
                        page.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(id).array());
                    } else {
                        byte[] s = ("row-" + id).getBytes(StandardCharsets.UTF_8);
                        page.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(s.length).array());
                        page.write(s);
                    }
                }
                byte[] body = page.toByteArray();
                CRC32 crc = new CRC32();
                crc.update(body);
                Thrift h = new Thrift();
                h.i32(1, DATA_PAGE).i32(2, body.length).i32(3, body.length).i32(4, (int) crc.getValue());
                h.struct(5).i32(1, n).i32(2, PLAIN).i32(3, RLE).i32(4, RLE).end();
                h.end();
                out.write(h.bytes());
                out.write(body);
            }
            chunks.add(new long[] {start, out.size() - start});
        }
        Thrift m = new Thrift();
        m.i32(1, 1);
        m.list(2, Thrift.STRUCT, 3);
        m.element().string(4, "schema").i32(5, 2).end();
        m.element().i32(1, INT64).i32(3, REQUIRED).string(4, "id").end();
        m.element().i32(1, BYTE_ARRAY).i32(3, REQUIRED).string(4, "name").i32(6, UTF8).end();
        m.i64(3, rows);
        m.list(4, Thrift.STRUCT, 1);
        m.element().list(1, Thrift.STRUCT, 2);
        String[] names = {"id", "name"};
        int[] types = {INT64, BYTE_ARRAY};
        for (int c = 0; c < 2; c++) {
            long start = chunks.get(c)[0], length = chunks.get(c)[1];
            m.element().i64(2, start).struct(3)
                    .i32(1, types[c]).list(2, Thrift.I32, 2).i32Element(PLAIN).i32Element(RLE)
                    .list(3, Thrift.BINARY, 1).stringElement(names[c])
                    .i32(4, UNCOMPRESSED).i64(5, rows).i64(6, length).i64(7, length).i64(9, start)
                    .end().end();
        }
        m.i64(2, chunks.get(0)[1] + chunks.get(1)[1]).i64(3, rows).end(); // the row group
        m.string(6, "ringloader tests");
        m.end();
        byte[] footer = m.bytes();
        out.write(footer);
        out.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(footer.length).array());
        out.write("PAR1".getBytes(StandardCharsets.US_ASCII));
        return Files.write(file, out.toByteArray());
    }

    /** Thrift's compact protocol, the parts the file above needs: fields in increasing id order, structs and lists. */
    private static final class Thrift {
        static final int I32 = 5, I64 = 6, BINARY = 8, LIST = 9, STRUCT = 12;
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final java.util.ArrayDeque<Integer> lastIds = new java.util.ArrayDeque<>(List.of(0));

        private void field(int id, int type) {
            int delta = id - lastIds.peek();
            if (delta > 0 && delta <= 15) {
                out.write(delta << 4 | type);
            } else {
                out.write(type);
                varint(zigzag(id));
            }
            lastIds.pop();
            lastIds.push(id);
        }

        Thrift i32(int id, int v) {
            field(id, I32);
            varint(zigzag(v));
            return this;
        }

        Thrift i64(int id, long v) {
            field(id, I64);
            varint(zigzag(v));
            return this;
        }

        Thrift string(int id, String s) {
            field(id, BINARY);
            stringElement(s);
            return this;
        }

        Thrift struct(int id) {
            field(id, STRUCT);
            lastIds.push(0);
            return this;
        }

        /** Starts a struct that is a list's element (no field header). */
        Thrift element() {
            lastIds.push(0);
            return this;
        }

        Thrift end() {
            out.write(0);
            lastIds.pop();
            return this;
        }

        Thrift list(int id, int elementType, int size) {
            field(id, LIST);
            if (size < 15) {
                out.write(size << 4 | elementType);
            } else {
                out.write(0xf0 | elementType);
                varint(size);
            }
            return this;
        }

        Thrift i32Element(int v) {
            varint(zigzag(v));
            return this;
        }

        Thrift stringElement(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            varint(b.length);
            out.writeBytes(b);
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }

        private void varint(long v) {
            while ((v & ~0x7fL) != 0) {
                out.write((int) (v & 0x7f) | 0x80);
                v >>>= 7;
            }
            out.write((int) v);
        }

        private static long zigzag(long v) {
            return (v << 1) ^ (v >> 63);
        }
    }
}
