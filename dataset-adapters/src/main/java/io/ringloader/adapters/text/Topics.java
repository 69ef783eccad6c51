package io.ringloader.adapters.text;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The built-in text dataset of {@code ringloader demo --task text}: short and long documents about one of
 * four topics, made offline from a seed, as JSON lines ({@code {"text": ..., "label": k}}), with a
 * word-level {@code tokenizer.json} learnt from the training split. A document is 6 to about 380 words,
 * log-uniform (median about 50: most short, a few long, as real text is), each word a word of its topic
 * with probability 0.3, of another topic with 0.04, and a common word otherwise.
 */
public final class Topics {
    private Topics() {}

    public static final List<String> CLASSES = List.of("space", "cooking", "football", "music");

    private static final String[][] TOPIC_WORDS = {
            {"orbit", "rocket", "planet", "galaxy", "astronaut", "telescope", "comet", "launch", "moon", "satellite", "nebula", "gravity",
                    "asteroid", "mars", "jupiter", "cosmos", "spacecraft", "mission", "stars", "lunar", "solar", "eclipse", "meteor", "capsule"},
            {"recipe", "oven", "garlic", "simmer", "flour", "butter", "bake", "onion", "pepper", "saucepan", "dough", "roast", "spices",
                    "whisk", "sugar", "kitchen", "fry", "basil", "tomato", "chef", "salt", "broth", "knead", "grill"},
            {"goal", "striker", "referee", "penalty", "league", "midfield", "keeper", "tackle", "match", "coach", "offside", "stadium",
                    "season", "defender", "kick", "score", "fans", "pitch", "corner", "header", "transfer", "derby", "cup", "foul"},
            {"guitar", "melody", "chord", "drummer", "album", "concert", "rhythm", "singer", "piano", "lyrics", "tempo", "bass",
                    "orchestra", "violin", "song", "band", "chorus", "harmony", "jazz", "studio", "vinyl", "encore", "tune", "opera"}};
    private static final String[] COMMON = ("the a an of to in and is was it for on with as at by this that from but not are be "
            + "have has had one all there their what when which who will would can could about more some time people year day way "
            + "new first last long great little own other old right big high different small large next early young important few "
            + "public bad same able we they you he she our very just also then now only over after before because while where here "
            + "today yesterday week night morning story report people said says think know see make made take took get got").split(" ");

    /** The JSON-lines file of {@code count} documents of {@code split} ("train", "test") from {@code seed}, made if missing. */
    public static Path ensure(Path dir, String split, int count, long seed) {
        Path file = dir.resolve("topics-" + split + "-" + count + "-" + seed + ".jsonl");
        if (Files.isRegularFile(file)) return file;
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, "topics-", ".tmp");
            try (BufferedWriter out = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
                long salt = split.hashCode();
                for (int i = 0; i < count; i++) {
                    SplittableRandom r = new SplittableRandom(seed * 1_000_003L + salt * 7_919L + i);
                    int label = r.nextInt(CLASSES.size());
                    out.write("{\"text\": \"" + document(r, label) + "\", \"label\": " + label + "}\n");
                }
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the topics dataset to " + dir, e);
        }
    }

    /** The tokenizer.json learnt from {@code trainFile}'s documents, made if missing. */
    public static Path tokenizer(Path trainFile) {
        Path file = trainFile.resolveSibling(trainFile.getFileName().toString().replace(".jsonl", "-tokenizer.json"));
        if (Files.isRegularFile(file)) return file;
        try {
            List<String> texts = new ArrayList<>();
            for (String line : Files.readAllLines(trainFile, StandardCharsets.UTF_8)) {
                int from = line.indexOf("\"text\": \"") + 9;
                texts.add(line.substring(from, line.indexOf('"', from)));
            }
            Path tmp = Files.createTempFile(file.getParent(), "topics-", ".tmp");
            WordLevelTokenizer.write(texts, 10_000, tmp);
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the topics tokenizer beside " + trainFile, e);
        }
    }

    private static String document(SplittableRandom r, int label) {
        int words = (int) (6 * Math.pow(2, 6 * r.nextDouble()));
        StringBuilder s = new StringBuilder();
        for (int w = 0; w < words; w++) {
            double p = r.nextDouble();
            String[] from = p < 0.3 ? TOPIC_WORDS[label] : p < 0.34 ? TOPIC_WORDS[r.nextInt(TOPIC_WORDS.length)] : COMMON;
            if (w > 0) s.append(w % 11 == 0 ? ". " : " ");
            s.append(from[r.nextInt(from.length)]);
        }
        return s.append('.').toString();
    }
}
