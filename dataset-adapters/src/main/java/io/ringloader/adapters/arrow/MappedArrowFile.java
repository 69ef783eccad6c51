package io.ringloader.adapters.arrow;

import org.apache.arrow.flatbuf.Block;
import org.apache.arrow.flatbuf.Footer;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

/**
 * An Arrow IPC file, memory-mapped and read in place: its record batches become vectors whose buffers
 * are the file's pages, as in {@code io.ringloader.batch.BatchReader}. The mapping is read-only and
 * lives until {@link #close}; Arrow's loader never writes to data buffers. Its pages are the page
 * cache's: every worker that maps the file shares them, and none holds a copy in its heap.
 */
public final class MappedArrowFile implements AutoCloseable {
    private static final byte[] MAGIC = "ARROW1".getBytes(StandardCharsets.US_ASCII);

    private final Path path;
    private final Arena arena;
    private final MemorySegment map;
    private final Footer footer;
    private final Schema schema;

    private MappedArrowFile(Path path, Arena arena, MemorySegment map, Footer footer) {
        this.path = path;
        this.arena = arena;
        this.map = map;
        this.footer = footer;
        this.schema = Schema.convertSchema(footer.schema());
    }

    /** Maps {@code path} and reads its footer; a clear error names the file when it is missing or not Arrow. */
    public static MappedArrowFile open(Path path) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment map;
            try (FileChannel ch = FileChannel.open(path)) {
                map = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            } catch (NoSuchFileException e) {
                throw new IllegalArgumentException("Arrow IPC file " + path + " does not exist", e);
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot read Arrow IPC file " + path + ": " + e, e);
            }
            long size = map.byteSize();
            if (size < 2L * MAGIC.length + 4 || !magicAt(map, 0) || !magicAt(map, size - MAGIC.length)) {
                throw new IllegalArgumentException(path + " is not an Arrow IPC file (it must start and end with \"ARROW1\";"
                        + " a stream-format file needs ArrowStreamDataset)");
            }
            int footerLength = map.get(JAVA_INT_UNALIGNED, size - MAGIC.length - 4);
            long footerStart = size - MAGIC.length - 4 - footerLength;
            if (footerLength <= 0 || footerStart < MAGIC.length) {
                throw new IllegalArgumentException(path + " is a damaged Arrow IPC file: its footer length " + footerLength + " is impossible");
            }
            Footer footer = Footer.getRootAsFooter(map.asSlice(footerStart, footerLength).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
            return new MappedArrowFile(path, arena, map, footer);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static boolean magicAt(MemorySegment m, long at) {
        for (int i = 0; i < MAGIC.length; i++) if (m.get(java.lang.foreign.ValueLayout.JAVA_BYTE, at + i) != MAGIC[i]) return false;
        return true;
    }

    /** The bytes mapped: the file's size when it was opened. */
    long mappedBytes() {
        return map.byteSize();
    }

    public Path path() {
        return path;
    }

    public Schema schema() {
        return schema;
    }

    /** Rows of each record batch, read from the batches' metadata (no data is touched). */
    public long[] batchRows() {
        long[] rows = new long[footer.recordBatchesLength()];
        for (int b = 0; b < rows.length; b++) rows[b] = recordBatch(b).length();
        return rows;
    }

    private RecordBatch recordBatch(int b) {
        Block block = footer.recordBatches(b);
        long at = block.offset();
        int prefix = map.get(JAVA_INT_UNALIGNED, at) == -1 ? 8 : 4; // continuation marker, or the legacy format
        int length = map.get(JAVA_INT_UNALIGNED, at + prefix - 4);
        Message message = Message.getRootAsMessage(map.asSlice(at + prefix, length).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN));
        if (message.headerType() != MessageHeader.RecordBatch) {
            throw new IllegalArgumentException(path + ": block " + b + " is not a record batch (dictionaries are not supported)");
        }
        return (RecordBatch) message.header(new RecordBatch());
    }

    /** Record batch {@code b} as vectors over the mapped file, in a root of {@code allocator}. */
    public VectorSchemaRoot load(int b, BufferAllocator allocator) {
        Block block = footer.recordBatches(b);
        long bodyAt = block.offset() + block.metaDataLength();
        MemorySegment body = map.asSlice(bodyAt, block.bodyLength());
        ArrowBuf buf = allocator.wrapForeignAllocation(new ForeignAllocation(body.byteSize(), body.address()) {
            @Override
            protected void release0() {
                // the file's arena unmaps it, in close()
            }
        });
        VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator);
        try (ArrowRecordBatch batch = MessageSerializer.deserializeRecordBatch(recordBatch(b), buf)) {
            new VectorLoader(root).load(batch);
        } catch (IOException | RuntimeException e) {
            root.close();
            throw new IllegalArgumentException(path + ": record batch " + b + " is damaged: " + e.getMessage(), e);
        }
        return root;
    }

    /** Unmaps the file. Vectors loaded from it must be closed first. */
    @Override
    public void close() {
        arena.close();
    }

    static List<MappedArrowFile> openAll(List<Path> paths) {
        List<MappedArrowFile> out = new ArrayList<>();
        try {
            for (Path p : paths) out.add(open(p));
        } catch (RuntimeException e) {
            out.forEach(MappedArrowFile::close);
            throw e;
        }
        return out;
    }
}
