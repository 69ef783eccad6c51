package io.ringloader.worker;

import io.ringloader.batch.SchemaLayout;
import io.ringloader.data.Dataset;

import java.util.Map;

/** A worker configuration as a trainer encodes it, for tests outside this package (a worker host's refusals). */
public final class WorkerConfigAccess {
    private WorkerConfigAccess() {}

    public static byte[] of(Dataset dataset) {
        Recipe r = Recipe.of(dataset);
        return new WorkerConfig(r.bytes(), r.classes(), SchemaLayout.of(dataset.sampleSchema(), Map.of()), 0, 1, 0, 0, 1, -1, 0).encode();
    }
}
