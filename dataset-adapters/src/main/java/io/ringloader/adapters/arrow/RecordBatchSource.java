package io.ringloader.adapters.arrow;

import io.ringloader.data.IterableDataset;
import io.ringloader.data.SampleWriter;

import java.io.IOException;

/**
 * A shard read as a run of Arrow record batches (an IPC stream's, a Parquet scanner's): samples are the
 * rows of the current batch, and {@link #skip} passes whole batches by their row counts without decoding
 * a row. A subclass says how to get to the next batch of its shard.
 */
public abstract class RecordBatchSource implements IterableDataset.SampleSource {
    /** The current record batch's rows, or null before the first and after the end. */
    protected ArrowRows rows;
    /** The next row of {@link #rows} to hand out. */
    protected int row;

    /** Makes {@link #rows} a record batch of this shard with a row left at {@link #row}; false at the shard's end. */
    protected abstract boolean advance() throws IOException;

    /** Rows in the current record batch. */
    protected abstract int rowCount() throws IOException;

    @Override
    public final boolean next(SampleWriter out) throws IOException {
        if (!advance()) return false;
        rows.write(row++, out);
        return true;
    }

    @Override
    public final long skip(long n) throws IOException {
        long skipped = 0;
        while (skipped < n && advance()) {
            int take = (int) Math.min(n - skipped, rowCount() - row);
            row += take;
            skipped += take;
        }
        return skipped;
    }
}
