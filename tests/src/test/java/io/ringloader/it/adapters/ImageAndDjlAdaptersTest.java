package io.ringloader.it.adapters;

import ai.djl.ndarray.NDManager;
import ai.djl.training.dataset.ArrayDataset;
import io.ringloader.adapters.djl.DjlRandomAccessDataset;
import io.ringloader.adapters.images.ImageFolderDataset;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.SampleReadException;
import io.ringloader.testkit.Isolated;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.Float4Vector;
import org.apache.arrow.vector.complex.FixedSizeListVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Image folders decoded and augmented in workers; a DJL dataset run by workers, each with its own engine. */
@Isolated(timeout = "150s")
class ImageAndDjlAdaptersTest {
    @TempDir
    Path dir;

    /** root/red/*.png (pure red) and root/blue/*.jpg (pure blue). */
    private Path folder(int perClass) throws Exception {
        Path root = dir.resolve("images");
        for (String cls : List.of("red", "blue")) {
            Files.createDirectories(root.resolve(cls));
            for (int i = 0; i < perClass; i++) {
                BufferedImage img = new BufferedImage(20 + i, 16, BufferedImage.TYPE_INT_RGB);
                var g = img.createGraphics();
                g.setColor(cls.equals("red") ? Color.RED : Color.BLUE);
                g.fillRect(0, 0, img.getWidth(), img.getHeight());
                g.dispose();
                String format = cls.equals("red") ? "png" : "jpg";
                ImageIO.write(img, format, root.resolve(cls).resolve(i + "." + format).toFile());
            }
        }
        return root;
    }

    @Test
    void imageFoldersAreDecodedAndAugmentedByTheWorkersTheSameWhateverTheirNumber() throws Exception {
        Path root = folder(20);
        ImageFolderDataset ds = ImageFolderDataset.of(root, 8, true);
        assertThat(ds.classes()).containsExactly("blue", "red");
        Map<Integer, List<String>> runs = new HashMap<>();
        java.util.Set<Integer> builders = new java.util.HashSet<>();
        for (int workers : new int[] {0, 2}) {
            List<String> contents = new ArrayList<>();
            try (DataLoader l = DataLoader.builder(ds).batchSize(8).seed(5).numWorkers(workers).build()) {
                for (Batch b : l) {
                    try (b) {
                        BigIntVector label = (BigIntVector) b.root().getVector("label");
                        Float4Vector px = (Float4Vector) ((FixedSizeListVector) b.root().getVector("image")).getDataVector();
                        for (int r = 0; r < b.size(); r++) {
                            int plane = 64, at = r * 3 * plane + 27;
                            // blue (label 0) has its mass in the third plane, red (label 1) in the first.
                            if (label.get(r) == 1) assertThat(px.get(at)).isGreaterThan(0.9f);
                            else assertThat(px.get(at + 2 * plane)).isGreaterThan(0.8f);
                        }
                        contents.add(io.ringloader.it.loader.BatchesAccess.content(b));
                        if (workers == 2) builders.add(b.workerId());
                    }
                }
            }
            runs.put(workers, contents);
        }
        assertThat(runs.get(2)).as("the same augmented batches with 2 workers as with none").isEqualTo(runs.get(0));
        assertThat(builders).as("both workers decoded pictures themselves").containsExactlyInAnyOrder(0, 1);
    }

    @Test
    void anEmptyClassFolderIsRefusedNamingItUnlessAllowedThenItKeepsItsLabel() throws Exception {
        Path root = folder(3); // blue (label 0), red (label 1)
        Path green = Files.createDirectories(root.resolve("green")); // between them in name order
        Files.writeString(green.resolve("notes.txt"), "no pictures here");
        assertThatThrownBy(() -> ImageFolderDataset.of(root, 8, false)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("the class folder " + green + " (label 1) has no .png or .jpg pictures")
                .hasMessageContaining("allowEmptyClasses(true)");
        ImageFolderDataset ds = ImageFolderDataset.builder(root).size(8).allowEmptyClasses(true).build();
        assertThat(ds.classes()).containsExactly("blue", "green", "red");
        assertThat(ds.size()).isEqualTo(6);
        java.util.Map<Long, Long> labels = new java.util.TreeMap<>();
        try (DataLoader l = DataLoader.builder(ds).batchSize(6).numWorkers(1).build(); Batch b = l.iterator().next()) {
            BigIntVector label = (BigIntVector) b.root().getVector("label");
            Float4Vector px = (Float4Vector) ((FixedSizeListVector) b.root().getVector("image")).getDataVector();
            for (int r = 0; r < b.size(); r++) {
                labels.merge(label.get(r), 1L, Long::sum);
                // red pictures keep label 2, the place of "red" in name order, not 1
                if (label.get(r) == 2) assertThat(px.get(r * 3 * 64 + 27)).isGreaterThan(0.9f);
            }
        }
        assertThat(labels).containsExactly(java.util.Map.entry(0L, 3L), java.util.Map.entry(2L, 3L));
    }

    @Test
    void aPictureThatCannotBeDecodedNamesItsFile() throws Exception {
        Path root = folder(3);
        Path bad = root.resolve("red").resolve("1.png");
        Files.writeString(bad, "not a picture");
        try (DataLoader l = DataLoader.builder(ImageFolderDataset.of(root, 8, false)).batchSize(6).numWorkers(1).build()) {
            assertThatThrownBy(() -> {
                for (Batch b : l) b.close();
            }).isInstanceOf(SampleReadException.class).hasMessageContaining(bad.toString());
        }
        Path empty = Files.createDirectories(dir.resolve("empty"));
        assertThatThrownBy(() -> ImageFolderDataset.of(empty, 8, false)).hasMessageContaining("has no class folders");
        assertThatThrownBy(() -> ImageFolderDataset.of(dir, 8, false)).hasMessageContaining("has class folders but no .png or .jpg pictures");
    }

    @Test
    void aDjlDatasetRunsInWorkersEachWithItsOwnEngine() throws Exception {
        DjlRandomAccessDataset ds = DjlRandomAccessDataset.of(manager -> {
            float[][] features = new float[100][3];
            float[] labels = new float[100];
            for (int i = 0; i < 100; i++) {
                for (int j = 0; j < 3; j++) features[i][j] = i * 10 + j;
                labels[i] = i % 4;
            }
            return new ArrayDataset.Builder().setData(manager.create(features)).optLabels(manager.create(labels))
                    .setSampling(1, false).build();
        });
        assertThat(ds.sampleSchema().getFields()).extracting(f -> f.getName()).containsExactly("data0", "label0");
        try (DataLoader l = DataLoader.builder(ds).batchSize(25).numWorkers(2).persistentWorkers(true).build()) {
            int rows = 0;
            for (Batch b : l) {
                try (b) {
                    Float4Vector x = (Float4Vector) ((FixedSizeListVector) b.root().getVector("data0")).getDataVector();
                    Float4Vector y = (Float4Vector) ((FixedSizeListVector) b.root().getVector("label0")).getDataVector();
                    for (int r = 0; r < b.size(); r++, rows++) {
                        long i = b.sampleIndices()[r];
                        assertThat(x.get(r * 3 + 2)).isEqualTo(i * 10 + 2);
                        assertThat(y.get(r)).isEqualTo(i % 4);
                    }
                }
            }
            assertThat(rows).isEqualTo(100);
            for (long pid : l.workerPids()) {
                assertThat(Files.readString(Path.of("/proc/" + pid + "/maps"))).as("worker pid %d loaded its own PyTorch", pid).contains("libtorch");
            }
        }
    }
}
