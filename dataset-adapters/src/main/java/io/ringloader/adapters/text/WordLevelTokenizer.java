package io.ringloader.adapters.text;

import com.google.gson.GsonBuilder;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Makes a HuggingFace {@code tokenizer.json} from text, offline: a word-level model (lower-cased words
 * and runs of punctuation, split as HuggingFace's {@code Whitespace} pre-tokenizer splits them) whose
 * vocabulary is the {@code vocabSize} most frequent words, after {@code [PAD]} (id 0) and {@code [UNK]}
 * (id 1, for every other word). For tests, demos and a first model when no pretrained tokenizer is at
 * hand; DJL's {@code HuggingFaceTokenizer} reads it as it reads any other.
 */
public final class WordLevelTokenizer {
    private WordLevelTokenizer() {}

    /** The id of {@code [PAD]}, the pad value to give {@code Padding}. */
    public static final int PAD_ID = 0;
    /** The id of {@code [UNK]}. */
    public static final int UNK_ID = 1;

    /** HuggingFace's {@code Whitespace} pre-tokenizer: {@code \w+|[^\w\s]+}, Unicode-aware. */
    private static final Pattern WORDS = Pattern.compile("\\w+|[^\\w\\s]+", Pattern.UNICODE_CHARACTER_CLASS);

    /** The words of {@code text} as the tokenizer splits them, lower-cased. */
    public static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = WORDS.matcher(text.toLowerCase(Locale.ROOT));
        while (m.find()) out.add(m.group());
        return out;
    }

    /** Writes a tokenizer of {@code texts}' most frequent {@code vocabSize} words to {@code out}; returns its vocabulary. */
    public static Map<String, Integer> write(Iterable<String> texts, int vocabSize, Path out) throws IOException {
        if (vocabSize < 1) throw new IllegalArgumentException("WordLevelTokenizer: vocabSize must be at least 1, got " + vocabSize);
        Map<String, long[]> counts = new HashMap<>();
        long seen = 0;
        for (String text : texts) {
            for (String w : words(text)) counts.computeIfAbsent(w, k -> new long[] {0, counts.size()})[0]++;
            seen++;
        }
        if (seen == 0) throw new IllegalArgumentException("WordLevelTokenizer: no text to learn a vocabulary from");
        List<Map.Entry<String, long[]>> ranked = new ArrayList<>(counts.entrySet());
        // most frequent first; ties in the order the words first appeared, so that the same text gives the same ids
        ranked.sort(Comparator.<Map.Entry<String, long[]>>comparingLong(e -> -e.getValue()[0]).thenComparingLong(e -> e.getValue()[1]));
        Map<String, Integer> vocab = new LinkedHashMap<>();
        vocab.put("[PAD]", PAD_ID);
        vocab.put("[UNK]", UNK_ID);
        for (int i = 0; i < Math.min(vocabSize, ranked.size()); i++) vocab.putIfAbsent(ranked.get(i).getKey(), vocab.size());

        Map<String, Object> json = new LinkedHashMap<>();
        json.put("version", "1.0");
        json.put("truncation", null);
        json.put("padding", null);
        json.put("added_tokens", List.of(special(PAD_ID, "[PAD]"), special(UNK_ID, "[UNK]")));
        json.put("normalizer", Map.of("type", "Lowercase"));
        json.put("pre_tokenizer", Map.of("type", "Whitespace"));
        json.put("post_processor", null);
        json.put("decoder", null);
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "WordLevel");
        model.put("vocab", vocab);
        model.put("unk_token", "[UNK]");
        json.put("model", model);
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        Files.writeString(out, new GsonBuilder().serializeNulls().create().toJson(json), StandardCharsets.UTF_8);
        return vocab;
    }

    private static Map<String, Object> special(int id, String content) {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("id", id);
        t.put("content", content);
        t.put("single_word", false);
        t.put("lstrip", false);
        t.put("rstrip", false);
        t.put("normalized", false);
        t.put("special", true);
        return t;
    }
}
