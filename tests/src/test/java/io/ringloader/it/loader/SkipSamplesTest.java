package io.ringloader.it.loader;

import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.SampleErrorPolicy;
import io.ringloader.loader.SampleReadException;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.BigIntVector;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

/** onSampleError(SKIP): a sample whose read throws is left out of its batch, the same way for any workers and mode. */
@Isolated(timeout = "120s")
class SkipSamplesTest {
    private static final Set<Long> BROKEN = Set.of(3L, 17L, 18L, 55L, 199L);

    private static DataLoader.Builder builder(int workers, WorkerMode mode) {
        return DataLoader.builder(new Datasets.Broken(200, BROKEN)).batchSize(10).shuffle(true).seed(5).numWorkers(workers).mode(mode)
                .onSampleError(SampleErrorPolicy.SKIP).maxSkipped(5);
    }

    @Test
    void brokenSamplesAreLeftOutCountedAndTheSameForAnyWorkersAndMode() {
        List<String> reference = null;
        for (Object[] setup : new Object[][] {{0, WorkerMode.INLINE}, {2, WorkerMode.THREAD}, {3, WorkerMode.PROCESS}}) {
            List<String> digests = new ArrayList<>();
            List<Long> ids = new ArrayList<>();
            try (DataLoader l = builder((int) setup[0], (WorkerMode) setup[1]).build()) {
                for (Batch b : l) {
                    try (b) {
                        digests.add(Batches.digest(b));
                        BigIntVector id = (BigIntVector) b.root().getVector("id");
                        assertThat(b.size()).isEqualTo(b.sampleIndices().length);
                        for (int i = 0; i < b.size(); i++) {
                            assertThat(id.get(i)).as("row %d of batch %d holds the sample its sampleIndices name", i, b.index())
                                    .isEqualTo(b.sampleIndices()[i]);
                            ids.add(id.get(i));
                        }
                    }
                }
                assertThat(l.stats().samplesSkipped()).isEqualTo(BROKEN.size());
                assertThat(digests).as("batches of an epoch").hasSize(20);
            }
            assertThat(ids).hasSize(200 - BROKEN.size()).doesNotContainAnyElementsOf(BROKEN).doesNotHaveDuplicates();
            if (reference == null) reference = digests;
            else assertThat(digests).as(Arrays.toString(setup)).isEqualTo(reference);
        }
    }

    @Test
    void moreSkipsThanMaxSkippedFailTheEpochNamingTheLast() {
        try (DataLoader l = builder(2, WorkerMode.PROCESS).maxSkipped(2).build()) {
            Throwable t = catchThrowable(() -> Batches.epoch(l));
            assertThat(t).isInstanceOf(SampleReadException.class)
                    .hasMessageContaining("samples of epoch 0 failed and were skipped, more than the 2 that maxSkipped allows (maxSkipped(2))")
                    .hasMessageContaining("cannot be decoded (on purpose)");
        }
        try (DataLoader l = builder(1, WorkerMode.THREAD).maxSkippedFraction(0.01).build()) {
            assertThat(catchThrowable(() -> Batches.epoch(l))).isInstanceOf(SampleReadException.class)
                    .hasMessageContaining("more than the 2 that maxSkipped allows (maxSkippedFraction(0.01))");
        }
    }

    @Test
    void failIsTheDefault() {
        try (DataLoader l = DataLoader.builder(new Datasets.Broken(200, BROKEN)).batchSize(10).numWorkers(2).build()) {
            assertThat(catchThrowable(() -> Batches.epoch(l))).isInstanceOf(SampleReadException.class).hasMessageContaining("sample 3 failed");
        }
    }
}
