package io.ringloader.it.adapters;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.ringloader.adapters.text.TextDataset;
import io.ringloader.adapters.text.WordLevelTokenizer;
import io.ringloader.data.Padding;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.sampler.BatchSampler;
import io.ringloader.testkit.Isolated;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.IntVector;
import org.apache.arrow.vector.complex.ListVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Text and JSON-lines files tokenized in the workers by DJL's HuggingFace tokenizer, from a tokenizer.json made offline. */
@Isolated(timeout = "120s")
class TextAdaptersTest {
    private static final String[] WORDS = {"the", "loader", "packs", "tokens", "into", "rings", "workers", "read", "lines", "fast",
            "shared", "memory", "arrow", "batch", "epoch", "seed", "résumé", "naïve"};

    @TempDir
    Path dir;

    /** Document i: 1 to 40 words drawn from the index, with punctuation; label i % 3. */
    private static String text(int i) {
        int n = 1 + (int) Long.remainderUnsigned(io.ringloader.data.WorkerContext.mix(i), 40);
        StringBuilder s = new StringBuilder();
        for (int j = 0; j < n; j++) {
            String w = WORDS[(int) Long.remainderUnsigned(io.ringloader.data.WorkerContext.mix(31L * i + j), WORDS.length)];
            s.append(j % 7 == 3 ? w.toUpperCase(java.util.Locale.ROOT) : w).append(j % 5 == 4 ? ", " : " ");
        }
        return s.append(i % 4 == 0 ? "!" : "").toString().strip();
    }

    /** {@code n} documents as JSON lines, with a blank line every 50; returns the file. */
    private Path jsonl(String name, int from, int to) throws Exception {
        StringBuilder s = new StringBuilder();
        for (int i = from; i < to; i++) {
            s.append("{\"id\": ").append(i).append(", \"text\": \"").append(text(i)).append("\", \"label\": ").append(i % 3).append("}\n");
            if (i % 50 == 0) s.append("\n");
        }
        return Files.writeString(dir.resolve(name), s);
    }

