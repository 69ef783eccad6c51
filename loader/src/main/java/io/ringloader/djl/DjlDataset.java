package io.ringloader.djl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.dataset.Dataset;
import ai.djl.util.Progress;
import io.ringloader.data.Columns;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import org.apache.arrow.vector.BaseFixedWidthVector;
import org.apache.arrow.vector.FieldVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.ExecutorService;

/**
 * A {@link DataLoader} as a DJL {@link Dataset}: pass it to {@code EasyTrain.fit(trainer, epochs, train,
 * validate)} or {@code trainer.iterateDataset(...)} unchanged. Each {@code getData} iteration is one
 * epoch of the loader.
 *
 * <p>Tensor and numeric columns become NDArrays of the batch's shape ({@code [batch, shape...]}) and
 * type, created over the batch's shared memory: on the PyTorch engine {@code NDManager.create(ByteBuffer,
 * ...)} wraps a direct buffer with {@code torch::from_blob}, so the trainer's tensors are the worker's
 * bytes. The ring space goes back to the worker when DJL closes its {@code Batch}, after its NDArrays are
 * freed; never before.
 *
 * <pre>{@code
 * Dataset train = DjlDataset.of(loader).data("image").labels("label").build();
 * EasyTrain.fit(trainer, 5, train, null);
 * }</pre>
 */
public final class DjlDataset implements Dataset {
    private final DataLoader loader;
    /** The data and label columns, worked out once from the schema: a batch only looks up its buffers. */
    private final List<Column> data;
    private final List<Column> labels;

    private DjlDataset(DataLoader loader, List<String> data, List<String> labels) {
        this.loader = loader;
        this.data = data.stream().map(c -> Column.of(loader.schema(), c)).toList();
        this.labels = labels.stream().map(c -> Column.of(loader.schema(), c)).toList();
    }

    /**
     * How one column becomes an NDArray: its position in the batch, its DJL type, and its shape but for
     * the batch dimension. Fails on a column that cannot become an NDArray.
     */
    private record Column(String name, int index, boolean tensor, DataType type, long[] dims, long rowBytes) {
        static Column of(org.apache.arrow.vector.types.pojo.Schema schema, String name) {
            List<Field> fields = schema.getFields();
            int index = -1;
            for (int i = 0; i < fields.size(); i++) if (fields.get(i).getName().equals(name)) index = i;
            if (index < 0) {
                throw new IllegalArgumentException("the loader's batches have no column '" + name + "'; they have "
                        + fields.stream().map(Field::getName).toList());
            }
            Field field = fields.get(index);
            DataType type = dataType(field);
            boolean tensor = field.getType() instanceof ArrowType.FixedSizeList;
            int[] shape = tensor ? Columns.shape(field) : new int[0];
            long[] dims = new long[shape.length + 1];
            long elements = 1;
            for (int i = 0; i < shape.length; i++) {
                dims[i + 1] = shape[i];
                elements *= shape[i];
            }
            return new Column(name, index, tensor, type, dims, elements * type.getNumOfBytes());
        }
    }

    public static Builder of(DataLoader loader) {
        return new Builder(loader);
    }

    public DataLoader loader() {
        return loader;
    }

    @Override
    public Iterable<ai.djl.training.dataset.Batch> getData(NDManager manager) {
        return () -> new Iterator<>() {
            private final Iterator<Batch> batches = loader.iterator();
            private long index;

            @Override
            public boolean hasNext() {
                return batches.hasNext();
            }

            @Override
            public ai.djl.training.dataset.Batch next() {
                return toDjl(batches.next(), manager, index++);
            }
        };
    }

    /** The loader's workers do the parallel work; DJL's executor is not needed. */
    @Override
    public Iterable<ai.djl.training.dataset.Batch> getData(NDManager manager, ExecutorService executorService) {
        return getData(manager);
    }

    @Override
    public void prepare(Progress progress) {
        // nothing to download or index: the loader's dataset is ready
    }

