package io.ringloader.adapters.arrow;

import io.ringloader.data.IterableDataset;
import io.ringloader.data.SampleWriter;

import java.io.IOException;

/**
 * A shard read as a run of Arrow record batches (an IPC stream's, a Parquet scanner's): samples are the
 * rows of the current batch. A subclass says how to get to the next batch of its shard, and how to pass
 * whole parts of it (record batches, files) by their row counts without reading them: {@link #skip}
 * passes those first, then the rows of the batch it stops in.
 */
public abstract class RecordBatchSource implements IterableDataset.SampleSource {
    /** The current record batch's rows, or null before the first and after the end. */
    protected ArrowRows rows;
    /** The next row of {@link #rows} to hand out. */
    protected int row;

    /** Makes {@link #rows} a record batch of this shard with a row left at {@link #row}; false at the shard's end. */
    protected abstract boolean advance() throws IOException;

    /**
     * Passes over at most {@code n} rows in whole parts of the shard (record batches, files) without
     * reading them, and returns how many it passed; called when no batch is loaded or the loaded one is
     * used up. By default none: {@link #skip} then loads every batch and counts its rows.
     */
    protected long pass(long n) throws IOException {
        return 0;
    }

    @Override
    public final boolean next(SampleWriter out) throws IOException {
        if (!advance()) return false;
        rows.write(row++, out);
        return true;
    }

    @Override
    public final long skip(long n) throws IOException {
        long skipped = rows == null || row >= rows.rowCount() ? pass(n) : 0;
        while (skipped < n && advance()) {
            int take = (int) Math.min(n - skipped, rows.rowCount() - row);
            row += take;
            skipped += take;
        }
        return skipped;
    }
}
