package io.ringloader.adapters.text;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import io.ringloader.adapters.files.MappedFiles;
import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Text files as token sequences: sample {@code i} is the {@code i}-th non-blank line of the files taken one
 * after another, a line of text ({@link #lines}) or a JSON object ({@link #jsonLines}, its
 * text in one field and, if asked, an integer label in another), tokenized in the worker by DJL's
 * HuggingFace tokenizer from the user's {@code tokenizer.json} into {@code tokens}, an int32 sequence
 * ({@link Columns#sequence}) written in place; {@code label} is int64.
 *
 * <p>Each worker maps the files, indexes their lines and loads its own tokenizer in {@link #open} (the
 * tokenizer is native code with a handle of its own: never shared between workers, nor with the
 * trainer). The lengths a length-aware batch sampler needs ({@link #lengths}) come from tokenizing every
 * line once in the trainer when the loader is built. Pad the column ({@code pad("tokens",
 * Padding.toLongest().value(padId))}) or pack it ({@code Padding.pack}) for DJL.
 *
 * <p>Bad input is an error naming the file and line: bytes that are not UTF-8, a line that is not a
 * JSON object, a missing text field or a label that is not an integer. A missing or unreadable
 * tokenizer file fails {@link Builder#build}.
 */
public final class TextDataset implements MapDataset {
    /** How a line holds its sample. */
    public enum Format { LINES, JSON_LINES }

    /** Lines tokenized at a time when the trainer reads every length. */
    private static final int LENGTH_CHUNK = 512;

    private final String[] files;
    private final String tokenizer;
    private final Format format;
    private final String textField, labelField;
    private final boolean addSpecialTokens;
    private final long size;

    private transient Arena arena;
    private transient Lines lines;
    private transient HuggingFaceTokenizer tok;

    private TextDataset(Builder b) {
        if (b.files.isEmpty()) throw new IllegalArgumentException("TextDataset needs at least one file");
        this.files = b.files.stream().map(Path::toString).toArray(String[]::new);
        this.tokenizer = b.tokenizer.toString();
        this.format = b.format;
        this.textField = b.textField;
        this.labelField = b.labelField;
        this.addSpecialTokens = b.addSpecialTokens;
        if (!Files.isRegularFile(b.tokenizer)) {
            throw new IllegalArgumentException("tokenizer file " + tokenizer + " does not exist: give the tokenizer.json of a HuggingFace"
                    + " tokenizer (or make one from your text with WordLevelTokenizer.write)");
        }
        try (HuggingFaceTokenizer t = newTokenizer()) {
            // read once here, so that a file it cannot read fails build(), not every worker
        }
        try (Arena a = Arena.ofConfined()) {
            this.size = Lines.of(a, files).count();
        }
    }

    /** Each non-blank line of {@code files} a sample of text, tokenized by {@code tokenizerJson}. */
    public static Builder lines(Path tokenizerJson, Path... files) {
        return new Builder(tokenizerJson, List.of(files), Format.LINES);
    }

    /** Each non-blank line of {@code files} a JSON object whose {@code "text"} is tokenized by {@code tokenizerJson}. */
    public static Builder jsonLines(Path tokenizerJson, Path... files) {
        return new Builder(tokenizerJson, List.of(files), Format.JSON_LINES);
    }

    private HuggingFaceTokenizer newTokenizer() {
        try {
            // No padding nor truncation: the loader pads, packs or cuts, and says so in its statistics.
            return HuggingFaceTokenizer.newInstance(Path.of(tokenizer), Map.of("addSpecialTokens", Boolean.toString(addSpecialTokens),
                    "padding", "false", "truncation", "false"));
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("tokenizer file " + tokenizer + " cannot be read by DJL's HuggingFace tokenizer: " + e.getMessage(), e);
        }
    }

    @Override
    public Schema sampleSchema() {
        return labelField == null ? Columns.schema(Columns.sequence("tokens", Columns.DType.INT32))
                : Columns.schema(Columns.sequence("tokens", Columns.DType.INT32), Columns.int64("label"));
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void open(WorkerContext context) {
        arena = Arena.ofShared();
        lines = Lines.of(arena, files);
        if (lines.count() != size) {
            throw new IllegalStateException("the text files changed since the dataset was made: " + lines.count() + " lines, not " + size);
        }
        tok = newTokenizer();
    }

    @Override
    public void read(long index, SampleWriter out) {
        int i = Math.toIntExact(index);
        String line = lines.text(i);
        long[] ids = tok.encode(text(i, line), addSpecialTokens, false).getIds();
        MemorySegment tokens = out.sequence(0, ids.length);
        for (int j = 0; j < ids.length; j++) tokens.setAtIndex(JAVA_INT, j, Math.toIntExact(ids[j]));
        if (labelField != null) out.setLong(1, label(i, line));
    }

    @Override
    public String describe(long index) {
        return lines == null ? null : lines.where(Math.toIntExact(index));
    }

    /** Every sample's token count, from tokenizing every line once here (in the trainer, at build). */
    @Override
    public int[] lengths() {
        int[] out = new int[Math.toIntExact(size)];
        try (Arena a = Arena.ofConfined(); HuggingFaceTokenizer t = newTokenizer()) {
            Lines all = Lines.of(a, files);
            List<String> chunk = new ArrayList<>(LENGTH_CHUNK);
            for (int from = 0; from < out.length; from += LENGTH_CHUNK) {
                chunk.clear();
                int to = Math.min(out.length, from + LENGTH_CHUNK);
                for (int i = from; i < to; i++) chunk.add(text(i, all.text(i), all));
                Encoding[] encodings = t.batchEncode(chunk, addSpecialTokens, false);
                for (int i = from; i < to; i++) out[i] = encodings[i - from].getIds().length;
            }
        }
        return out;
    }

    @Override
    public void close() {
        if (tok != null) tok.close();
        if (arena != null) arena.close();
    }

    private String text(int i, String line) {
        return text(i, line, lines);
    }

    private String text(int i, String line, Lines where) {
        if (format == Format.LINES) return line;
        JsonElement value = object(i, line, where).get(textField);
        if (value == null || !(value instanceof JsonPrimitive p) || !p.isString()) {
            throw new IllegalArgumentException(where.where(i) + ": the JSON object has " + (value == null ? "no field '" + textField + "'"
                    : "'" + textField + "' = " + value + ", not a string") + "; its text should be there (or name its field: TextDataset.Builder.text)");
        }
        return value.getAsString();
    }

    private long label(int i, String line) {
        JsonElement value = object(i, line, lines).get(labelField);
        if (value instanceof JsonPrimitive p && p.isNumber()) {
            double d = p.getAsDouble();
            if (d == Math.rint(d) && Math.abs(d) < 0x1p53) return (long) d;
        }
        throw new IllegalArgumentException(lines.where(i) + ": the JSON object has " + (value == null ? "no field '" + labelField + "'"
                : "'" + labelField + "' = " + value + ", not an integer") + "; a label should be an integer class id");
    }

    private static JsonObject object(int i, String line, Lines where) {
        try {
            JsonElement e = JsonParser.parseString(line);
            if (e.isJsonObject()) return e.getAsJsonObject();
            throw new IllegalArgumentException(where.where(i) + ": a JSON-lines line should be a JSON object, this one is " + abbreviate(line));
        } catch (JsonParseException e) {
            throw new IllegalArgumentException(where.where(i) + ": not JSON (" + e.getMessage() + "): " + abbreviate(line), e);
        }
    }

    private static String abbreviate(String line) {
        return line.length() <= 80 ? line : line.substring(0, 77) + "...";
    }

    /** The non-blank lines of mapped files: where each starts and ends, for reading one by index. */
    private record Lines(String[] files, MemorySegment[] maps, int[] file, long[] start, int[] length, long[] lineNumber) {
        static Lines of(Arena arena, String[] files) {
            MemorySegment[] maps = new MemorySegment[files.length];
            List<long[]> found = new ArrayList<>();
            for (int f = 0; f < files.length; f++) {
                maps[f] = MappedFiles.map(arena, files[f], "text");
                MemorySegment m = maps[f];
                long n = m.byteSize(), from = 0, number = 1;
                while (from < n) {
                    long end = from;
                    while (end < n && m.get(JAVA_BYTE, end) != '\n') end++;
                    long stop = end > from && m.get(JAVA_BYTE, end - 1) == '\r' ? end - 1 : end;
                    if (!blank(m, from, stop)) {
                        if (stop - from > Integer.MAX_VALUE) throw new IllegalArgumentException(files[f] + ": line " + number + " is longer than 2 GB");
                        found.add(new long[] {f, from, stop - from, number});
                    }
                    from = end + 1;
                    number++;
                }
            }
            int count = found.size();
            int[] file = new int[count], length = new int[count];
            long[] start = new long[count], lineNumber = new long[count];
            for (int i = 0; i < count; i++) {
                long[] l = found.get(i);
                file[i] = (int) l[0];
                start[i] = l[1];
                length[i] = (int) l[2];
                lineNumber[i] = l[3];
            }
            return new Lines(files, maps, file, start, length, lineNumber);
        }

        int count() {
            return start.length;
        }

        String where(int i) {
            return files[file[i]] + ":" + lineNumber[i];
        }

        /** Line {@code i} as text, or an error naming the file and line if it is not UTF-8. */
        String text(int i) {
            ByteBuffer bytes = maps[file[i]].asSlice(start[i], length[i]).asByteBuffer();
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(bytes).toString();
            } catch (CharacterCodingException e) {
                throw new IllegalArgumentException(where(i) + ": the line is not UTF-8 (" + e.getMessage() + ")", e);
            }
        }

        private static boolean blank(MemorySegment m, long from, long to) {
            for (long k = from; k < to; k++) {
                byte b = m.get(JAVA_BYTE, k);
                if (b != ' ' && b != '\t') return false;
            }
            return true;
        }
    }

    /** Options of a {@link TextDataset}. */
    public static final class Builder {
        private final Path tokenizer;
        private final List<Path> files;
        private final Format format;
        private String textField = "text";
        private String labelField;
        private boolean addSpecialTokens = true;

        private Builder(Path tokenizer, List<Path> files, Format format) {
            if (tokenizer == null) throw new IllegalArgumentException("TextDataset needs a tokenizer.json");
            this.tokenizer = tokenizer;
            this.files = files;
            this.format = format;
        }

        /** The JSON field that holds the text (default {@code "text"}). */
        public Builder text(String field) {
            if (format != Format.JSON_LINES) throw new IllegalArgumentException("text(field) is for JSON lines; a plain line is all text");
            this.textField = field;
            return this;
        }

        /** The JSON field of an integer label, written to the {@code label} column (int64). */
        public Builder label(String field) {
            if (format != Format.JSON_LINES) throw new IllegalArgumentException("label(field) is for JSON lines; a plain line has no label");
            this.labelField = field;
            return this;
        }

        /** Whether the tokenizer adds its special tokens ({@code [CLS]}, {@code </s>}...): default true, as HuggingFace does. */
        public Builder addSpecialTokens(boolean add) {
            this.addSpecialTokens = add;
            return this;
        }

        public TextDataset build() {
            return new TextDataset(this);
        }
    }
}
