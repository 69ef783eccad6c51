package io.ringloader.batch;

import com.google.flatbuffers.FlatBufferBuilder;
import org.apache.arrow.flatbuf.Buffer;
import org.apache.arrow.flatbuf.FieldNode;
import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.MetadataVersion;
import org.apache.arrow.flatbuf.RecordBatch;
import java.util.List;

/**
 * Where the Arrow buffers of a batch go, for one sample schema. The same on both sides of the ring.
 *
 * <p>A batch record reserves {@link #metaReserve()} bytes after the {@link RecordHeader} for the IPC
 * message metadata, whose size does not depend on the values (the flatbuffer is built with defaults
 * forced), and then the body: for a capacity of {@code C} rows, every column's fixed-size buffers in
 * schema order, each 64-byte aligned, then one data area per variable-length column (bytes, or a
 * sequence's values), which may move to the end of the record when it outgrows its first estimate.
 * What only the batch's end decides goes last, when the batch is committed: a sequence's validity
 * bitmaps (sized by its element count), and a padded sequence's dense values and mask.
 */
public final class BatchLayout {
    public static final int ALIGN = 64;

    private final List<ColumnLayout> columns;
    private final int nodeCount;
    private final int bufferCount;
    private final int metaReserve;

    public BatchLayout(List<ColumnLayout> columns) {
        this.columns = List.copyOf(columns);
        int nodes = 0, buffers = 0;
        for (ColumnLayout c : columns) {
            nodes += switch (c.kind()) {
                case FIXED, BOOL, VARIABLE -> 1;
                case TENSOR -> 2;
                case SEQUENCE -> c.hasSteps() ? 3 : 2;
            };
            buffers += switch (c.kind()) {
                case FIXED, BOOL -> 2;
                case VARIABLE, TENSOR -> 3;
                case SEQUENCE -> c.hasSteps() ? 5 : 4;
            };
        }
        this.nodeCount = nodes;
        this.bufferCount = buffers;
        FlatBufferBuilder fbb = newBuilder();
        int size = writeMessage(fbb, 0, new long[nodes * 2], new long[buffers * 2], 0);
        this.metaReserve = (int) align(8 + size);
    }

    public List<ColumnLayout> columns() {
        return columns;
    }

    public int nodeCount() {
        return nodeCount;
    }

    public int bufferCount() {
        return bufferCount;
    }

    /** Bytes after the record header for the IPC metadata (continuation, length, flatbuffer, padding). */
    public int metaReserve() {
        return metaReserve;
    }

    /** Offset of the body from the start of the record. */
    public long bodyOffset() {
        return RecordHeader.LENGTH + metaReserve;
    }

    /** Bytes of one validity bitmap for {@code rows} rows, rounded up to the alignment. */
    static long bitmapBytes(long rows) {
        return align((rows + 7) / 8);
    }

    /** Body bytes of the fixed-size buffers (all but the variable-length data areas) for {@code rows} rows. */
    public long fixedBodyBytes(int rows) {
        long n = 0;
        for (ColumnLayout c : columns) {
            n += switch (c.kind()) {
                case FIXED -> bitmapBytes(rows) + align((long) rows * c.width());
                case BOOL -> 2 * bitmapBytes(rows);
                case VARIABLE, SEQUENCE -> bitmapBytes(rows) + align(4L * (rows + 1));
                case TENSOR -> bitmapBytes(rows) + bitmapBytes((long) rows * c.count()) + align((long) rows * c.slotBytes());
            };
        }
        return n;
    }

    public static long align(long n) {
        return (n + ALIGN - 1) & -ALIGN;
    }

    static FlatBufferBuilder newBuilder() {
        FlatBufferBuilder fbb = new FlatBufferBuilder(1024);
        fbb.forceDefaults(true);
        return fbb;
    }

    /**
     * Builds the IPC {@code Message} of a record batch into {@code fbb} and returns its size in bytes.
     *
     * @param nodes   (length, nullCount) pairs, depth-first
     * @param buffers (offset, length) pairs relative to the body, in IPC order
     */
    int writeMessage(FlatBufferBuilder fbb, long rows, long[] nodes, long[] buffers, long bodyLength) {
        fbb.clear();
        RecordBatch.startNodesVector(fbb, nodeCount);
        for (int i = nodeCount - 1; i >= 0; i--) FieldNode.createFieldNode(fbb, nodes[2 * i], nodes[2 * i + 1]);
        int nodesOffset = fbb.endVector();
        RecordBatch.startBuffersVector(fbb, bufferCount);
        for (int i = bufferCount - 1; i >= 0; i--) Buffer.createBuffer(fbb, buffers[2 * i], buffers[2 * i + 1]);
        int buffersOffset = fbb.endVector();
        RecordBatch.startRecordBatch(fbb);
        RecordBatch.addLength(fbb, rows);
        RecordBatch.addNodes(fbb, nodesOffset);
        RecordBatch.addBuffers(fbb, buffersOffset);
        int batch = RecordBatch.endRecordBatch(fbb);
        Message.startMessage(fbb);
        Message.addVersion(fbb, MetadataVersion.V5);
        Message.addHeaderType(fbb, MessageHeader.RecordBatch);
        Message.addHeader(fbb, batch);
        Message.addBodyLength(fbb, bodyLength);
        fbb.finish(Message.endMessage(fbb));
        return fbb.offset();
    }
}
