package io.ringloader.data;

import org.apache.arrow.vector.types.pojo.Schema;

import java.io.Serializable;

/**
 * A dataset is a <em>recipe</em>: a serializable description of where samples come from, which travels to
 * every worker. It holds no live resources. Each worker calls {@link #open} once before its first sample,
 * and that is where connections, file handles and async runtimes (a Netty {@code EventLoopGroup}, say)
 * are created, fresh in every worker; {@link #close} tears them down. A field that holds a live resource
 * must be {@code transient}: {@code DataLoader.build()} rejects one that is not, naming it.
 *
 * <p>There are two kinds: {@link MapDataset} (random access by index; the loader's sampler decides the
 * order) and {@link IterableDataset} (a stream; each worker reads its own shard).
 */
public sealed interface Dataset extends Serializable permits MapDataset, IterableDataset {

    /**
     * The Arrow schema of one sample: one field a column. Supported column types (see {@link Columns}):
     * signed and unsigned integers of 8 to 64 bits, float32, float64, bool, utf8, binary, and fixed-size
     * tensors (a {@code FixedSizeList} of a numeric type, with its shape in the field's metadata).
     */
    Schema sampleSchema();

    /** Runs in each worker (thread, process, or the caller for {@code numWorkers(0)}) before its first sample. */
    default void open(WorkerContext context) throws Exception {}

    /** Runs in each worker at shutdown, once {@link #open} has run. */
    default void close() throws Exception {}
}