    /** A tokenizer of the documents' words but the 4 rarest, which become [UNK]. */
    private Map<String, Integer> tokenizer(Path out, int n) throws Exception {
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < n; i++) texts.add(text(i));
        return WordLevelTokenizer.write(texts, WORDS.length + 1 - 4, out); // + 1: "," and "!" are words too
    }

    private static int[] expected(Map<String, Integer> vocab, String text) {
        return WordLevelTokenizer.words(text).stream().mapToInt(w -> vocab.getOrDefault(w, WordLevelTokenizer.UNK_ID)).toArray();
    }

    @Test
    void jsonLinesAreTokenizedInEachWorkerByItsOwnTokenizerAndPadded() throws Exception {
        Path a = jsonl("a.jsonl", 0, 200), b = jsonl("b.jsonl", 200, 300), tok = dir.resolve("tokenizer.json");
        Map<String, Integer> vocab = tokenizer(tok, 300);
        assertThat(vocab).containsEntry("[PAD]", 0).containsEntry("[UNK]", 1).hasSize(WORDS.length + 1 - 4 + 2);
        TextDataset ds = TextDataset.jsonLines(tok, a, b).label("label").build();
        assertThat(ds.size()).as("blank lines are not samples").isEqualTo(300);
        int unknown = 0;
        try (DataLoader l = DataLoader.builder(ds).batchSize(32).shuffle(true).seed(2).numWorkers(2).persistentWorkers(true)
                .pad("tokens", Padding.toLongest().value(WordLevelTokenizer.PAD_ID)).build();
             HuggingFaceTokenizer here = HuggingFaceTokenizer.newInstance(tok, Map.of("addSpecialTokens", "false"))) {
            boolean[] seen = new boolean[300];
            for (Batch batch : l) {
                try (batch) {
                    ListVector tokens = (ListVector) batch.root().getVector("tokens");
                    IntVector ids = (IntVector) tokens.getDataVector();
                    IntVector lengths = (IntVector) batch.root().getVector("tokens_length");
                    BigIntVector labels = (BigIntVector) batch.root().getVector("label");
                    for (int r = 0; r < batch.size(); r++) {
                        int i = (int) batch.sampleIndices()[r];
                        seen[i] = true;
                        int[] want = expected(vocab, text(i));
                        assertThat(Arrays.stream(here.encode(text(i)).getIds()).mapToInt(Math::toIntExact).toArray())
                                .as("DJL's tokenizer in the trainer agrees with the vocabulary").isEqualTo(want);
                        assertThat(lengths.get(r)).isEqualTo(want.length);
                        int from = tokens.getElementStartIndex(r), width = tokens.getElementEndIndex(r) - from;
                        for (int j = 0; j < width; j++) {
                            assertThat(ids.get(from + j)).as("sample %d token %d", i, j).isEqualTo(j < want.length ? want[j] : WordLevelTokenizer.PAD_ID);
                        }
                        unknown += (int) Arrays.stream(want).filter(t -> t == WordLevelTokenizer.UNK_ID).count();
                        assertThat(labels.get(r)).isEqualTo(i % 3);
                    }
                }
            }
            for (boolean s : seen) assertThat(s).isTrue();
            // each worker loaded the tokenizer's native library itself
            for (long pid : l.workerPids()) assertThat(Files.readString(Path.of("/proc/" + pid + "/maps"))).contains("libtokenizers");
        }
        assertThat(unknown).as("rare words are [UNK]").isPositive();
    }

    @Test
    void bucketedByTheTokenizersLengthsAndBitIdenticalForAnyWorkersAndMode() throws Exception {
        Path a = jsonl("a.jsonl", 0, 400), tok = dir.resolve("tokenizer.json");
        Map<String, Integer> vocab = tokenizer(tok, 400);
        TextDataset ds = TextDataset.jsonLines(tok, a).label("label").build();
        int[] lengths = ds.lengths();
        for (int i = 0; i < 400; i++) assertThat(lengths[i]).isEqualTo(expected(vocab, text(i)).length);
        record Config(WorkerMode mode, int workers) {}
        List<List<String>> runs = new ArrayList<>();
        for (Config c : List.of(new Config(WorkerMode.INLINE, 0), new Config(WorkerMode.PROCESS, 2), new Config(WorkerMode.THREAD, 2))) {
            try (DataLoader l = DataLoader.builder(ds).mode(c.mode()).numWorkers(c.workers()).seed(9)
                    .batchSampler(BatchSampler.bucketByLength(16)).pad("tokens", Padding.toLongest()).build()) {
                List<String> digests = new ArrayList<>();
                for (Batch batch : l) {
                    try (batch) {
                        ListVector tokens = (ListVector) batch.root().getVector("tokens");
                        IntVector ids = (IntVector) tokens.getDataVector();
                        StringBuilder s = new StringBuilder(Arrays.toString(batch.sampleIndices())).append(':');
                        for (int k = 0; k < ids.getValueCount(); k++) s.append(ids.get(k)).append(',');
                        digests.add(s.toString());
                    }
                }
                runs.add(digests);
                assertThat(l.stats().padding().share()).as("bucketed batches of similar token counts").isLessThan(0.15);
            }
        }
        assertThat(runs.get(1)).isEqualTo(runs.get(0));
        assertThat(runs.get(2)).isEqualTo(runs.get(0));
    }

    @Test
    void plainLinesAreSamplesAndBlankLinesAreNot() throws Exception {
        Path tok = dir.resolve("tokenizer.json");
        WordLevelTokenizer.write(List.of("one two three", "four five"), 10, tok);
        Path text = Files.writeString(dir.resolve("t.txt"), "one two three\n\n   \nfour five\r\nsix\n");
        TextDataset ds = TextDataset.lines(tok, text).build();
        assertThat(ds.size()).isEqualTo(3);
        assertThat(ds.lengths()).containsExactly(3, 2, 1);
        try (DataLoader l = DataLoader.builder(ds).batchSize(3).numWorkers(1).build()) {
            for (Batch batch : l) {
                try (batch) {
                    ListVector tokens = (ListVector) batch.root().getVector("tokens");
                    assertThat(tokens.getObject(0)).isEqualTo(List.of(2, 3, 4));
                    assertThat(tokens.getObject(1)).isEqualTo(List.of(5, 6));
                    assertThat(tokens.getObject(2)).as("'six' is not in the vocabulary").isEqualTo(List.of(WordLevelTokenizer.UNK_ID));
                }
            }
        }
    }

    @Test
    void badLinesAreErrorsNamingTheFileAndLineAndABadTokenizerFailsTheBuild() throws Exception {
        Path tok = dir.resolve("tokenizer.json");
        WordLevelTokenizer.write(List.of("a b c"), 10, tok);
        Map<String, String> bad = new HashMap<>();
        bad.put("{\"text\": \"a b\", \"label\": 1}\n{\"text\": \"a b\", \"label\": 1\n", ":2: not JSON");
        bad.put("{\"text\": \"a b\", \"label\": 1}\n[1, 2]\n", ":2: a JSON-lines line should be a JSON object, this one is [1, 2]");
        bad.put("{\"body\": \"a b\", \"label\": 1}\n", ":1: the JSON object has no field 'text'");
        bad.put("{\"text\": 7, \"label\": 1}\n", ":1: the JSON object has 'text' = 7, not a string");
        bad.put("\n{\"text\": \"a\", \"label\": 2.5}\n", ":2: the JSON object has 'label' = 2.5, not an integer");
        int k = 0;
        for (var e : bad.entrySet()) {
            Path f = Files.writeString(dir.resolve("bad" + k++ + ".jsonl"), e.getKey());
            try (DataLoader l = DataLoader.builder(TextDataset.jsonLines(tok, f).label("label").build()).batchSize(4).numWorkers(1).build()) {
                assertThatThrownBy(() -> {
                    for (Batch b : l) b.close();
                }).hasMessageContaining(f + e.getValue());
            }
        }
        Path latin1 = Files.write(dir.resolve("latin1.txt"), new byte[] {'a', ' ', (byte) 0xE9, '\n'});
        try (DataLoader l = DataLoader.builder(TextDataset.lines(tok, latin1).build()).numWorkers(1).build()) {
            assertThatThrownBy(() -> {
                for (Batch b : l) b.close();
            }).hasMessageContaining(latin1 + ":1: the line is not UTF-8");
        }
        Path text = Files.writeString(dir.resolve("ok.txt"), "a b\n");
        assertThatThrownBy(() -> TextDataset.lines(dir.resolve("missing.json"), text).build())
                .hasMessageContaining("tokenizer file " + dir.resolve("missing.json") + " does not exist");
        Path garbage = Files.writeString(dir.resolve("garbage.json"), "{\"model\": 3}");
        assertThatThrownBy(() -> TextDataset.lines(garbage, text).build())
                .hasMessageContaining("tokenizer file " + garbage + " cannot be read by DJL's HuggingFace tokenizer");
        assertThatThrownBy(() -> TextDataset.lines(tok, text).label("label")).hasMessageContaining("label(field) is for JSON lines");
    }
}
