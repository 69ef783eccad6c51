package io.ringloader.adapters.arrow;

import io.ringloader.data.IterableDataset;
import io.ringloader.data.SampleWriter;

import org.apache.arrow.vector.ipc.ArrowReader;

import java.io.IOException;

/**
 * A shard read as a run of Arrow record batches (an IPC stream's, a Parquet scanner's): samples are the
 * rows of the current batch, and {@link #skip} passes whole batches by their row counts without decoding
 * a row. A subclass says how to get to the next batch of its shard.
 */
public abstract class RecordBatchSource implements IterableDataset.SampleSource {
    /** The reader of the current file (an IPC stream's, a Parquet scanner's), or null between files. */
    protected ArrowReader reader;
    /** The current record batch's rows, or null before the first and after the end. */
    protected ArrowRows rows;
    /** The next row of {@link #rows} to hand out. */
    protected int row;

    /** Makes {@link #rows} a record batch of this shard with a row left at {@link #row}; false at the shard's end. */
    protected abstract boolean advance() throws IOException;


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
            int take = (int) Math.min(n - skipped, reader.getVectorSchemaRoot().getRowCount() - row);
            row += take;
            skipped += take;
        }
        return skipped;
    }
}
