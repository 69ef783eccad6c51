package io.ringloader.adapters.shapes;

import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileReader;
import org.apache.arrow.vector.ipc.message.ArrowBlock;
import org.apache.arrow.vector.types.pojo.Schema;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * The shapes of an Arrow IPC file as a map-style dataset: each worker reads the file in {@link #open},
 * decodes a sample's PNG in {@link #read}, and augments it with the sample's own random stream (a random
 * {@value #CROP}x{@value #CROP} crop and a horizontal flip, when {@code augment}), writing normalised
 * pixels straight into the batch's {@code image} tensor, float32 [3, 32, 32] (channels first).
 *
 * <p>The recipe is the file's path and the flag; the pictures are read in each worker, never shipped.
 */
public final class ShapesDataset implements MapDataset {
    public static final int CROP = 32;
    private static final float MEAN = 0.5f, STD = 0.25f;

    private final String file;
    private final boolean augment;
    /** The file's pictures and labels, read in open(). */
    private transient byte[][] png;
    private transient byte[] label;

    /**
     * @param file    the Arrow IPC file, from {@link Shapes#ensure}
     * @param augment random crop and flip (training); otherwise the centre crop (evaluation)
     */
    public ShapesDataset(Path file, boolean augment) {
        this.file = file.toString();
        this.augment = augment;
    }

    @Override
    public Schema sampleSchema() {
        return Columns.schema(Columns.tensor("image", Columns.DType.FLOAT32, 3, CROP, CROP), Columns.int64("label"));
    }

    @Override
    public void open(WorkerContext context) throws IOException {
        ImageIO.setUseCache(false); // no temporary files from the decoder
        try (BufferAllocator allocator = new RootAllocator();
             FileChannel channel = FileChannel.open(Path.of(file));
             ArrowFileReader reader = new ArrowFileReader(channel, allocator)) {
            VectorSchemaRoot root = reader.getVectorSchemaRoot();
            int total = 0;
            for (ArrowBlock block : reader.getRecordBlocks()) {
                reader.loadRecordBatch(block);
                total += root.getRowCount();
            }
            png = new byte[total][];
            label = new byte[total];
            int at = 0;
            for (ArrowBlock block : reader.getRecordBlocks()) {
                reader.loadRecordBatch(block);
                VarBinaryVector pngs = (VarBinaryVector) root.getVector("png");
                TinyIntVector labels = (TinyIntVector) root.getVector("label");
                for (int r = 0; r < root.getRowCount(); r++, at++) {
                    png[at] = pngs.get(r);
                    label[at] = labels.get(r);
                }
            }
        }
    }

    @Override
    public long size() {
        if (label != null) return label.length;
        // Before open (in the trainer): count the rows from the file's footer.
        try (BufferAllocator allocator = new RootAllocator();
             FileChannel channel = FileChannel.open(Path.of(file));
             ArrowFileReader reader = new ArrowFileReader(channel, allocator)) {
            long n = 0;
            for (ArrowBlock block : reader.getRecordBlocks()) {
                reader.loadRecordBatch(block);
                n += reader.getVectorSchemaRoot().getRowCount();
            }
            return n;
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot read " + file, e);
        }
    }

    @Override
    public void read(long index, SampleWriter out) throws IOException {
        if (png == null) throw new IllegalStateException("ShapesDataset(" + file + ") is not open: open(WorkerContext) reads the file");
        int i = Math.toIntExact(index);
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(png[i]));
        if (img == null || img.getType() != BufferedImage.TYPE_3BYTE_BGR) {
            throw new IOException("sample " + index + " of " + file + " is not a " + Shapes.SIZE + "x" + Shapes.SIZE + " RGB PNG");
        }
        byte[] bgr = ((DataBufferByte) img.getRaster().getDataBuffer()).getData();
        int w = img.getWidth();
        io.ringloader.adapters.images.Crop crop = io.ringloader.adapters.images.Crop.of(out, w - CROP, augment);
        int x0 = crop.x(), y0 = crop.y();
        boolean flip = crop.flip();
        MemorySegment image = out.tensor(0);
        for (int y = 0; y < CROP; y++) {
            for (int x = 0; x < CROP; x++) {
                int sx = x0 + (flip ? CROP - 1 - x : x), p = ((y0 + y) * w + sx) * 3;
                long at = (long) y * CROP + x;
                // BGR bytes to normalised RGB planes.
                image.setAtIndex(JAVA_FLOAT, at, ((bgr[p + 2] & 255) / 255f - MEAN) / STD);
                image.setAtIndex(JAVA_FLOAT, CROP * CROP + at, ((bgr[p + 1] & 255) / 255f - MEAN) / STD);
                image.setAtIndex(JAVA_FLOAT, 2 * CROP * CROP + at, ((bgr[p] & 255) / 255f - MEAN) / STD);
            }
        }
        out.setLong(1, label[i]);
    }

    @Override
    public void close() {
        png = null;
        label = null;
    }

    public String file() {
        return file;
    }
}
