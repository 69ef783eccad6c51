package io.ringloader.adapters.shapes;

import io.ringloader.adapters.arrow.MappedArrowFile;
import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.types.pojo.Schema;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
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
    /** The file, mapped in open(), and its record batches as vectors over the mapping. */
    private transient MappedArrowFile mapped;
    private transient BufferAllocator allocator;
    private transient VectorSchemaRoot[] roots;
    /** Each record batch's columns, looked up once. */
    private transient VarBinaryVector[] pngs;
    private transient TinyIntVector[] labels;
    /** The first sample of each record batch, and the number of samples last. */
    private transient long[] batchStarts;

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

    /**
     * Maps the file: the pictures stay in the page cache, which every worker shares, instead of a copy in
     * each worker's heap (24 MB of 8,000 pictures per worker, before).
     */
    @Override
    public void open(WorkerContext context) {
        ImageIO.setUseCache(false); // no temporary files from the decoder
        allocator = new RootAllocator();
        mapped = MappedArrowFile.open(Path.of(file));
        long[] rows = mapped.batchRows();
        roots = new VectorSchemaRoot[rows.length];
        pngs = new VarBinaryVector[rows.length];
        labels = new TinyIntVector[rows.length];
        batchStarts = new long[rows.length + 1];
        for (int b = 0; b < rows.length; b++) {
            roots[b] = mapped.load(b, allocator);
            pngs[b] = (VarBinaryVector) roots[b].getVector("png");
            labels[b] = (TinyIntVector) roots[b].getVector("label");
            batchStarts[b + 1] = batchStarts[b] + rows[b];
        }
    }

    @Override
    public long size() {
        if (batchStarts != null) return batchStarts[batchStarts.length - 1];
        // Before open (in the trainer): the rows from the record batches' metadata, no picture read.
        try (MappedArrowFile m = MappedArrowFile.open(Path.of(file))) {
            return java.util.Arrays.stream(m.batchRows()).sum();
        }
    }

    @Override
    public void read(long index, SampleWriter out) throws IOException {
        if (roots == null) throw new IllegalStateException("ShapesDataset(" + file + ") is not open: open(WorkerContext) maps the file");
        int b = java.util.Arrays.binarySearch(batchStarts, index);
        if (b < 0) b = -b - 2;
        int r = Math.toIntExact(index - batchStarts[b]);
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(pngs[b].get(r)));
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
        out.setLong(1, labels[b].get(r));
    }

    /** Vectors, then the mapping, then the allocator: the reverse of open(). */
    @Override
    public void close() {
        if (roots != null) for (VectorSchemaRoot root : roots) root.close();
        if (mapped != null) mapped.close();
        if (allocator != null) allocator.close();
        roots = null;
        pngs = null;
        labels = null;
        mapped = null;
        allocator = null;
        batchStarts = null;
    }

    public String file() {
        return file;
    }
}
