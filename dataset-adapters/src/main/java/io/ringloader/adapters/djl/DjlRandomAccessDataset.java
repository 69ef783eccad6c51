package io.ringloader.adapters.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.dataset.RandomAccessDataset;
import ai.djl.training.dataset.Record;
import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.Serializable;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An existing DJL {@link RandomAccessDataset} (DJL's {@code ArrayDataset}, {@code ImageFolder}, one of
 * your own) run by ringloader's workers. A DJL dataset holds NDArrays and an engine, which cannot travel,
 * so the recipe is a serializable {@link Factory} that builds it: each worker starts its own engine and
 * dataset in {@link #open}. The record of sample 0 (read once in the trainer) gives the columns:
 * {@code data0, data1, ...} then {@code label0, ...}, each a tensor of the record's shape and type.
 *
 * <pre>{@code
 * MapDataset ds = DjlRandomAccessDataset.of(() -> new ArrayDataset.Builder()
 *         .setData(manager.create(features)).optLabels(manager.create(labels)).setSampling(1, false).build());
 * }</pre>
 */
public final class DjlRandomAccessDataset implements MapDataset {
    /** Builds the DJL dataset; runs in the trainer once (to learn the columns) and in every worker. */
    @FunctionalInterface
    public interface Factory extends Serializable {
        RandomAccessDataset create(NDManager manager) throws Exception;
    }

    private final Factory factory;
    private final long size;
    private final String[] names;
    private final Columns.DType[] types;
    private final long[][] shapes;
    private final int dataCount;

    private transient NDManager manager;
    private transient RandomAccessDataset dataset;

    private DjlRandomAccessDataset(Factory factory) {
        this.factory = factory;
        try (NDManager m = NDManager.newBaseManager()) {
            RandomAccessDataset ds = factory.create(m);
            ds.prepare();
            this.size = ds.size();
            Record r = ds.get(m, 0);
            List<NDArray> arrays = new ArrayList<>(r.getData());
            this.dataCount = arrays.size();
            arrays.addAll(r.getLabels());
            names = new String[arrays.size()];
            types = new Columns.DType[arrays.size()];
            shapes = new long[arrays.size()][];
            for (int i = 0; i < arrays.size(); i++) {
                NDArray a = arrays.get(i);
                names[i] = i < dataCount ? "data" + i : "label" + (i - dataCount);
                types[i] = dtype(a.getDataType(), names[i]);
                shapes[i] = a.getShape().getShape();
            }
        } catch (Exception e) {
            throw new IllegalArgumentException("cannot build the DJL dataset in the trainer to learn its columns: " + e, e);
        }
    }

    public static DjlRandomAccessDataset of(Factory factory) {
        return new DjlRandomAccessDataset(factory);
    }

    private static Columns.DType dtype(DataType t, String column) {
        return switch (t) {
            case FLOAT32 -> Columns.DType.FLOAT32;
            case FLOAT64 -> Columns.DType.FLOAT64;
            case INT8 -> Columns.DType.INT8;
            case UINT8 -> Columns.DType.UINT8;
            case INT32 -> Columns.DType.INT32;
            case INT64 -> Columns.DType.INT64;
            default -> throw new IllegalArgumentException("column " + column + " has DJL type " + t + ", which ringloader cannot hold");
        };
    }

    @Override
    public Schema sampleSchema() {
        List<Field> fields = new ArrayList<>();
        for (int i = 0; i < names.length; i++) {
            int[] shape = Arrays.stream(shapes[i]).mapToInt(Math::toIntExact).toArray();
            fields.add(Columns.tensor(names[i], types[i], shape.length == 0 ? new int[] {1} : shape));
        }
        return new Schema(fields);
    }

    @Override
    public long size() {
        return size;
    }

    /** This worker's own engine and dataset. */
    @Override
    public void open(WorkerContext context) throws Exception {
        manager = NDManager.newBaseManager();
        dataset = factory.create(manager);
        dataset.prepare();
    }

    @Override
    public void read(long index, SampleWriter out) throws Exception {
        try (NDManager sample = manager.newSubManager()) {
            Record r = dataset.get(sample, index);
            NDList all = new NDList(r.getData());
            all.addAll(r.getLabels());
            if (all.size() != names.length) {
                throw new IllegalStateException("sample " + index + " has " + all.size() + " arrays; sample 0 had " + names.length);
            }
            for (int i = 0; i < names.length; i++) {
                NDArray a = all.get(i);
                if (!Arrays.equals(a.getShape().getShape(), shapes[i])) {
                    throw new IllegalStateException("sample " + index + ": " + names[i] + " has shape " + a.getShape()
                            + ", sample 0 had " + Arrays.toString(shapes[i]) + "; ringloader batches need one shape per column");
                }
                MemorySegment slot = out.tensor(i);
                MemorySegment.copy(MemorySegment.ofBuffer(a.toByteBuffer()), 0, slot, 0, slot.byteSize());
            }
        }
    }

    @Override
    public void close() {
        if (manager != null) manager.close();
        manager = null;
        dataset = null;
    }
}
