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
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream console = System.out;
        System.setOut(new PrintStream(captured, true));
        try {
            TrainDemo.run(new String[] {"--epochs", "3", "--train-samples", "6000", "--test-samples", "500",
                    "--data-dir", data.toString(), "--json"});
        } finally {
            System.setOut(console);
        }
        String out = captured.toString();
        console.print(out);
        assertThat(out).contains("epoch 3/3", "held-out accuracy", "data stall", "summary:");
        String last = out.strip().lines().reduce((a, b) -> b).orElseThrow();
        Matcher m = Pattern.compile("\"accuracy\":([0-9.]+),\"seconds\":([0-9.]+)").matcher(last);
        assertThat(m.find()).as("the last line is the JSON summary: %s", last).isTrue();
        assertThat(Double.parseDouble(m.group(1))).as("held-out accuracy").isGreaterThan(0.8);
        assertThat(last).contains("\"workers\":2", "\"mode\":\"process\"", "\"samples\":18000");
        assertThat(data.toFile().list()).as("the generated dataset").hasSize(2);
    }
}
