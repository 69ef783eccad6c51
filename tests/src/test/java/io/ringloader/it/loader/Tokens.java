package io.ringloader.it.loader;

import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import org.apache.arrow.vector.types.pojo.Schema;

import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Variable-length samples: {@code tokens} (int32) of {@link #length} ids {@code index * 1000 + j}, written
 * in place (and told by {@link #length} without reading the sample); {@code frames}, {@code index % 4} steps of 3 floats with a random draw in each; and half
 * precision scalars. {@code bad} makes one sample misbehave: "negative" asks for a negative length,
 * "overrun" writes past its segment.
 */
record Tokens(int n, String bad, long badIndex) implements MapDataset {
    Tokens(int n) {
        this(n, "", -1);
    }

    /** A long-tailed length, 0 to 60: most samples short, a few long. */
    static int tokens(long index) {
        long h = io.ringloader.data.WorkerContext.mix(index + 17);
        int r = (int) Long.remainderUnsigned(h, 100);
        return r < 70 ? r % 12 : r < 95 ? 12 + r % 20 : 40 + r % 21;
    }

    @Override
    public int length(long index) {
        return tokens(index);
    }

    @Override
    public Schema sampleSchema() {
        return Columns.schema(Columns.int64("id"), Columns.sequence("tokens", Columns.DType.INT32),
                Columns.sequence("frames", Columns.DType.FLOAT32, 3), Columns.float16("h"), Columns.bfloat16("b"));
    }

    @Override
    public long size() {
        return n;
    }

    @Override
    public void read(long index, SampleWriter out) {
        out.setLong(0, index);
        if (index == badIndex && bad.equals("negative")) out.sequence(1, -3);
        int length = tokens(index);
        MemorySegment tokens = out.sequence(1, index == badIndex && bad.equals("overrun") ? 2 : length);
        for (int j = 0; j < length; j++) tokens.setAtIndex(JAVA_INT, j, (int) (index * 1000 + j));
        int steps = (int) (index % 4);
        MemorySegment frames = out.sequence(2, steps);
        for (int j = 0; j < 3 * steps; j++) frames.setAtIndex(JAVA_FLOAT, j, (float) out.random().nextDouble());
        out.setFloat(3, index / 4f);
        out.setFloat(4, index * 1.5f);
    }
}
