package io.ringloader.cli.demo;

import io.ringloader.testkit.Isolated;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/** The text demo end to end, smaller: generate documents and a tokenizer, tokenize and bucket in 2 process workers, train, evaluate. */
@Isolated(timeout = "300s")
class TextDemoTest {

    @Test
    void aShortRunLearnsTheTopicsWithBucketedBatchesThatPadLittle(@TempDir Path data) throws Exception {
        String out = TrainDemoTest.printed(() -> TextDemo.run(new String[] {"--epochs", "2", "--train-samples", "3200", "--test-samples", "400",
                "--data-dir", data.toString(), "--json"}));
        assertThat(out).contains("epoch 2/2", "held-out accuracy", "summary:", "bucketByLength(32)");
        String last = out.strip().lines().reduce((a, b) -> b).orElseThrow();
        Matcher m = Pattern.compile("\"accuracy\":([0-9.]+),\"padding_share\":([0-9.]+),\"shuffled_padding_share\":([0-9.]+)").matcher(last);
        assertThat(m.find()).as("the last line is the JSON summary: %s", last).isTrue();
        assertThat(Double.parseDouble(m.group(1))).as("held-out accuracy of 4 topics").isGreaterThan(0.8);
        double bucketed = Double.parseDouble(m.group(2)), shuffled = Double.parseDouble(m.group(3));
        assertThat(shuffled).as("shuffled batches of long-tailed documents pad most of what they carry").isGreaterThan(0.5);
        assertThat(bucketed).as("bucketed batches pad under a quarter of that").isPositive().isLessThan(shuffled / 4);
        assertThat(last).contains("\"workers\":2", "\"mode\":\"process\"", "\"samples\":6400");
        assertThat(data.toFile().list()).as("train, test and the tokenizer").hasSize(3);
    }
}
