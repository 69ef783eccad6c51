package example;

import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import org.apache.arrow.vector.types.pojo.Schema;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

/**
 * A dataset of this project's own: x, 4 numbers drawn per sample, and y = W . x + B plus a little noise.
 * A recipe (a record of plain values) that ringloader ships to its worker processes.
 */
public record NoisyLine(long n) implements MapDataset {
    public static final float[] W = {1.5f, -2f, 0.5f, 3f};
    public static final float B = 0.7f;

    @Override
    public Schema sampleSchema() {
        return Columns.schema(Columns.tensor("x", Columns.DType.FLOAT32, 4), Columns.tensor("y", Columns.DType.FLOAT32, 1));
    }

    @Override
    public long size() {
        return n;
    }

    @Override
    public void read(long index, SampleWriter out) {
        SplittableRandom random = out.random(); // from (seed, epoch, index): the same in any worker
        MemorySegment x = out.tensor(0);
        float y = B;
        for (int j = 0; j < W.length; j++) {
            float v = (float) (2 * random.nextDouble() - 1);
            x.setAtIndex(JAVA_FLOAT, j, v);
            y += W[j] * v;
        }
        out.tensor(1).set(JAVA_FLOAT, 0, y + (float) (0.01 * random.nextGaussian()));
    }
}
