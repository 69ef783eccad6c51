package io.ringloader.it.loader;

import io.ringloader.data.SampleWriter;
import io.ringloader.loader.DataLoader;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** What the loader and its workers have to say goes through SLF4J (here its simple backend, on stderr), a process worker's with its prefix. */
@Isolated(timeout = "60s")
class LoggingTest {

    /** Ids whose close() fails. */
    record ClosesBadly(long n) implements Datasets.LikeIds {
        @Override
        public void read(long index, SampleWriter out) {
            out.setLong(0, index);
        }

        @Override
        public void close() throws java.io.IOException {
            throw new java.io.IOException("the disk went away");
        }
    }

    private static String stderrOf(WorkerMode mode) {
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try (DataLoader l = DataLoader.builder(new ClosesBadly(20)).batchSize(5).mode(mode).numWorkers(1).build()) {
            assertThat(Batches.ids(l, "id")).hasSize(20);
        } finally {
            System.setErr(err);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        err.print(out);
        return out;
    }

    @Test
    void aFailedCloseIsAWarningThroughSlf4jWithAProcessWorkersPrefix() {
        String thread = stderrOf(WorkerMode.THREAD);
        assertThat(thread).contains("WARN io.ringloader.worker.WorkerLoop - ringloader worker 0: the dataset's close() failed")
                .contains("java.io.IOException: the disk went away");
        String process = stderrOf(WorkerMode.PROCESS);
        assertThat(process).containsPattern("\\[worker 0 pid \\d+\\] .*WARN io.ringloader.worker.WorkerLoop - ringloader worker 0: the dataset's close\\(\\) failed")
                .contains("java.io.IOException: the disk went away");
    }
}
