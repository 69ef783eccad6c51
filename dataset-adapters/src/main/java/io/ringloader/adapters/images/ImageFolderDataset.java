package io.ringloader.adapters.images;

import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.vector.types.pojo.Schema;

import javax.imageio.ImageIO;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * Pictures in {@code root/<class>/*.png|jpg|jpeg}, as DJL's and torchvision's {@code ImageFolder}: the
 * label is the index of the class folder in name order. Workers decode each picture, scale it to a
 * square of side {@code size + size/8}, and crop {@code size x size} from it: at random, with a random
 * horizontal flip, when {@code augment} (each sample's own random stream, so the result does not
 * depend on the workers), in the centre otherwise. Pixels go straight into the
 * batch's {@code image} tensor, float32 [3, size, size], scaled to [0, 1].
 *
 * <p>A class folder without pictures is refused, naming it, as torchvision's {@code ImageFolder} does:
 * whether it counts decides the labels of every class after it, so a split with the folder empty and
 * one with it gone or full would number their classes differently. {@link Builder#allowEmptyClasses}
 * keeps such a folder as a class with its label and no samples ({@link #classes} lists it).
 */
public final class ImageFolderDataset implements MapDataset {
    private final String[] files;
    private final int[] labels;
    private final List<String> classes;
    private final int size;
    private final boolean augment;

    private ImageFolderDataset(Path root, int size, boolean augment, boolean allowEmptyClasses) {
        if (size < 1) throw new IllegalArgumentException("image size must be positive, got " + size);
        this.size = size;
        this.augment = augment;
        List<Path> classDirs;
        try (Stream<Path> s = Files.list(root)) {
            classDirs = s.filter(Files::isDirectory).sorted().toList();
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot list the image folder " + root + ": " + e, e);
        }
        if (classDirs.isEmpty()) throw new IllegalArgumentException(root + " has no class folders (root/<class>/*.png)");
        List<String> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        List<String> empty = new ArrayList<>();
        for (int c = 0; c < classDirs.size(); c++) {
            int before = files.size();
            try (Stream<Path> s = Files.list(classDirs.get(c))) {
                for (Path p : s.filter(ImageFolderDataset::isImage).sorted().toList()) {
                    files.add(p.toString());
                    labels.add(c);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            if (files.size() == before) empty.add(classDirs.get(c) + " (label " + c + ")");
        }
        if (!empty.isEmpty() && !allowEmptyClasses && files.size() > 0) {
            throw new IllegalArgumentException((empty.size() == 1 ? "the class folder " + empty.getFirst() + " has"
                    : "the class folders " + String.join(", ", empty) + " have") + " no .png or .jpg pictures."
                    + " Whether an empty class counts decides the label of every class after it: remove the folder,"
                    + " or build with ImageFolderDataset.Builder.allowEmptyClasses(true) to keep it as a class without samples");
        }
        if (files.isEmpty()) throw new IllegalArgumentException(root + " has class folders but no .png or .jpg pictures in them");
        this.files = files.toArray(String[]::new);
        this.labels = labels.stream().mapToInt(Integer::intValue).toArray();
        this.classes = classDirs.stream().map(p -> p.getFileName().toString()).toList();
    }

    public static ImageFolderDataset of(Path root, int size, boolean augment) {
        return builder(root).size(size).augment(augment).build();
    }

    public static Builder builder(Path root) {
        return new Builder(root);
    }

    private static boolean isImage(Path p) {
        String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
        return n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg");
    }

    /** The class names, in label order. */
    public List<String> classes() {
        return classes;
    }

    @Override
    public Schema sampleSchema() {
        return Columns.schema(Columns.tensor("image", Columns.DType.FLOAT32, 3, size, size), Columns.int64("label"));
    }

    @Override
    public long size() {
        return files.length;
    }

    @Override
    public void open(WorkerContext context) {
        ImageIO.setUseCache(false); // no temporary files
    }

    @Override
    public String describe(long index) {
        return index >= 0 && index < files.length ? files[(int) index] : null;
    }

    @Override
    public void read(long index, SampleWriter out) throws IOException {
        String file = files[Math.toIntExact(index)];
        BufferedImage img;
        try {
            img = ImageIO.read(Path.of(file).toFile());
        } catch (IOException e) {
            throw new IOException(file + " (sample " + index + ") cannot be decoded: " + e.getMessage(), e);
        }
        if (img == null) throw new IOException(file + " (sample " + index + ") is not a PNG or JPEG picture");
        int big = size + size / 8;
        BufferedImage scaled = new BufferedImage(big, big, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = scaled.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(img, 0, 0, big, big, null);
        g.dispose();
        Crop crop = Crop.of(out, big - size, augment);
        int x0 = crop.x(), y0 = crop.y();
        boolean flip = crop.flip();
        MemorySegment image = out.tensor(0);
        long plane = (long) size * size;
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                int rgb = scaled.getRGB(x0 + (flip ? size - 1 - x : x), y0 + y);
                long at = (long) y * size + x;
                image.setAtIndex(JAVA_FLOAT, at, ((rgb >> 16) & 255) / 255f);
                image.setAtIndex(JAVA_FLOAT, plane + at, ((rgb >> 8) & 255) / 255f);
                image.setAtIndex(JAVA_FLOAT, 2 * plane + at, (rgb & 255) / 255f);
            }
        }
        out.setLong(1, labels[Math.toIntExact(index)]);
    }

    /** The folder, the side of the square, augmentation, and whether empty classes are allowed. */
    public static final class Builder {
        private final Path root;
        private int size = 32;
        private boolean augment;
        private boolean allowEmptyClasses;

        private Builder(Path root) {
            this.root = root;
        }

        /** The side of the square picture a sample holds (default 32). */
        public Builder size(int size) {
            this.size = size;
            return this;
        }

        /** Random crops and flips (each sample's own random stream), instead of centre crops. */
        public Builder augment(boolean augment) {
            this.augment = augment;
            return this;
        }

        /**
         * Keeps a class folder without pictures as a class: its label is its place in name order, as for
         * the others, and it has no samples. By default such a folder is an error naming it.
         */
        public Builder allowEmptyClasses(boolean allow) {
            this.allowEmptyClasses = allow;
            return this;
        }

        public ImageFolderDataset build() {
            return new ImageFolderDataset(root, size, augment, allowEmptyClasses);
        }
    }
}
