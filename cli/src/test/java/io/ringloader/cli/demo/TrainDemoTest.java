package io.ringloader.cli.demo;

import io.ringloader.testkit.Isolated;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The demo end to end, smaller: generate, train with 2 process workers, evaluate, report. */
@Isolated(timeout = "300s")
class TrainDemoTest {

    @Test
    void aShortRunLearnsTheShapesAndPrintsItsSummaryAsJson(@TempDir Path data) throws Exception {
        String out = run(new String[] {"--epochs", "3", "--train-samples", "6000", "--test-samples", "500",
                "--data-dir", data.toString(), "--json"});
        assertThat(out).contains("epoch 3/3", "held-out accuracy", "data stall", "summary:");
        String last = out.strip().lines().reduce((a, b) -> b).orElseThrow();
        Matcher m = Pattern.compile("\"accuracy\":([0-9.]+),\"seconds\":([0-9.]+)").matcher(last);
        assertThat(m.find()).as("the last line is the JSON summary: %s", last).isTrue();
        assertThat(Double.parseDouble(m.group(1))).as("held-out accuracy").isGreaterThan(0.8);
        assertThat(last).contains("\"workers\":2", "\"mode\":\"process\"", "\"samples\":18000");
        assertThat(data.toFile().list()).as("the generated dataset").hasSize(2);
    }

    @Test
    void aRunResumedFromItsCheckpointCarriesOnWhereItStopped(@TempDir Path data, @TempDir Path checkpoint) throws Exception {
        String[] common = {"--train-samples", "1280", "--test-samples", "200", "--batch-size", "64", "--data-dir", data.toString()};
        // 1 epoch of 20 steps, a checkpoint every 7: the last is the epoch's end.
        String first = run(concat(common, "--epochs", "1", "--checkpoint", checkpoint.toString(), "--checkpoint-every", "7"));
        assertThat(first).contains("epoch 1/1");
        assertThat(checkpoint.resolve("shapes-cnn-0000.params")).exists();
        assertThat(io.ringloader.loader.LoaderState.fromJson(java.nio.file.Files.readString(checkpoint.resolve("loader-state.json"))))
                .satisfies(s -> {
                    assertThat(s.epoch()).isEqualTo(1);
                    assertThat(s.batches()).isZero();
                });
        String resumed = run(concat(common, "--epochs", "2", "--resume", checkpoint.toString(), "--json"));
        assertThat(resumed).contains("resuming from " + checkpoint + ": epoch 2, after batch 0 of it").contains("epoch 2/2")
                .doesNotContain("epoch 1/2");
        assertThat(resumed.strip().lines().reduce((a, b) -> b).orElseThrow()).contains("\"samples\":1280");
    }

    private static String run(String[] args) throws Exception {
        return printed(() -> TrainDemo.run(args));
    }

    interface Demo {
        void run() throws Exception;
    }

    /** What {@code demo} printed (and prints it too, for the test's log). */
    static String printed(Demo demo) throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream console = System.out;
        System.setOut(new PrintStream(captured, true));
        try {
            demo.run();
        } finally {
            System.setOut(console);
        }
        console.print(captured);
        return captured.toString();
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
