package io.ringloader.data;

import org.apache.arrow.vector.types.pojo.Schema;

import java.util.List;

/**
 * Streams of one schema, one after the other, as PyTorch's {@code ChainDataset}: shard {@code s} of the
 * chain is shard {@code s} of each part in turn (every part is cut into the loader's shard count). Each
 * worker opens every part, and closes them in the reverse order. Parts whose schemas differ are refused,
 * naming the first column that differs.
 *
 * @param parts the streams, in order
 */
public record ChainDataset(List<IterableDataset> parts) implements IterableDataset {

    public ChainDataset {
        if (parts == null || parts.isEmpty()) throw new IllegalArgumentException("ChainDataset: give at least one dataset");
        parts = List.copyOf(parts);
        ConcatDataset.checkSameSchema("ChainDataset", parts.stream().map(Dataset::sampleSchema).toList());
    }

    public static ChainDataset of(IterableDataset... parts) {
        return new ChainDataset(List.of(parts));
    }

    @Override
    public Schema sampleSchema() {
        return parts.getFirst().sampleSchema();
    }

    @Override
    public void open(WorkerContext context) throws Exception {
        ConcatDataset.openAll(parts, context);
    }

    /**
     * The shard of each part in turn. Skipping (a resumed loader, a replaced worker) reads and drops:
     * where one part's position ends and the next one's begins is known only by reading.
     */
    @Override
    public SampleSource stream(WorkerContext context) {
        return new SampleSource() {
            private int part = -1;
            private SampleSource current;

            @Override
            public boolean next(SampleWriter out) throws Exception {
                while (true) {
                    if (current == null) {
                        if (++part == parts.size()) return false;
                        current = parts.get(part).stream(context);
                    }
                    if (current.next(out)) return true;
                    current.close();
                    current = null;
                }
            }

            @Override
            public void close() throws Exception {
                if (current != null) current.close();
                current = null;
                part = parts.size();
            }
        };
    }

    @Override
    public void close() throws Exception {
        ConcatDataset.closeAll(parts, parts.size());
    }
}
