package io.ringloader.batch;

import org.apache.arrow.flatbuf.Message;
import org.apache.arrow.flatbuf.MessageHeader;
import org.apache.arrow.flatbuf.RecordBatch;
import org.apache.arrow.memory.ArrowBuf;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.ForeignAllocation;
import org.apache.arrow.vector.VectorLoader;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;
import org.apache.arrow.vector.ipc.message.ArrowRecordBatch;
import org.apache.arrow.vector.ipc.message.MessageSerializer;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;
import io.ringloader.data.Columns;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

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
 *
 * <p>Vectors are kept for the next batch, as Arrow's own {@code ArrowReader} keeps one root for a whole
 * stream: a closed batch's root goes back here with its buffers released ({@link #recycle}), and a later
 * batch loads its buffers into it: the trainer no longer builds a vector per field from the schema for
 * every batch (nor does its JIT compile that code, which it did in the middle of short epochs).
 */
public final class BatchReader {
    private final Schema schema;
    private final BufferAllocator allocator;
    /** Roots of closed batches, with no buffers: taken by any thread that reads, given back by any that closes. */
    private final Queue<VectorSchemaRoot> spare = new ConcurrentLinkedQueue<>();
    /** The packed sequence columns ({@code Padding.pack}): their positions, and the IPC node of each one's values. */
    private final int[] packed, packedValuesNode;

    public BatchReader(Schema schema, BufferAllocator allocator) {
        this.schema = schema;
        this.allocator = allocator;
        List<Integer> columns = new ArrayList<>(), nodes = new ArrayList<>();
        int node = 0;
        for (int c = 0; c < schema.getFields().size(); c++) {
            Field f = schema.getFields().get(c);
            if (f.getMetadata() != null && f.getMetadata().containsKey(Columns.PACKED)) {
                columns.add(c);
                nodes.add(node + 1); // the list's node, then its values'
            }
            node += nodes(f);
        }
        this.packed = columns.stream().mapToInt(Integer::intValue).toArray();
        this.packedValuesNode = nodes.stream().mapToInt(Integer::intValue).toArray();
    }

    /** IPC field nodes of {@code f}: its own and its children's, depth first, as the IPC format lists them. */
    private static int nodes(Field f) {
        int n = 1;
        for (Field child : f.getChildren()) n += nodes(child);
        return n;
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
        VectorSchemaRoot root = spare.poll();
        if (root == null) root = VectorSchemaRoot.create(schema, allocator);
        try (ArrowRecordBatch arrow = MessageSerializer.deserializeRecordBatch(batch, buf)) {
            new VectorLoader(root).load(arrow);
            // Loading ends by giving each list its row count, which cuts its values to where its last row
            // ends: a packed column's values run on to the end of its last packed row, as the IPC node says.
            for (int k = 0; k < packed.length; k++) {
                ((ListVector) root.getVector(packed[k])).getDataVector().setValueCount(Math.toIntExact(batch.nodes(packedValuesNode[k]).length()));
            }
        } catch (IOException e) {
            root.close();
            throw new UncheckedIOException("cannot read a batch record", e);
        } catch (RuntimeException e) {
            root.close();
            throw e;
        }
        return root;
    }

    /**
     * Releases the buffers of a root that {@link #read} returned (the last release hands the record back
     * to its worker) and keeps its vectors for a later batch. The caller must not touch the root again.
     */
    public void recycle(VectorSchemaRoot root) {
        root.clear();
        spare.offer(root);
    }
}
