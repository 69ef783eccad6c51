package io.ringloader.adapters.shapes;

import org.apache.arrow.memory.BufferAllocator;
import org.apache.arrow.memory.RootAllocator;
import org.apache.arrow.vector.TinyIntVector;
import org.apache.arrow.vector.VarBinaryVector;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.ipc.ArrowFileWriter;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.FieldType;
import org.apache.arrow.vector.types.pojo.Schema;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.Polygon;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The built-in dataset, "shapes": small RGB pictures of a circle, a square, a triangle, a star or a cross,
 * each with a random colour, size, position, rotation, background and pixel noise, generated
 * deterministically from a seed and stored as PNG bytes in an Arrow IPC file (columns {@code png} binary
 * and {@code label} int8).
 */
public final class Shapes {
    private Shapes() {}

    public static final List<String> CLASSES = List.of("circle", "square", "triangle", "star", "cross");
    /** Side of a stored picture, in pixels. */
    public static final int SIZE = 40;
    /** Pictures per Arrow record batch in the file. */
    static final int ROWS_PER_BATCH = 1024;

    static final Schema SCHEMA = new Schema(List.of(
            new Field("png", FieldType.notNullable(ArrowType.Binary.INSTANCE), null),
            new Field("label", FieldType.notNullable(new ArrowType.Int(8, true)), null)));

    /** The file of a split, generated when missing (or when {@code count} or {@code seed} changed). */
    public static Path ensure(Path dir, String split, int count, long seed) {
        Path file = dir.resolve("shapes-" + split + "-" + count + "-" + seed + ".arrow");
        if (Files.isRegularFile(file)) return file;
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "shapes-", ".tmp");
            try {
                write(tmp, count, seed ^ split.hashCode());
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the shapes dataset to " + file, e);
        }
    }

    private static void write(Path file, int count, long seed) throws IOException {
        try (BufferAllocator allocator = new RootAllocator();
             VectorSchemaRoot root = VectorSchemaRoot.create(SCHEMA, allocator);
             FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
             ArrowFileWriter writer = new ArrowFileWriter(root, null, channel)) {
            writer.start();
            VarBinaryVector png = (VarBinaryVector) root.getVector("png");
            TinyIntVector label = (TinyIntVector) root.getVector("label");
            for (int from = 0; from < count; from += ROWS_PER_BATCH) {
                int rows = Math.min(ROWS_PER_BATCH, count - from);
                png.allocateNew(rows);
                label.allocateNew(rows);
                for (int r = 0; r < rows; r++) {
                    int i = from + r;
                    int cls = i % CLASSES.size();
                    png.setSafe(r, encode(draw(cls, new SplittableRandom(seed * 0x9E3779B97F4A7C15L + i))));
                    label.set(r, cls);
                }
                root.setRowCount(rows);
                writer.writeBatch();
            }
            writer.end();
        }
    }

    /** One picture of class {@code cls}. */
    static BufferedImage draw(int cls, SplittableRandom random) {
        BufferedImage img = new BufferedImage(SIZE, SIZE, BufferedImage.TYPE_3BYTE_BGR);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        int bg = random.nextInt(80);
        g.setColor(new Color(bg + random.nextInt(20), bg + random.nextInt(20), bg + random.nextInt(20)));
        g.fillRect(0, 0, SIZE, SIZE);
        // A bright colour on a dark background, so that every picture shows its shape.
        float hue = random.nextFloat();
        g.setColor(Color.getHSBColor(hue, 0.5f + 0.5f * random.nextFloat(), 0.7f + 0.3f * random.nextFloat()));
        double r = 8 + random.nextDouble() * 6; // radius 8..14 px
        double cx = r + 4 + random.nextDouble() * (SIZE - 2 * r - 8), cy = r + 4 + random.nextDouble() * (SIZE - 2 * r - 8);
        g.setTransform(AffineTransform.getRotateInstance(random.nextDouble() * 2 * Math.PI, cx, cy));
        switch (CLASSES.get(cls)) {
            case "circle" -> g.fillOval((int) (cx - r), (int) (cy - r), (int) (2 * r), (int) (2 * r));
            case "square" -> {
                int s = (int) (r * 1.6);
                g.fillRect((int) cx - s / 2, (int) cy - s / 2, s, s);
            }
            case "triangle" -> g.fillPolygon(star(cx, cy, r, r, 3));
            case "star" -> g.fillPolygon(star(cx, cy, r, r * 0.45, 5));
            case "cross" -> {
                g.setStroke(new BasicStroke((float) (r * 0.55)));
                g.drawLine((int) (cx - r), (int) cy, (int) (cx + r), (int) cy);
                g.drawLine((int) cx, (int) (cy - r), (int) cx, (int) (cy + r));
            }
            default -> throw new IllegalStateException();
        }
        g.dispose();
        // Pixel noise.
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                int rgb = img.getRGB(x, y), n = random.nextInt(33) - 16;
                int red = clamp(((rgb >> 16) & 255) + n), green = clamp(((rgb >> 8) & 255) + n), blue = clamp((rgb & 255) + n);
                img.setRGB(x, y, (red << 16) | (green << 8) | blue);
            }
        }
        return img;
    }

    /** A regular star polygon with {@code points} points (outer radius {@code r}, inner {@code inner}). */
    private static Polygon star(double cx, double cy, double r, double inner, int points) {
        Polygon p = new Polygon();
        boolean plain = inner == r;
        int n = plain ? points : 2 * points;
        for (int k = 0; k < n; k++) {
            double radius = plain || k % 2 == 0 ? r : inner;
            double a = -Math.PI / 2 + k * 2 * Math.PI / n;
            p.addPoint((int) Math.round(cx + radius * Math.cos(a)), (int) Math.round(cy + radius * Math.sin(a)));
        }
        return p;
    }

    private static int clamp(int v) {
        return Math.max(0, Math.min(255, v));
    }

    private static byte[] encode(BufferedImage img) throws IOException {
        ImageIO.setUseCache(false); // no temporary files
        ByteArrayOutputStream out = new ByteArrayOutputStream(2048);
        if (!ImageIO.write(img, "png", out)) throw new IOException("no PNG writer in this JVM");
        return out.toByteArray();
    }
}