    /** One ringloader batch as a DJL batch over the same memory; closing the DJL batch closes both. */
    public ai.djl.training.dataset.Batch toDjl(Batch batch, NDManager manager, long progress) {
        NDManager arrays = manager.newSubManager();
        try {
            VectorSchemaRoot root = batch.root();
            int rows = batch.size();
            NDList x = new NDList(data.size()), y = new NDList(labels.size());
            for (Column c : data) x.add(array(arrays, c, root.getVector(c.index()), rows));
            for (Column c : labels) y.add(array(arrays, c, root.getVector(c.index()), rows));
            return new RingBatch(arrays, x, y, rows, progress, batch);
        } catch (RuntimeException e) {
            arrays.close();
            batch.close();
            throw e;
        }
    }

    /** An NDArray over a column's values in place. */
    private static NDArray array(NDManager manager, Column column, FieldVector vector, int rows) {
        if (vector.getNullCount() > 0) {
            throw new IllegalArgumentException("column '" + column.name() + "' has " + vector.getNullCount()
                    + " nulls in this batch; an NDArray cannot hold nulls");
        }
        FieldVector values = column.tensor() ? (FieldVector) ((FixedSizeListVector) vector).getDataVector() : vector;
        long[] dims = column.dims().clone();
        dims[0] = rows;
        long address = ((BaseFixedWidthVector) values).getDataBuffer().memoryAddress();
        // A direct buffer over the batch's bytes; DJL's PyTorch engine wraps it without copying.
        ByteBuffer buffer = MemorySegment.ofAddress(address).reinterpret(rows * column.rowBytes()).asByteBuffer().order(ByteOrder.nativeOrder());
        return manager.create(buffer, new Shape(dims), column.type());
    }

    /** The DJL type of a column, or an error saying why it cannot be an NDArray. */
    static DataType dataType(Field field) {
        ArrowType t = field.getType() instanceof ArrowType.FixedSizeList && field.getChildren().size() == 1
                ? field.getChildren().getFirst().getType() : field.getType();
        Columns.DType d = Columns.DType.of(t);
        if (d == null || t instanceof ArrowType.Bool) {
            throw new IllegalArgumentException("column '" + field.getName() + "' (" + field.getType() + ") cannot become an"
                    + " NDArray: use a numeric or tensor column (bool: store it as int8)");
        }
        return switch (d) {
            case INT8 -> DataType.INT8;
            case UINT8 -> DataType.UINT8;
            case INT16 -> DataType.INT16;
            case INT32 -> DataType.INT32;
            case INT64 -> DataType.INT64;
            case FLOAT32 -> DataType.FLOAT32;
            case FLOAT64 -> DataType.FLOAT64;
        };
    }

    /**
     * A DJL batch that owns a ringloader batch: closing it frees its NDArrays (its sub-manager) first,
     * then hands the shared memory back to the worker.
     */
    static final class RingBatch extends ai.djl.training.dataset.Batch {
        private final Batch ring;

        RingBatch(NDManager manager, NDList data, NDList labels, int size, long progress, Batch ring) {
            super(manager, data, labels, size, null, null, progress, -1);
            this.ring = ring;
        }

        /** The ringloader batch underneath. */
        Batch ring() {
            return ring;
        }

        @Override
        public void close() {
            try {
                super.close();
            } finally {
                ring.close();
            }
        }
    }

    /** Says which columns are data and which are labels. */
    public static final class Builder {
        private final DataLoader loader;
        private final List<String> data = new ArrayList<>();
        private final List<String> labels = new ArrayList<>();

        private Builder(DataLoader loader) {
            this.loader = loader;
        }

        public Builder data(String... columns) {
            data.addAll(List.of(columns));
            return this;
        }

        public Builder labels(String... columns) {
            labels.addAll(List.of(columns));
            return this;
        }

        public DjlDataset build() {
            if (data.isEmpty()) throw new IllegalArgumentException("say which columns are data: DjlDataset.of(loader).data(\"image\")");
            return new DjlDataset(loader, List.copyOf(data), List.copyOf(labels));
        }
    }
}
