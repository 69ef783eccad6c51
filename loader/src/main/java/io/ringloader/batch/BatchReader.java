package io.ringloader.batch;

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
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Turns a batch record in the ring into a {@link VectorSchemaRoot} whose data buffers are the record's
 * own bytes in shared memory: no copy. The record's space goes back to the worker when the last buffer
 * is released (closing the root does that).
 *
 * <p>Everything is read in place: values, offsets, variable-length bytes, tensors, and validity bitmaps
 * (the worker writes them even for a column without nulls; given none, Arrow Java would allocate and
 * fill one per column in the trainer, for every batch).
 */
public final class BatchReader {
    private final Schema schema;
    private final BufferAllocator allocator;

    public BatchReader(Schema schema, BufferAllocator allocator) {
        this.schema = schema;
        this.allocator = allocator;
    }

    /**
     * The batch in {@code record} (a record of kind {@link RecordHeader#BATCH}) as Arrow vectors over the
     * record. {@code release} runs once, on whatever thread drops the last reference to the buffers.
     */
    public VectorSchemaRoot read(MemorySegment record, Runnable release) {
        int metaLength = record.get(JAVA_INT, RecordHeader.META_LENGTH);
        long bodyOffset = record.get(JAVA_LONG, RecordHeader.BODY_OFFSET);
        long bodyLength = record.get(JAVA_LONG, RecordHeader.BODY_LENGTH);
        ByteBuffer meta = record.asSlice(RecordHeader.LENGTH + 8, metaLength - 8).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        Message message = Message.getRootAsMessage(meta);
        if (message.headerType() != MessageHeader.RecordBatch) {
            throw new IllegalStateException("a batch record does not hold a record batch message (header type " + message.headerType() + ")");
        }
        RecordBatch batch = (RecordBatch) message.header(new RecordBatch());
        MemorySegment body = record.asSlice(bodyOffset, bodyLength);
        ArrowBuf buf = allocator.wrapForeignAllocation(new ForeignAllocation(bodyLength, body.address()) {
            @Override
            protected void release0() {
                release.run();
            }
        });
        VectorSchemaRoot root = VectorSchemaRoot.create(schema, allocator);
        try (ArrowRecordBatch arrow = MessageSerializer.deserializeRecordBatch(batch, buf)) {
            new VectorLoader(root).load(arrow);
        } catch (IOException e) {
            root.close();
            throw new UncheckedIOException("cannot read a batch record", e);
        }
        return root;
    }
}
