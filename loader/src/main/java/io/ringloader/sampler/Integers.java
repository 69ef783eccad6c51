package io.ringloader.sampler;

/** Content digests of the arrays samplers hold, for their descriptions (and so for a loader state's fingerprint). */
final class Integers {
    private Integers() {}

    static String digest(long[] values) {
        long h = 0xcbf29ce484222325L ^ values.length;
        for (long v : values) h = io.ringloader.data.WorkerContext.mix(h ^ v);
        return String.format("%016x", h);
    }

    static String digest(double[] values) {
        long h = 0xcbf29ce484222325L ^ values.length;
        for (double v : values) h = io.ringloader.data.WorkerContext.mix(h ^ Double.doubleToLongBits(v));
        return String.format("%016x", h);
    }
}
