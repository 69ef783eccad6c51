package io.ringloader.it.loader;

import io.ringloader.data.MapDataset;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.remote.Token;
import io.ringloader.remote.WorkerHost;
import io.ringloader.testkit.Isolated;
import org.apache.arrow.vector.BigIntVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.ToolProvider;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A dataset class that exists only in this JVM (compiled at run time and loaded by a class loader of
 * its own, as a notebook cell's classes are) still runs in process workers: its bytes, and those of the
 * classes it uses, travel with the recipe, to local workers and to a worker host's alike. PyTorch's spawn
 * start method fails on this case in Jupyter.
 */
@Isolated(timeout = "60s")
class ClassShippingTest {

    private static final String SOURCE = """
            package notebook;

            import io.ringloader.data.Columns;
            import io.ringloader.data.MapDataset;
            import io.ringloader.data.SampleWriter;
            import org.apache.arrow.vector.types.pojo.Schema;

            public record Cell(long n) implements MapDataset {
                public Schema sampleSchema() { return Columns.schema(Columns.int64("id"), Columns.int64("square")); }
                public long size() { return n; }
                public void read(long i, SampleWriter out) {
                    out.setLong(0, i);
                    out.setLong(1, Helper.square(i));
                }
            }

            class Helper {
                static long square(long i) { return i * i + Offset.VALUE; }
            }

            class Offset {
                static final long VALUE = Long.parseLong("1000");
            }
            """;

    @Test
    void aDatasetDefinedOutsideTheClassPathRunsInProcessWorkersAndOnAWorkerHost(@TempDir Path dir) throws Exception {
        Path src = dir.resolve("notebook/Cell.java");
        Files.createDirectories(src.getParent());
        Files.writeString(src, SOURCE);
        int rc = ToolProvider.getSystemJavaCompiler().run(null, null, null,
                "-d", dir.resolve("classes").toString(), "-cp", System.getProperty("java.class.path"), src.toString());
        assertThat(rc).as("javac exit code").isZero();
        try (URLClassLoader cellLoader = new URLClassLoader(new URL[] {dir.resolve("classes").toUri().toURL()}, getClass().getClassLoader())) {
            MapDataset cell = (MapDataset) cellLoader.loadClass("notebook.Cell").getConstructor(long.class).newInstance(100L);
            assertThat(ClassLoader.getSystemClassLoader().getResource("notebook/Cell.class")).as("not on the class path").isNull();
            try (DataLoader l = DataLoader.builder(cell).batchSize(10).numWorkers(2).build()) {
                checkSquares(l);
            }
            // And on a worker host, whose worker gets the classes with the recipe over the network.
            Token token = Token.create(dir.resolve("token"));
            try (WorkerHost host = WorkerHost.start(new WorkerHost.Settings("127.0.0.1", 0, 1, token, null, null));
                 DataLoader l = DataLoader.builder(cell).batchSize(10).numWorkers(0).remoteWorkers("grpc://127.0.0.1:" + host.port())
                         .remoteToken(token).build()) {
                checkSquares(l);
                assertThat(l.stats().hosts()).containsOnlyKeys("127.0.0.1:" + host.port());
            }
        }
    }

    /** Every sample once, each square as the shipped helper classes compute it. */
    private static void checkSquares(DataLoader l) {
        long sum = 0;
        int rows = 0;
        for (Batch b : l) {
            try (b) {
                BigIntVector id = (BigIntVector) b.root().getVector("id");
                BigIntVector square = (BigIntVector) b.root().getVector("square");
                for (int r = 0; r < b.size(); r++) {
                    assertThat(square.get(r)).isEqualTo(id.get(r) * id.get(r) + 1000);
                    sum += id.get(r);
                    rows++;
                }
            }
        }
        assertThat(rows).isEqualTo(100);
        assertThat(sum).isEqualTo(4950);
    }
}
