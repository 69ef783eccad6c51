package io.ringloader.data;

import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

import java.util.List;

/**
 * Map-style datasets of one schema, one after the other, as PyTorch's {@code ConcatDataset}: sample
 * {@code i} is sample {@code i - start(k)} of the part {@code k} it falls in. Each worker opens every part,
 * and closes them in the reverse order. Parts whose schemas differ are refused, naming the first column
 * that differs.
 *
 * @param parts the datasets, in order
 */
public record ConcatDataset(List<MapDataset> parts) implements MapDataset {

    public ConcatDataset {
        if (parts == null || parts.isEmpty()) throw new IllegalArgumentException("ConcatDataset: give at least one dataset");
        parts = List.copyOf(parts);
        checkSameSchema("ConcatDataset", parts.stream().map(Dataset::sampleSchema).toList());
    }

    public static ConcatDataset of(MapDataset... parts) {
        return new ConcatDataset(List.of(parts));
    }

    /** Fails naming the first column where schema {@code k} differs from schema 0. */
    static void checkSameSchema(String who, List<Schema> schemas) {
        List<Field> first = schemas.getFirst().getFields();
        for (int k = 1; k < schemas.size(); k++) {
            List<Field> fields = schemas.get(k).getFields();
            for (int c = 0; c < Math.max(first.size(), fields.size()); c++) {
                Field a = c < first.size() ? first.get(c) : null, b = c < fields.size() ? fields.get(c) : null;
                if (a != null && a.equals(b)) continue;
                throw new IllegalArgumentException(who + ": dataset " + k + "'s column " + c + " is " + describe(b) + ", dataset 0's is "
                        + describe(a) + ": the datasets must have the same sample schema, column for column");
            }
        }
    }

    private static String describe(Field f) {
        return f == null ? "missing" : "'" + f.getName() + "' (" + f.getType() + (f.getChildren().isEmpty() ? "" : " of " + f.getChildren())
                + (f.getMetadata() == null || f.getMetadata().isEmpty() ? "" : ", " + f.getMetadata()) + ")";
    }

    @Override
    public Schema sampleSchema() {
        return parts.getFirst().sampleSchema();
    }

    @Override
    public long size() {
        long n = 0;
        for (MapDataset p : parts) n += p.size();
        return n;
    }

    @Override
    public void open(WorkerContext context) throws Exception {
        openAll(parts, context);
    }

    @Override
    public void read(long index, SampleWriter out) throws Exception {
        for (MapDataset p : parts) {
            long n = p.size();
            if (index < n) {
                p.read(index, out);
                return;
            }
            index -= n;
        }
        throw new IndexOutOfBoundsException("ConcatDataset: sample index past the last part's end");
    }

    @Override
    public String describe(long index) {
        for (int k = 0; k < parts.size(); k++) {
            long n = parts.get(k).size();
            if (index < n) {
                String where = parts.get(k).describe(index);
                return "sample " + index + " of part " + k + (where == null ? "" : ", " + where);
            }
            index -= n;
        }
        return null;
    }

    @Override
    public int length(long index) {
        for (MapDataset p : parts) {
            long n = p.size();
            if (index < n) return p.length(index);
            index -= n;
        }
        return -1;
    }

    /** Closes the parts in the reverse order they were opened. */
    @Override
    public void close() throws Exception {
        closeAll(parts, parts.size());
    }

    /**
     * Opens {@code parts} in order; if one fails, closes those already open (in reverse) before throwing,
     * since a dataset whose open() failed is not closed.
     */
    static void openAll(List<? extends Dataset> parts, WorkerContext context) throws Exception {
        for (int k = 0; k < parts.size(); k++) {
            try {
                parts.get(k).open(context);
            } catch (Exception e) {
                try {
                    closeAll(parts, k);
                } catch (Exception c) {
                    e.addSuppressed(c);
                }
                throw e;
            }
        }
    }

    /** Closes the first {@code opened} of {@code parts}, last first; the first failure is thrown, the others added to it. */
    static void closeAll(List<? extends Dataset> parts, int opened) throws Exception {
        Exception failure = null;
        for (int k = opened - 1; k >= 0; k--) {
            try {
                parts.get(k).close();
            } catch (Exception e) {
                if (failure == null) failure = e;
                else failure.addSuppressed(e);
            }
        }
        if (failure != null) throw failure;
    }
}
