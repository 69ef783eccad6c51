package io.ringloader.batch;

/**
 * The 64-byte header at the start of every ringloader record, in both directions.
 *
 * <pre>
 *   0 +--------------------------------------------------------------+
 *     | kind int | epoch int | seq long                               |
 *  16 | rows int | workerId int | bodyOffset long                     |
 *  32 | bodyLength long | busyNanos long                              |
 *  48 | sampleIndex long | metaLength int | flags int                  |
 *     |   (in a BATCH: paddingValues long | metaLength | truncated int)  |
 *  64 +--------------------------------------------------------------+
 *     | kind BATCH: an Arrow IPC encapsulated message (0xFFFFFFFF,     |
 *     |   int32 metadata length, flatbuffer Message), then at          |
 *     |   bodyOffset the body: the Arrow buffers, each 64-aligned      |
 *     | kind ERROR: a serialized {@code WorkerFailure}                  |
 *     | kind BATCH_REQUEST: rows sample indices (long each)            |
 *     +--------------------------------------------------------------+
 * </pre>
 *
 * So from offset 64 on, a batch record is a plain Arrow IPC record-batch message that any Arrow reader
 * understands.
 */
public final class RecordHeader {
    private RecordHeader() {}

    public static final int LENGTH = 64;

    public static final long KIND = 0;
    public static final long EPOCH = 4;
    public static final long SEQ = 8;
    public static final long ROWS = 16;
    public static final long WORKER_ID = 20;
    public static final long BODY_OFFSET = 24;
    public static final long BODY_LENGTH = 32;
    public static final long BUSY_NANOS = 40;
    public static final long SAMPLE_INDEX = 48;
    public static final long META_LENGTH = 56;
    public static final long FLAGS = 60;
    /** Of a BATCH: the values of padding its padded sequences hold (in steps), for {@code stats()}. */
    public static final long PADDING_VALUES = SAMPLE_INDEX;
    /** Of a BATCH: its samples cut to a padded sequence's fixed length. */
    public static final long TRUNCATED_SAMPLES = FLAGS;

    // worker -> parent
    /** The worker has opened its dataset and waits for requests. */
    public static final int READY = 1;
    /** A batch. */
    public static final int BATCH = 2;
    /** A failure, while opening the dataset or building a batch. */
    public static final int ERROR = 3;
    /** A streaming worker's shard is exhausted for this epoch. */
    public static final int END = 4;
    /**
     * A sample of batch {@code seq} that threw and was left out ({@code onSampleError(SKIP)}): its index in
     * {@code sampleIndex}, the failure in the body as for ERROR.
     */
    public static final int SKIPPED = 5;

    // parent -> worker
    /** Build the batch of the sample indices that follow. */
    public static final int BATCH_REQUEST = 11;
    /** Build batch k of shard s ({@link #streamSeq}) of a streaming dataset: up to {@code rows} samples. */
    public static final int STREAM_REQUEST = 12;
    /** Finish: close the dataset and exit. */
    public static final int STOP = 13;

    /**
     * A stream batch's address, (shard, k), as one seq: the shard in the high 24 bits, k below. Requests
     * and the records that answer them carry it.
     */
    public static long streamSeq(int shard, long k) {
        return (long) shard << 40 | k;
    }

    public static int streamShard(long seq) {
        return (int) (seq >>> 40);
    }

    public static long streamBatch(long seq) {
        return seq & ((1L << 40) - 1);
    }

    // FLAGS of a BATCH_REQUEST or STREAM_REQUEST
    /**
     * Leave a sample whose read throws out of its batch, and say so in a SKIPPED record, instead of failing
     * the batch. (A map batch's SKIPPED records come before it, a stream batch's right after it.)
     */
    public static final int FLAG_SKIP_FAILED_SAMPLES = 1;
}
