package io.ringloader.batch;

import com.google.flatbuffers.FlatBufferBuilder;
import io.ringloader.data.Columns;
import io.ringloader.data.Padding;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import io.ringloader.ring.RecordTooLargeException;
import io.ringloader.ring.SpscRing;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * Builds batches in place in a ring: claims a record, lets the dataset write each sample straight into
 * the Arrow buffers through the {@link SampleWriter} methods, then writes the IPC metadata in front and
 * commits. One per worker; not thread-safe.
 *
 * <p>Use: {@link #begin}, then per sample {@link #beginRow}, the dataset's writes, {@link #endRow}; then
 * {@link #commit} (or {@link #abort} if a sample failed).
 */
public final class BatchBuilder implements SampleWriter {
    /** How long a claim waits between checks that the ring is still open. */
    private static final long CLAIM_SLICE = TimeUnit.SECONDS.toNanos(1);

    private final SpscRing ring;
    private final BatchLayout layout;
    private final ColumnLayout[] columns;
    private final Columns.DType[] dtypes;
    /** The bits of the columns a sample writes (not those the worker derives from a padded sequence). */
    private final long sampleColumns;
    /** Per padded sequence column, the position of its lengths, mask, documents and positions columns; -1 where none. */
    private final int[] lengthColumn, maskColumn, documentColumn, positionColumn;
    /** Per padded sequence column, its pad value as raw bits of its element type. */
    private final long[] padBits;
    private final FlatBufferBuilder fbb = BatchLayout.newBuilder();
    /**
     * The IPC metadata of the last batch and what it was built from. Batches of one size and fixed-width
     * columns have the same metadata byte for byte, so the flatbuffer is built only when it changes.
     */
    private long[] lastNodes, lastBuffers;
    private long lastBodyLength = -1;
    private int lastRows = -1;
    private byte[] lastMessage;
    private final int workerId;
    private WorkerContext context;
    /** Set for batches built on the caller's thread, where waiting for space would wait forever. */
    private String failWhenFull;

    // Per column, offsets from the start of the record.
    private final long[] validity, data, offsets;
    private final long[] varCapacity, varUsed;
    private final int[] nullCount;
    /** Estimated bytes per row of each variable-length column, learnt from earlier batches. */
    private final double[] varPerRow;

    /** Samples of this batch cut to a padded column's fixed length, and values of padding written. */
    private int truncated;
    private long paddingValues;
    /** The sequence segment this row was given last (column, steps), for the error of a write outside it. */
    private int segmentColumn = -1;
    private int segmentSteps;
    /** Between beginRow and endRow (or dropRow). */
    private boolean inRow;

    private long position = -1;
    private MemorySegment record;
    private long recordLength;
    private int capacityRows;
    private int rows;
    private int epoch;
    private long seq;

    // The row being written.
    private int row;
    private long sampleIndex;
    /** The global shard of the stream being read, or -1 (a map-style dataset). */
    private int streamShard = -1;
    private long written;
    /** The columns this row set null, for {@link #dropRow}. */
    private long nulled;
    private SplittableRandom random;
    /** Where a sample comes from ({@code MapDataset.describe}), for the error of a sample too large for the ring. */
    private java.util.function.LongFunction<String> describe = index -> null;

    public BatchBuilder(SpscRing ring, BatchLayout layout, int workerId) {
        this.ring = ring;
        this.layout = layout;
        this.columns = layout.columns().toArray(ColumnLayout[]::new);
        if (columns.length > 64) throw new IllegalArgumentException("ringloader builds batches of at most 64 columns, got " + columns.length);
        this.dtypes = new Columns.DType[columns.length];
        for (int c = 0; c < columns.length; c++) dtypes[c] = columns[c].dtype();
        this.lengthColumn = new int[columns.length];
        this.maskColumn = new int[columns.length];
        this.documentColumn = new int[columns.length];
        this.positionColumn = new int[columns.length];
        this.padBits = new long[columns.length];
        for (int[] derived : new int[][] {lengthColumn, maskColumn, documentColumn, positionColumn}) java.util.Arrays.fill(derived, -1);
        long sample = 0;
        for (int c = 0; c < columns.length; c++) {
            ColumnLayout col = columns[c];
            switch (col.role()) {
                case SAMPLE -> sample |= 1L << c;
                case LENGTH -> lengthColumn[col.source()] = c;
                case MASK -> maskColumn[col.source()] = c;
                case DOCUMENT -> documentColumn[col.source()] = c;
                case POSITION -> positionColumn[col.source()] = c;
            }
            if (col.padding() != null && col.isSampleColumn()) padBits[c] = bits(col.dtype(), col.padding().value());
        }
        this.sampleColumns = sample;
        this.workerId = workerId;
        int n = columns.length;
        validity = new long[n];
        data = new long[n];
        offsets = new long[n];
        varCapacity = new long[n];
        varUsed = new long[n];
        nullCount = new int[n];
        varPerRow = new double[n];
        java.util.Arrays.fill(varPerRow, 64);
    }

    public void setContext(WorkerContext context) {
        this.context = context;
        this.streamShard = -1;
    }

    /**
     * For a stream's shard: {@code context}, and a sample's random stream keyed by the shard as well as by
     * its position in it (positions repeat from shard to shard; the samples must not draw alike).
     */
    public void setStreamContext(WorkerContext context) {
        this.context = context;
        this.streamShard = context.shardIndex();
    }

    // ---------------------------------------------------------------------------------------- batches

    /**
     * Claims room for a batch of up to {@code capacityRows} samples, waiting while the trainer still holds
     * the ring's space.
     */
    public void begin(long seq, int epoch, int capacityRows) throws InterruptedException {
        if (position >= 0) throw new IllegalStateException("a batch is already being built");
        this.seq = seq;
        this.epoch = epoch;
        this.capacityRows = capacityRows;
        this.rows = 0;
        long at = layout.bodyOffset();
        for (int c = 0; c < columns.length; c++) {
            ColumnLayout col = columns[c];
            nullCount[c] = 0;
            switch (col.kind()) {
                case FIXED -> {
                    validity[c] = at;
                    at += BatchLayout.bitmapBytes(capacityRows);
                    data[c] = at;
                    at += BatchLayout.align((long) capacityRows * col.width());
                }
                case BOOL -> {
                    validity[c] = at;
                    at += BatchLayout.bitmapBytes(capacityRows);
                    data[c] = at;
                    at += BatchLayout.bitmapBytes(capacityRows);
                }
                case VARIABLE, SEQUENCE -> {
                    validity[c] = at;
                    at += BatchLayout.bitmapBytes(capacityRows);
                    offsets[c] = at;
                    at += BatchLayout.align(4L * (capacityRows + 1));
                }
                case TENSOR -> {
                    validity[c] = at; // the list's bitmap, then the elements'
                    at += BatchLayout.bitmapBytes(capacityRows) + BatchLayout.bitmapBytes((long) capacityRows * col.count());
                    data[c] = at;
                    at += BatchLayout.align((long) capacityRows * col.slotBytes());
                }
            }
        }
        long estimated = 0;
        for (int c = 0; c < columns.length; c++) {
            if (!hasDataArea(columns[c])) continue;
            varCapacity[c] = BatchLayout.align((long) Math.ceil(varPerRow[c] * capacityRows) + 1024);
            estimated += varCapacity[c];
        }
        // Estimates learnt from earlier batches can overshoot (a token-budget batch of many short samples
        // after a few long ones): never claim more than half the ring up front; a batch grows as it needs.
        long room = ring.maxPayload() / 2 - at;
        if (estimated > room) {
            double scale = Math.max(0, room) / (double) estimated;
            for (int c = 0; c < columns.length; c++) {
                if (hasDataArea(columns[c])) varCapacity[c] = BatchLayout.align(Math.max(1024, (long) (varCapacity[c] * scale)));
            }
        }
        for (int c = 0; c < columns.length; c++) {
            if (!hasDataArea(columns[c])) continue;
            data[c] = at;
            varUsed[c] = 0;
            at += varCapacity[c];
        }
        recordLength = at;
        position = claim(recordLength);
        record = ring.payload(position);
        for (int c = 0; c < columns.length; c++) {
            if (hasDataArea(columns[c])) record.set(JAVA_INT, offsets[c], 0);
        }
        truncated = 0;
        paddingValues = 0;
    }

    /** Columns whose values grow sample by sample in an area of their own: bytes, and the sequences samples write. */
    private static boolean hasDataArea(ColumnLayout c) {
        return c.kind() == ColumnLayout.Kind.VARIABLE || c.kind() == ColumnLayout.Kind.SEQUENCE && c.isSampleColumn();
    }

    /**
     * Makes a claim that finds the ring full fail at once with {@code message}, instead of waiting for
     * the trainer to release space: for batches built on the trainer's own thread.
     */
    public void failWhenFull(String message) {
        this.failWhenFull = message;
    }

    private long claim(long length) throws InterruptedException {
        if (failWhenFull != null) {
            long pos = ring.tryClaim(length);
            if (pos == SpscRing.NO_SPACE) {
                throw new IllegalStateException(failWhenFull + " (" + ring.occupancy() + " of " + ring.capacity()
                        + " bytes in use, " + length + " more needed): close each batch when you are done with it, or raise ringBytes");
            }
            return pos;
        }
        long pos;
        try {
            while ((pos = ring.claim(length, CLAIM_SLICE)) == SpscRing.NO_SPACE) {
                // The trainer still holds batches; claim() itself notices a dead trainer or a closed ring.
            }
        } catch (RecordTooLargeException e) {
            throw tooLarge(e, false);
        }
        return pos;
    }

    /** Names where a sample comes from in the errors that name the sample (a map-style dataset's {@code describe}). */
    public void describeSamplesWith(java.util.function.LongFunction<String> describe) {
        this.describe = describe;
    }

    private String described(long index) {
        try {
            String where = describe.apply(index);
            return where == null ? "" : " (" + where + ")";
        } catch (RuntimeException e) {
            return ""; // the error being reported matters more than where the sample is
        }
    }

    /** The ring's own words, with the loader's setting that makes the ring larger. */
    private IllegalStateException tooLarge(RecordTooLargeException e, boolean inSample) {
        return new IllegalStateException("batch " + seq + " of epoch " + epoch + " outgrew the worker's batch ring"
                + (inSample ? " while sample " + sampleIndex + described(sampleIndex) + " was written" : "")
                + ": it needs more than the " + e.maxLength() + " bytes a record of a " + ring.capacity() + "-byte ring can take."
                + " Raise DataLoader.Builder.ringBytes so that a whole batch fits, or lower batchSize.", e);
    }

    /** Rows written so far in this batch. */
    public int rows() {
        return rows;
    }

    public int capacityRows() {
        return capacityRows;
    }

    /** Starts sample {@code index} as the next row. */
    public void beginRow(long index) {
        if (rows >= capacityRows) throw new IllegalStateException("the batch holds " + capacityRows + " samples");
        row = rows;
        sampleIndex = index;
        written = 0;
        nulled = 0;
        random = null;
        segmentColumn = -1;
        inRow = true;
    }

    /**
     * Forgets the row begun with {@link #beginRow}, whatever of it was written (a sample that threw, when
     * it is to be skipped): its null marks are undone and the bytes it appended to variable-length
     * columns are given back; fixed-width slots are written over by the next row.
     */
    public void dropRow() {
        for (int c = 0; c < columns.length; c++) {
            long bit = 1L << c;
            if ((written & bit) == 0) continue;
            if ((nulled & bit) != 0) {
                long at = validity[c] + (row >>> 3);
                record.set(JAVA_BYTE, at, (byte) (record.get(JAVA_BYTE, at) | (1 << (row & 7))));
                nullCount[c]--;
            }
            if (columns[c].kind() == ColumnLayout.Kind.VARIABLE) varUsed[c] = record.get(JAVA_INT, offsets[c] + 4L * row);
            if (columns[c].kind() == ColumnLayout.Kind.SEQUENCE) varUsed[c] = record.get(JAVA_INT, offsets[c] + 4L * row) * columns[c].slotBytes();
        }
        written = 0;
        nulled = 0;
        random = null;
        inRow = false;
    }

    /** Checks that the sample wrote every column, and keeps it. */
    public void endRow() {
        if (written != sampleColumns) {
            for (int c = 0; c < columns.length; c++) {
                if ((written & (1L << c)) == 0 && columns[c].isSampleColumn()) {
                    throw new IllegalStateException("sample " + sampleIndex + " left column '" + columns[c].name()
                            + "' unwritten: write every column of the sample schema once (or setNull it)");
                }
            }
        }
        rows++;
        inRow = false;
    }

    /**
     * Seals the batch (the IPC metadata in front of the buffers, the record header) and publishes it.
     * Returns the bytes the batch takes in the ring.
     */
    public long commit(long busyNanos) {
        for (int c = 0; c < columns.length; c++) {
            ColumnLayout col = columns[c];
            if (col.kind() != ColumnLayout.Kind.SEQUENCE || !col.isSampleColumn()) continue;
            if (rows > 0) varPerRow[c] = Math.max(1, 1.25 * varUsed[c] / rows);
            if (col.padding() != null && col.padding().packs()) pack(c);
            else if (col.padding() != null) pad(c);
        }
        long bodyOffset = layout.bodyOffset();
        long[] nodes = new long[layout.nodeCount() * 2];
        long[] buffers = new long[layout.bufferCount() * 2];
        int n = 0, b = 0;
        for (int c = 0; c < columns.length; c++) {
            ColumnLayout col = columns[c];
            // Every validity bitmap is written, all ones where a column has no null: Arrow Java then
            // reads it in place, where for an empty one it would allocate and fill a bitmap in the trainer
            // for every column of every batch.
            switch (col.kind()) {
                case FIXED, BOOL -> {
                    nodes[n++] = rows;
                    nodes[n++] = nullCount[c];
                    b = buffer(buffers, b, validity[c] - bodyOffset, validityBytes(c, rows));
                    long bytes = col.kind() == ColumnLayout.Kind.BOOL ? (rows + 7) / 8 : (long) rows * col.width();
                    b = buffer(buffers, b, data[c] - bodyOffset, bytes);
                }
                case VARIABLE -> {
                    nodes[n++] = rows;
                    nodes[n++] = nullCount[c];
                    b = buffer(buffers, b, validity[c] - bodyOffset, validityBytes(c, rows));
                    b = buffer(buffers, b, offsets[c] - bodyOffset, 4L * (rows + 1));
                    b = buffer(buffers, b, data[c] - bodyOffset, varUsed[c]);
                    if (rows > 0) varPerRow[c] = Math.max(1, 1.25 * varUsed[c] / rows);
                }
                case SEQUENCE -> {
                    // A packed column's values run past its last sample's end, to the end of its last row.
                    long steps = packed(col) ? varUsed[c] / col.slotBytes() : record.get(JAVA_INT, offsets[c] + 4L * rows);
                    long elements = steps * col.count();
                    long stepBits = col.hasSteps() ? bitmap(steps) : 0, elementBits = bitmap(elements);
                    record.asSlice(validity[c], (rows + 7) / 8).fill((byte) -1);
                    nodes[n++] = rows;
                    nodes[n++] = 0;
                    if (col.hasSteps()) {
                        nodes[n++] = steps;
                        nodes[n++] = 0;
                    }
                    nodes[n++] = elements;
                    nodes[n++] = 0;
                    b = buffer(buffers, b, validity[c] - bodyOffset, (rows + 7) / 8);
                    b = buffer(buffers, b, offsets[c] - bodyOffset, 4L * (rows + 1));
                    if (col.hasSteps()) b = buffer(buffers, b, stepBits - bodyOffset, (steps + 7) / 8);
                    b = buffer(buffers, b, elementBits - bodyOffset, (elements + 7) / 8);
                    b = buffer(buffers, b, data[c] - bodyOffset, elements * col.width());
                }
                case TENSOR -> {
                    long elements = (long) rows * col.count();
                    long listBits = validity[c], elementBits = validity[c] + BatchLayout.bitmapBytes(capacityRows);
                    record.asSlice(listBits, (rows + 7) / 8).fill((byte) -1);
                    record.asSlice(elementBits, (elements + 7) / 8).fill((byte) -1);
                    nodes[n++] = rows;
                    nodes[n++] = 0;
                    nodes[n++] = elements;
                    nodes[n++] = 0;
                    b = buffer(buffers, b, listBits - bodyOffset, (rows + 7) / 8);
                    b = buffer(buffers, b, elementBits - bodyOffset, (elements + 7) / 8);
                    b = buffer(buffers, b, data[c] - bodyOffset, (long) rows * col.slotBytes());
                }
            }
        }
        long bodyLength = recordLength - bodyOffset;
        int metaReserve = layout.metaReserve();
        if (rows != lastRows || bodyLength != lastBodyLength || !Arrays.equals(nodes, lastNodes) || !Arrays.equals(buffers, lastBuffers)) {
            int size = layout.writeMessage(fbb, rows, nodes, buffers, bodyLength);
            if (8 + size > metaReserve) throw new IllegalStateException("IPC metadata of " + size + " bytes outgrew its reserve of " + metaReserve);
            ByteBuffer fb = fbb.dataBuffer();
            lastMessage = new byte[size];
            fb.get(fb.position(), lastMessage);
            lastNodes = nodes;
            lastBuffers = buffers;
            lastBodyLength = bodyLength;
            lastRows = rows;
        }
        int size = lastMessage.length;
        long meta = RecordHeader.LENGTH;
        record.set(JAVA_INT, meta, -1); // continuation marker 0xFFFFFFFF
        record.set(JAVA_INT, meta + 4, metaReserve - 8); // metadata length, padding included
        MemorySegment.copy(lastMessage, 0, record, JAVA_BYTE, meta + 8, size);
        record.asSlice(meta + 8 + size, metaReserve - 8 - size).fill((byte) 0);
        writeHeader(record, RecordHeader.BATCH, epoch, seq, rows, workerId);
        record.set(JAVA_LONG, RecordHeader.PADDING_VALUES, paddingValues);
        record.set(JAVA_INT, RecordHeader.TRUNCATED_SAMPLES, truncated);
        record.set(JAVA_LONG, RecordHeader.BODY_OFFSET, bodyOffset);
        record.set(JAVA_LONG, RecordHeader.BODY_LENGTH, bodyLength);
        record.set(JAVA_LONG, RecordHeader.BUSY_NANOS, busyNanos);
        record.set(JAVA_INT, RecordHeader.META_LENGTH, metaReserve);
        ring.commit(position, recordLength);
        position = -1;
        record = null;
        return recordLength;
    }

    /**
     * A validity bitmap of {@code bits} values, all set, at the end of the record: a sequence's element
     * count is known only now. Returns its offset.
     */
    private long bitmap(long bits) {
        long bytes = BatchLayout.bitmapBytes(bits);
        long at = extendRecord(bytes);
        record.asSlice(at, bytes).fill((byte) -1);
        return at;
    }

    /**
     * Turns sequence column {@code c} into its padded form: every row {@code T} steps long (the batch's
     * longest, or the padding's fixed length), its values one dense {@code [rows, T, step]} array at the end
     * of the record, the lengths (and the mask) beside it. The ragged values stay behind as a gap, which
     * Arrow IPC allows: every buffer carries its own offset.
     */
    private void pad(int c) {
        ColumnLayout col = columns[c];
        Padding p = col.padding();
        long step = col.slotBytes();
        int longest = 0;
        for (int r = 0; r < rows; r++) longest = Math.max(longest, steps(c, r));
        int t = p.length() > 0 ? p.length() : longest;
        long bytes = (long) rows * t * step;
        long dense = extendRecord(BatchLayout.align(bytes));
        int lengths = lengthColumn[c], mask = maskColumn[c];
        long maskData = mask < 0 ? -1 : extendRecord(BatchLayout.align((long) rows * t));
        for (int r = 0; r < rows; r++) {
            int length = steps(c, r);
            if (length > t) {
                truncated++; // sequence() refused this unless the padding truncates
                length = t;
            }
            long from = data[c] + record.get(JAVA_INT, offsets[c] + 4L * r) * step, to = dense + (long) r * t * step;
            MemorySegment.copy(record, from, record, to, length * step);
            fill(to + length * step, (long) (t - length) * col.count(), col.width(), padBits[c]);
            paddingValues += t - length;
            record.set(JAVA_INT, data[lengths] + 4L * r, length);
            if (mask >= 0) {
                record.asSlice(maskData + (long) r * t, length).fill((byte) 1);
                record.asSlice(maskData + (long) r * t + length, t - length).fill((byte) 0);
            }
        }
        for (int r = 0; r <= rows; r++) record.set(JAVA_INT, offsets[c] + 4L * r, r * t);
        data[c] = dense;
        varUsed[c] = bytes;
        if (mask >= 0) {
            for (int r = 0; r <= rows; r++) record.set(JAVA_INT, offsets[mask] + 4L * r, r * t);
            data[mask] = maskData;
            varUsed[mask] = (long) rows * t;
        }
    }

    /**
     * Packs sequence column {@code c}: its values, the samples one after the other, already are the packed
     * rows; only the last row's tail is written (the pad value), and beside them, per value, the row of
     * its sample and its position in it (and the mask), and each sample's length. Nothing is copied.
     */
    private void pack(int c) {
        ColumnLayout col = columns[c];
        Padding p = col.padding();
        long step = col.slotBytes();
        int total = record.get(JAVA_INT, offsets[c] + 4L * rows);
        long packedRows = p.rows() > 0 ? p.rows() : (total + (long) p.length() - 1) / p.length();
        long cells = packedRows * p.length();
        if (total > cells) {
            throw new IllegalStateException("batch " + seq + " of epoch " + epoch + ": its " + rows + " samples hold " + total
                    + " steps of column '" + col.name() + "', more than the " + p.rows() + " rows of " + p.length()
                    + " its packing (Padding.pack(" + p.rows() + ", " + p.length() + ")) holds: make batches that fit, with"
                    + " BatchSampler.packed(" + p.rows() + ", " + p.length() + "), or pack into as many rows as they fill (Padding.pack("
                    + p.length() + "))");
        }
        long bytes = cells * step;
        if (bytes > varCapacity[c]) growVariable(c, bytes - varUsed[c]);
        fill(data[c] + (long) total * step, (cells - total) * col.count(), col.width(), padBits[c]);
        varUsed[c] = bytes;
        paddingValues += cells - total;
        int lengths = lengthColumn[c], documents = documentColumn[c], positions = positionColumn[c], mask = maskColumn[c];
        long documentData = perValue(documents, c, cells * 4), positionData = perValue(positions, c, cells * 4);
        long maskData = mask < 0 ? -1 : perValue(mask, c, cells);
        for (int r = 0; r < rows; r++) {
            int from = record.get(JAVA_INT, offsets[c] + 4L * r), length = steps(c, r);
            record.set(JAVA_INT, data[lengths] + 4L * r, length);
            for (int k = 0; k < length; k++) {
                record.set(JAVA_INT, documentData + 4L * (from + k), r);
                record.set(JAVA_INT, positionData + 4L * (from + k), k);
            }
        }
        fill(documentData + 4L * total, cells - total, 4, -1);
        fill(positionData + 4L * total, cells - total, 4, 0);
        if (mask >= 0) {
            record.asSlice(maskData, total).fill((byte) 1);
            record.asSlice(maskData + total, cells - total).fill((byte) 0);
        }
    }

    /**
     * Room at the end of the record for {@code bytes} of derived column {@code d}, a value per value of
     * packed column {@code c}, with {@code c}'s offsets; returns where its values go.
     */
    private long perValue(int d, int c, long bytes) {
        long at = extendRecord(BatchLayout.align(bytes));
        MemorySegment.copy(record, offsets[c], record, offsets[d], 4L * (rows + 1));
        data[d] = at;
        varUsed[d] = bytes;
        return at;
    }

    private static boolean packed(ColumnLayout col) {
        return col.padding() != null && col.padding().packs();
    }

    /** Steps of row {@code r} of sequence column {@code c}, from its offsets. */
    private int steps(int c, int r) {
        return record.get(JAVA_INT, offsets[c] + 4L * (r + 1)) - record.get(JAVA_INT, offsets[c] + 4L * r);
    }

    /** Writes {@code count} elements of {@code width} bytes, each the raw bits {@code bits}, at {@code at}. */
    private void fill(long at, long count, int width, long bits) {
        if (bits == 0) {
            record.asSlice(at, count * width).fill((byte) 0);
            return;
        }
        for (long i = 0; i < count; i++) {
            long a = at + i * width;
            switch (width) {
                case 1 -> record.set(JAVA_BYTE, a, (byte) bits);
                case 2 -> record.set(JAVA_SHORT, a, (short) bits);
                case 4 -> record.set(JAVA_INT, a, (int) bits);
                default -> record.set(JAVA_LONG, a, bits);
            }
        }
    }

    /** {@code value} as the raw bits of an element of {@code type}. */
    static long bits(Columns.DType type, double value) {
        return switch (type) {
            case INT8, UINT8 -> (byte) value;
            case INT16 -> (short) value;
            case INT32 -> (int) value;
            case INT64 -> (long) value;
            case FLOAT16 -> Float.floatToFloat16((float) value);
            case BFLOAT16 -> Columns.toBFloat16((float) value);
            case FLOAT32 -> Float.floatToRawIntBits((float) value);
            case FLOAT64 -> Double.doubleToRawLongBits(value);
        };
    }

    private static int buffer(long[] buffers, int b, long offset, long length) {
        buffers[b] = length == 0 ? 0 : offset;
        buffers[b + 1] = length;
        return b + 2;
    }

    /** Drops the batch being built: nothing is published. */
    public void abort() {
        if (position < 0) return;
        ring.abort(position);
        position = -1;
        record = null;
    }

    static void writeHeader(MemorySegment record, int kind, int epoch, long seq, int rows, int workerId) {
        record.asSlice(0, RecordHeader.LENGTH).fill((byte) 0);
        record.set(JAVA_INT, RecordHeader.KIND, kind);
        record.set(JAVA_INT, RecordHeader.EPOCH, epoch);
        record.set(JAVA_LONG, RecordHeader.SEQ, seq);
        record.set(JAVA_INT, RecordHeader.ROWS, rows);
        record.set(JAVA_INT, RecordHeader.WORKER_ID, workerId);
    }

    /** Sends a small record of {@code kind} with {@code body} after the header (READY, ERROR, END). */
    public void send(int kind, int epoch, long seq, long sampleIndex, byte[] body) throws InterruptedException {
        abort();
        send(ring, workerId, kind, epoch, seq, sampleIndex, body);
    }

    /** Sends a small record on {@code ring} (which must have no open claim). */
    public static void send(SpscRing ring, int workerId, int kind, int epoch, long seq, long sampleIndex, byte[] body)
            throws InterruptedException {
        long length = RecordHeader.LENGTH + body.length;
        long pos;
        while ((pos = ring.claim(length, CLAIM_SLICE)) == SpscRing.NO_SPACE) {
            // the trainer still holds batches; claim() notices a dead trainer or a closed ring
        }
        MemorySegment r = ring.payload(pos);
        writeHeader(r, kind, epoch, seq, 0, workerId);
        r.set(JAVA_LONG, RecordHeader.SAMPLE_INDEX, sampleIndex);
        r.set(JAVA_LONG, RecordHeader.BODY_OFFSET, RecordHeader.LENGTH);
        r.set(JAVA_LONG, RecordHeader.BODY_LENGTH, body.length);
        MemorySegment.copy(body, 0, r, JAVA_BYTE, RecordHeader.LENGTH, body.length);
        ring.commit(pos);
    }

    // ------------------------------------------------------------------------------------ SampleWriter

    @Override
    public long index() {
        return sampleIndex;
    }

    @Override
    public SplittableRandom random() {
        if (random == null) {
            random = streamShard < 0 ? context.random(sampleIndex)
                    : WorkerContext.random(context.seed(), context.epoch(), WorkerContext.mix(streamShard + 1) ^ sampleIndex);
        }
        return random;
    }

    @Override
    public int column(String name) {
        for (int c = 0; c < columns.length; c++) if (columns[c].name().equals(name)) return c;
        throw new IllegalArgumentException("the sample schema has no column '" + name + "'; its columns are "
                + java.util.Arrays.stream(columns).map(ColumnLayout::name).toList());
    }

    private long fixed(int c, Columns.DType expected, String call) {
        if (columns[c].kind() != ColumnLayout.Kind.FIXED || dtypes[c].width() != expected.width()
                || dtypes[c].isFloatingPoint() != expected.isFloatingPoint()) {
            throw wrongType(c, call);
        }
        mark(c);
        return data[c] + (long) row * expected.width();
    }

    private IllegalArgumentException wrongType(int c, String call) {
        String type = columns[c].kind() == ColumnLayout.Kind.FIXED ? dtypes[c].name().toLowerCase(java.util.Locale.ROOT)
                : columns[c].kind().name().toLowerCase(java.util.Locale.ROOT);
        return new IllegalArgumentException("sample " + sampleIndex + ": " + call + " does not fit column '" + columns[c].name()
                + "', which is " + type);
    }

    private void mark(int c) {
        if (!columns[c].isSampleColumn()) {
            throw new IllegalStateException("sample " + sampleIndex + " wrote column '" + columns[c].name() + "', which the worker writes"
                    + " (the " + columns[c].role().name().toLowerCase(java.util.Locale.ROOT) + " of padded column '"
                    + columns[columns[c].source()].name() + "'): write '" + columns[columns[c].source()].name() + "' only");
        }
        long bit = 1L << c;
        if ((written & bit) != 0) {
            throw new IllegalStateException("sample " + sampleIndex + " wrote column '" + columns[c].name() + "' twice");
        }
        written |= bit;
    }

    @Override
    public void setByte(int c, byte value) {
        record.set(JAVA_BYTE, fixed(c, Columns.DType.INT8, "setByte"), value);
    }

    @Override
    public void setShort(int c, short value) {
        record.set(JAVA_SHORT, fixed(c, Columns.DType.INT16, "setShort"), value);
    }

    @Override
    public void setInt(int c, int value) {
        record.set(JAVA_INT, fixed(c, Columns.DType.INT32, "setInt"), value);
    }

    @Override
    public void setLong(int c, long value) {
        record.set(JAVA_LONG, fixed(c, Columns.DType.INT64, "setLong"), value);
    }

    @Override
    public void setFloat(int c, float value) {
        Columns.DType d = dtypes[c];
        if (columns[c].kind() == ColumnLayout.Kind.FIXED && (d == Columns.DType.FLOAT16 || d == Columns.DType.BFLOAT16)) {
            mark(c);
            record.set(JAVA_SHORT, data[c] + 2L * row, d == Columns.DType.FLOAT16 ? Float.floatToFloat16(value) : Columns.toBFloat16(value));
            return;
        }
        record.set(JAVA_FLOAT, fixed(c, Columns.DType.FLOAT32, "setFloat"), value);
    }

    @Override
    public void setDouble(int c, double value) {
        record.set(JAVA_DOUBLE, fixed(c, Columns.DType.FLOAT64, "setDouble"), value);
    }

    @Override
    public void setBoolean(int c, boolean value) {
        if (columns[c].kind() != ColumnLayout.Kind.BOOL) throw wrongType(c, "setBoolean");
        mark(c);
        long at = data[c] + (row >>> 3);
        byte bits = record.get(JAVA_BYTE, at);
        int bit = 1 << (row & 7);
        record.set(JAVA_BYTE, at, (byte) (value ? bits | bit : bits & ~bit));
    }

    /** The bytes of column {@code c}'s validity bitmap for {@code rows} rows; all ones if it had no null. */
    private long validityBytes(int c, int rows) {
        long bytes = (rows + 7) / 8;
        if (nullCount[c] == 0) record.asSlice(validity[c], bytes).fill((byte) -1);
        return bytes;
    }

    @Override
    public void setNull(int c) {
        ColumnLayout col = columns[c];
        if (col.kind() == ColumnLayout.Kind.TENSOR || col.kind() == ColumnLayout.Kind.SEQUENCE) {
            throw new IllegalArgumentException("sample " + sampleIndex + ": " + col.kind().name().toLowerCase(java.util.Locale.ROOT)
                    + " column '" + col.name() + "' cannot be null" + (col.kind() == ColumnLayout.Kind.SEQUENCE ? " (an empty sequence can: sequence(column, 0))" : ""));
        }
        mark(c);
        nulled |= 1L << c;
        if (nullCount[c]++ == 0) {
            // First null of the batch: only now does the column need a validity bitmap.
            record.asSlice(validity[c], BatchLayout.bitmapBytes(capacityRows)).fill((byte) -1);
        }
        long at = validity[c] + (row >>> 3);
        record.set(JAVA_BYTE, at, (byte) (record.get(JAVA_BYTE, at) & ~(1 << (row & 7))));
        if (col.kind() == ColumnLayout.Kind.VARIABLE) record.set(JAVA_INT, offsets[c] + 4L * (row + 1), (int) varUsed[c]);
    }

    @Override
    public MemorySegment tensor(int c) {
        ColumnLayout col = columns[c];
        if (col.kind() != ColumnLayout.Kind.TENSOR) throw wrongType(c, "tensor");
        mark(c);
        return record.asSlice(data[c] + row * col.slotBytes(), col.slotBytes());
    }

    @Override
    public void setFloats(int c, float[] values) {
        MemorySegment.copy(values, 0, slot(c, Columns.DType.FLOAT32, values.length, "setFloats"), JAVA_FLOAT, 0, values.length);
    }

    @Override
    public void setInts(int c, int[] values) {
        MemorySegment.copy(values, 0, slot(c, Columns.DType.INT32, values.length, "setInts"), JAVA_INT, 0, values.length);
    }

    @Override
    public void setLongs(int c, long[] values) {
        MemorySegment.copy(values, 0, slot(c, Columns.DType.INT64, values.length, "setLongs"), JAVA_LONG, 0, values.length);
    }

    /** The room for {@code elements} values of {@code type} in tensor or sequence column {@code c}, for the array setters. */
    private MemorySegment slot(int c, Columns.DType type, int elements, String call) {
        ColumnLayout col = columns[c];
        if (col.kind() == ColumnLayout.Kind.SEQUENCE && dtypes[c] == type) {
            if (elements % col.count() != 0) {
                throw new IllegalArgumentException("sample " + sampleIndex + ": " + call + " got " + elements + " values for column '" + col.name()
                        + "', whose steps hold " + col.count() + " each: give a whole number of steps");
            }
            return sequence(c, elements / col.count());
        }
        if (col.kind() != ColumnLayout.Kind.TENSOR || dtypes[c] != type) throw wrongType(c, call);
        if (elements != col.count()) {
            throw new IllegalArgumentException("sample " + sampleIndex + ": column '" + col.name() + "' holds " + col.count()
                    + " values, " + call + " got " + elements);
        }
        mark(c);
        return record.asSlice(data[c] + row * col.slotBytes(), col.slotBytes());
    }

    @Override
    public MemorySegment sequence(int c, int length) {
        ColumnLayout col = columns[c];
        if (col.kind() != ColumnLayout.Kind.SEQUENCE) throw wrongType(c, "sequence");
        if (length < 0) {
            throw new IllegalArgumentException("sample " + sampleIndex + described(sampleIndex) + ": sequence(" + col.name() + ", " + length
                    + "): a length cannot be negative");
        }
        Padding p = col.padding();
        if (p != null && p.packs() && p.rows() > 0 && length > (long) p.rows() * p.length()) {
            throw new IllegalArgumentException("sample " + sampleIndex + described(sampleIndex) + " is " + length + " steps long in column '"
                    + col.name() + "', more than the " + p.rows() + " rows of " + p.length() + " its packing (Padding.pack(" + p.rows() + ", "
                    + p.length() + ")) holds in a whole batch: raise the rows, or pack into as many as a batch fills (Padding.pack("
                    + p.length() + "))");
        }
        if (p != null && !p.packs() && p.length() > 0 && length > p.length() && !p.truncates()) {
            throw new IllegalArgumentException("sample " + sampleIndex + described(sampleIndex) + " is " + length + " steps long in column '"
                    + col.name() + "', longer than its padding's fixed length of " + p.length()
                    + ": raise Padding.toLength, pad to the longest (Padding.toLongest()), or cut such samples (Padding.toLength("
                    + p.length() + ").truncate())");
        }
        long bytes = (long) length * col.slotBytes();
        long at = reserve(c, bytes);
        long steps = varUsed[c] / col.slotBytes();
        if (steps > Integer.MAX_VALUE) {
            throw new IllegalStateException("column '" + col.name() + "' holds more than 2^31 steps in one batch; use smaller batches");
        }
        record.set(JAVA_INT, offsets[c] + 4L * (row + 1), (int) steps);
        segmentColumn = c;
        segmentSteps = length;
        return record.asSlice(at, bytes);
    }

    /**
     * {@code t} (a sample's failure) with the column and sizes named when it is a write outside the
     * segment a sequence gave it; {@code t} itself otherwise.
     */
    public Throwable explain(Throwable t) {
        if (!(t instanceof IndexOutOfBoundsException) || segmentColumn < 0) return t;
        ColumnLayout col = columns[segmentColumn];
        String type = dtypes[segmentColumn].name().toLowerCase(java.util.Locale.ROOT);
        return new IllegalStateException("sample " + sampleIndex + described(sampleIndex) + " wrote outside its segment of column '" + col.name()
                + "' (sequence(" + col.name() + ", " + segmentSteps + "): " + segmentSteps + " steps of " + col.count() + " " + type + " = "
                + (long) segmentSteps * col.slotBytes() + " bytes): ask sequence() for the length the sample writes", t);
    }

    @Override
    public void setString(int c, String value) {
        setBytes(c, value.getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void setBytes(int c, byte[] value) {
        long at = appendVariable(c, value.length);
        MemorySegment.copy(value, 0, record, JAVA_BYTE, at, value.length);
    }

    @Override
    public void setBytes(int c, MemorySegment value) {
        long at = appendVariable(c, value.byteSize());
        MemorySegment.copy(value, 0, record, at, value.byteSize());
    }

    /** Makes room for {@code length} more bytes of column {@code c}, records the row's end offset, returns where to write. */
    private long appendVariable(int c, long length) {
        if (columns[c].kind() != ColumnLayout.Kind.VARIABLE) throw wrongType(c, "setBytes/setString");
        long at = reserve(c, length);
        if (varUsed[c] > Integer.MAX_VALUE) {
            throw new IllegalStateException("column '" + columns[c].name() + "' holds more than 2 GiB in one batch; use smaller batches");
        }
        record.set(JAVA_INT, offsets[c] + 4L * (row + 1), (int) varUsed[c]);
        return at;
    }

    /** Marks column {@code c} written and takes {@code length} more bytes of its data area; returns where they start. */
    private long reserve(int c, long length) {
        mark(c);
        if (varUsed[c] + length > varCapacity[c]) growVariable(c, length);
        long at = data[c] + varUsed[c];
        varUsed[c] += length;
        return at;
    }

    /**
     * Moves column {@code c}'s data area to the end of the record with room to spare, growing the claim in
     * place (the ring is mapped twice, so the record stays one slice). The old area is left as a gap, which
     * Arrow IPC allows: every buffer carries its own offset.
     */
    private void growVariable(int c, long length) {
        long newCapacity = BatchLayout.align(Math.max(2 * varCapacity[c], varUsed[c] + length + 1024));
        long newData = extendRecord(newCapacity);
        MemorySegment.copy(record, data[c], record, newData, varUsed[c]);
        data[c] = newData;
        varCapacity[c] = newCapacity;
    }

    /**
     * Grows the claim in place by {@code bytes} (the ring is mapped twice, so the record stays one slice),
     * waiting while the trainer holds the space; returns the offset of the new bytes.
     */
    private long extendRecord(long bytes) {
        long at = recordLength;
        try {
            if (failWhenFull != null && !ring.extendClaim(position, recordLength + bytes, 0)) {
                throw new IllegalStateException(failWhenFull + " (" + ring.occupancy() + " of " + ring.capacity()
                        + " bytes in use): close each batch when you are done with it, or raise ringBytes");
            }
            while (!ring.extendClaim(position, recordLength + bytes, CLAIM_SLICE)) {
                // waiting for the trainer to release space; extendClaim notices a dead trainer or a closed ring
            }
        } catch (RecordTooLargeException e) {
            throw tooLarge(e, inRow);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while growing a batch", e);
        }
        record = ring.payload(position);
        recordLength += bytes;
        return at;
    }
}
