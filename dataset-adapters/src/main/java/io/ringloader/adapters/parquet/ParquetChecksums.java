package io.ringloader.adapters.parquet;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.zip.CRC32;

/**
 * Verifies the page checksums of a Parquet file's column chunks, for the pages that carry one (the
 * optional {@code crc} of a {@code PageHeader}: CRC32 of the page's bytes as stored, after compression).
 * Arrow Java's dataset scanner cannot be asked to (its Parquet options are not exposed), so the pages are
 * checked here, from a read-only mapping of the file, before the scanner reads it:
 *
 * <pre>
 *   column chunk := (PageHeader | page bytes: compressed_page_size)*    crc = CRC32(page bytes)
 *   PageHeader   := 1: type, 2: uncompressed_page_size, 3: compressed_page_size, 4: crc (optional), ...
 * </pre>
 *
 * A file without checksums passes: damage that still decodes (values overwritten in a plain-encoded
 * page) cannot be told from data there.
 */
final class ParquetChecksums {
    private ParquetChecksums() {}

    /** What a file's selected columns hold: pages in all, and those with a checksum (all of which matched). */
    record Result(long pages, long checksummed) {}

    /**
     * Checks every page of the chunks of {@code columns} (top-level names; none: all) in {@code file};
     * a page whose checksum does not match is an error naming the file, column, row group, page and bytes.
     */
    static Result verify(Path file, ParquetFooter footer, List<String> columns) {
        long pages = 0, checksummed = 0;
        CRC32 crc = new CRC32();
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment bytes = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            for (int g = 0; g < footer.rowGroups().size(); g++) {
                for (ParquetFooter.Chunk chunk : footer.rowGroups().get(g).chunks()) {
                    if (!selected(chunk.column(), columns)) continue;
                    long end = chunk.start() + chunk.length();
                    if (chunk.start() < 4 || end > bytes.byteSize()) {
                        throw damaged(file, chunk, g, -1, "its column chunk (bytes " + chunk.start() + " to " + end + ") is outside the file's "
                                + bytes.byteSize() + " bytes");
                    }
                    int page = 0;
                    for (long at = chunk.start(); at < end; page++) {
                        ByteBuffer header = bytes.asSlice(at, Math.min(end - at, 1 << 24)).asByteBuffer(); // a header, statistics and all, is far smaller
                        ThriftCompact t = new ThriftCompact(header);
                        int size = -1;
                        Integer expected = null;
                        try {
                            t.beginStruct();
                            for (int f; (f = t.nextField()) >= 0; ) {
                                switch (f) {
                                    case 3 -> size = t.readI32();
                                    case 4 -> expected = t.readI32();
                                    default -> t.skip();
                                }
                            }
                        } catch (RuntimeException e) {
                            throw damaged(file, chunk, g, page, "its page header at byte " + at + " cannot be read (" + e + ")");
                        }
                        long body = at + t.position();
                        if (size < 0 || body + size > end) {
                            throw damaged(file, chunk, g, page, "the page at byte " + at + " claims " + size + " bytes, past its column chunk's end at byte " + end);
                        }
                        pages++;
                        if (expected != null) {
                            crc.reset();
                            crc.update(bytes.asSlice(body, size).asByteBuffer());
                            if ((int) crc.getValue() != expected) {
                                throw damaged(file, chunk, g, page, "its bytes " + body + " to " + (body + size) + " do not match the page's checksum (CRC32 0x"
                                        + Integer.toHexString(expected) + " in the file, 0x" + Integer.toHexString((int) crc.getValue()) + " computed)");
                            }
                            checksummed++;
                        }
                        at = body + size;
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the Parquet file " + file + ": " + e, e);
        }
        return new Result(pages, checksummed);
    }

    /**
     * Whether the first page of every selected column chunk of {@code file}'s first row group carries a
     * checksum: a look at a few page headers, for telling the user once, where {@link #verify} reads every
     * page (which the workers do, each for the files it scans).
     */
    static boolean hasChecksums(Path file, ParquetFooter footer, List<String> columns) {
        if (footer.rowGroups().isEmpty()) return true;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            for (ParquetFooter.Chunk chunk : footer.rowGroups().getFirst().chunks()) {
                if (!selected(chunk.column(), columns)) continue;
                ByteBuffer header = ByteBuffer.allocate((int) Math.min(chunk.length(), 64 << 10));
                ch.read(header, chunk.start());
                ThriftCompact t = new ThriftCompact(header.flip());
                boolean crc = false;
                t.beginStruct();
                for (int f; (f = t.nextField()) >= 0; ) {
                    if (f == 4) crc = true;
                    t.skip();
                }
                if (!crc) return false;
            }
            return true;
        } catch (IOException | RuntimeException e) {
            return false; // a damaged header is the worker's to report, naming the page
        }
    }

    private static boolean selected(String column, List<String> columns) {
        if (columns.isEmpty()) return true;
        for (String c : columns) if (column.equals(c) || column.startsWith(c + ".")) return true;
        return false;
    }

    private static IllegalArgumentException damaged(Path file, ParquetFooter.Chunk chunk, int rowGroup, int page, String what) {
        return new IllegalArgumentException(file + " is a damaged Parquet file: " + (page < 0 ? "" : "page " + page + " of ") + "column '"
                + chunk.column() + "' in row group " + rowGroup + ": " + what + ". Copy the file again from its source.");
    }
}
