package io.ringloader.adapters.parquet;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * What ringloader needs of a Parquet file's footer (its {@code FileMetaData}, Thrift compact at the
 * file's end): the row count, and where each row group's column chunks lie. Read without decoding a
 * page, so that a shard can pass a whole file by its row count.
 *
 * <pre>
 *   "PAR1" | column chunks of row group 0 | ... | FileMetaData | length:int32le | "PAR1"
 * </pre>
 */
record ParquetFooter(long rows, List<RowGroup> rowGroups) {
    private static final byte[] MAGIC = "PAR1".getBytes(StandardCharsets.US_ASCII);

    /** A row group: its rows and its column chunks. */
    record RowGroup(long rows, List<Chunk> chunks) {}

    /** A column chunk: the column's dotted path, and its pages from {@code start} on for {@code length} bytes. */
    record Chunk(String column, long start, long length) {}

    /** Reads {@code file}'s footer; a file that is not Parquet, or whose footer is damaged, is an error naming it. */
    static ParquetFooter read(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 12) throw new IllegalArgumentException(file + " is not a Parquet file: it has " + size + " bytes");
            ByteBuffer tail = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(tail, size - 8);
            if (!tail.slice(4, 4).equals(ByteBuffer.wrap(MAGIC))) {
                throw new IllegalArgumentException(file + " is not a Parquet file: it does not end with PAR1");
            }
            int length = tail.getInt(0);
            if (length <= 0 || length > size - 12) {
                throw new IllegalArgumentException(file + " is a damaged Parquet file: its footer length, " + length + ", does not fit its " + size + " bytes");
            }
            ByteBuffer footer = ByteBuffer.allocate(length);
            ch.read(footer, size - 8 - length);
            return parse(footer.flip());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the Parquet file " + file + ": " + e, e);
        } catch (RuntimeException e) {
            if (e instanceof IllegalArgumentException && e.getMessage() != null && e.getMessage().startsWith(file.toString())) throw e;
            throw new IllegalArgumentException(file + " is a damaged Parquet file: its footer cannot be read (" + e + ")", e);
        }
    }

    private static ParquetFooter parse(ByteBuffer footer) {
        ThriftCompact t = new ThriftCompact(footer);
        long rows = -1;
        List<RowGroup> groups = new ArrayList<>();
        t.beginStruct();
        for (int f; (f = t.nextField()) >= 0; ) {
            switch (f) {
                case 3 -> rows = t.readI64();
                case 4 -> {
                    int n = t.beginList();
                    for (int i = 0; i < n; i++) groups.add(rowGroup(t));
                }
                default -> t.skip();
            }
        }
        if (rows < 0) throw new IllegalArgumentException("the footer has no row count");
        return new ParquetFooter(rows, List.copyOf(groups));
    }

    private static RowGroup rowGroup(ThriftCompact t) {
        long rows = -1;
        List<Chunk> chunks = new ArrayList<>();
        t.beginStruct();
        for (int f; (f = t.nextField()) >= 0; ) {
            switch (f) {
                case 1 -> {
                    int n = t.beginList();
                    for (int i = 0; i < n; i++) chunks.add(chunk(t));
                }
                case 3 -> rows = t.readI64();
                default -> t.skip();
            }
        }
        return new RowGroup(rows, List.copyOf(chunks));
    }

    /** A ColumnChunk; its ColumnMetaData (field 3) says where its pages are. */
    private static Chunk chunk(ThriftCompact t) {
        String column = "?";
        long dataPage = -1, dictionaryPage = -1, length = -1;
        t.beginStruct();
        for (int f; (f = t.nextField()) >= 0; ) {
            if (f != 3) {
                t.skip();
                continue;
            }
            t.beginStruct();
            for (int m; (m = t.nextField()) >= 0; ) {
                switch (m) {
                    case 3 -> column = path(t);
                    case 7 -> length = t.readI64();
                    case 9 -> dataPage = t.readI64();
                    case 11 -> dictionaryPage = t.readI64();
                    default -> t.skip();
                }
            }
        }
        // A dictionary page, when there is one, comes first; some writers put 0 there to mean none.
        long start = dictionaryPage > 0 && dictionaryPage < dataPage ? dictionaryPage : dataPage;
        return new Chunk(column, start, length);
    }

    private static String path(ThriftCompact t) {
        int n = t.beginList();
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < n; i++) {
            if (i > 0) s.append('.');
            s.append(t.readString());
        }
        return s.toString();
    }
}
