package io.ringloader.adapters.csv;

import io.ringloader.adapters.files.MappedFiles;
import io.ringloader.data.Columns;
import io.ringloader.data.MapDataset;
import io.ringloader.data.SampleWriter;
import io.ringloader.data.WorkerContext;
import org.apache.arrow.vector.types.pojo.ArrowType;
import org.apache.arrow.vector.types.pojo.Field;
import org.apache.arrow.vector.types.pojo.Schema;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * CSV files as one map-style dataset: sample {@code i} is data line {@code i} of the files taken one after
 * another. The schema is given, or inferred from the first lines (int64, float64, bool or utf8 per
 * column); an empty field is null. Each worker maps the files and indexes their lines in {@link #open}.
 * A value that does not parse is a {@link CsvFormatException} naming the file, line, column and value;
 * so are bytes that are not UTF-8, unless {@link Builder#replaceInvalidUtf8} asks for U+FFFD in their
 * place. An empty file, or an empty header line, is refused when the dataset is made. Fields may be
 * quoted ({@code "a, b"}, with {@code ""} for a quote) but may not span lines.
 */
public final class CsvDataset implements MapDataset {
    private static final int INFER_LINES = 100;

    private final String[] files;
    private final boolean header;
    private final byte delimiter;
    private final boolean replaceInvalidUtf8;
    private final String[] names;
    private final Kind[] kinds;
    private final long size;

    private transient Arena arena;
    private transient MemorySegment[] maps;
    /** Per data line: file index in the high 16 bits, byte offset of the line below. */
    private transient long[] lines;
    private transient long[] lineNumbers;

    enum Kind { LONG, DOUBLE, BOOL, TEXT }

    private CsvDataset(List<Path> files, boolean header, char delimiter, Schema schema, boolean replaceInvalidUtf8) {
        if (files.isEmpty()) throw new IllegalArgumentException("CsvDataset needs at least one file");
        this.files = files.stream().map(Path::toString).toArray(String[]::new);
        this.header = header;
        this.delimiter = (byte) delimiter;
        this.replaceInvalidUtf8 = replaceInvalidUtf8;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment first = map(a, this.files[0]);
            if (first.byteSize() == 0 && (header || schema == null)) {
                throw new IllegalArgumentException(this.files[0] + " is empty: a CSV file needs " + (header ? "a header line" : "a line to infer its columns from")
                        + " (or give CsvDataset.Builder.schema)");
            }
            List<long[]> firstLines = index(first, header);
            List<String> head = header ? split(this.files[0], 1, text(this.files[0], 1, first, 0, lineEnd(first, 0)), this.delimiter) : null;
            if (head != null && head.size() == 1 && head.getFirst().isBlank()) {
                throw new IllegalArgumentException(this.files[0] + ": line 1, the header, is empty; it should name the columns"
                        + " (or read the file with CsvDataset.Builder.header(false))");
            }
            int width = head != null ? head.size()
                    : firstLines.isEmpty() ? 0 : split(this.files[0], firstLines.getFirst()[1], line(this.files[0], first, firstLines.getFirst()), this.delimiter).size();
            if (schema != null) {
                this.names = schema.getFields().stream().map(Field::getName).toArray(String[]::new);
                this.kinds = schema.getFields().stream().map(f -> kind(f)).toArray(Kind[]::new);
                if (names.length != width) {
                    throw new IllegalArgumentException(this.files[0] + " has " + width + " columns, the schema " + names.length);
                }
            } else {
                this.names = head != null ? head.toArray(String[]::new)
                        : java.util.stream.IntStream.range(0, width).mapToObj(i -> "c" + i).toArray(String[]::new);
                this.kinds = infer(first, firstLines, width);
            }
            long n = firstLines.size();
            for (int f = 1; f < this.files.length; f++) {
                MemorySegment m = map(a, this.files[f]);
                if (m.byteSize() == 0 && header) {
                    throw new IllegalArgumentException(this.files[f] + " is empty: every CSV file of the dataset needs a header line, as " + this.files[0] + " has");
                }
                n += index(m, header).size();
            }
            this.size = n;
        }
    }

    public static Builder builder(Path... files) {
        return new Builder(List.of(files));
    }

    private static Kind kind(Field f) {
        ArrowType t = f.getType();
        if (t instanceof ArrowType.Int) return Kind.LONG;
        if (t instanceof ArrowType.FloatingPoint) return Kind.DOUBLE;
        if (t instanceof ArrowType.Bool) return Kind.BOOL;
        if (t instanceof ArrowType.Utf8) return Kind.TEXT;
        throw new IllegalArgumentException("CSV column '" + f.getName() + "' can be int64, float64, bool or utf8, not " + t);
    }

    private Kind[] infer(MemorySegment file, List<long[]> lines, int width) {
        Kind[] kinds = new Kind[width];
        Arrays.fill(kinds, null);
        for (int l = 0; l < Math.min(INFER_LINES, lines.size()); l++) {
            List<String> fields = split(files[0], lines.get(l)[1], line(files[0], file, lines.get(l)), delimiter);
            for (int c = 0; c < Math.min(width, fields.size()); c++) {
                String v = fields.get(c);
                if (v.isEmpty()) continue;
                Kind k = isLong(v) ? Kind.LONG : isDouble(v) ? Kind.DOUBLE : isBool(v) ? Kind.BOOL : Kind.TEXT;
                kinds[c] = widen(kinds[c], k);
            }
        }
        for (int c = 0; c < width; c++) if (kinds[c] == null) kinds[c] = Kind.TEXT;
        return kinds;
    }

    private static Kind widen(Kind a, Kind b) {
        if (a == null || a == b) return b;
        if ((a == Kind.LONG && b == Kind.DOUBLE) || (a == Kind.DOUBLE && b == Kind.LONG)) return Kind.DOUBLE;
        return Kind.TEXT;
    }

    private static boolean isLong(String v) {
        try {
            Long.parseLong(v);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static boolean isDouble(String v) {
        try {
            Double.parseDouble(v);
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static boolean isBool(String v) {
        return v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false");
    }

    @Override
    public Schema sampleSchema() {
        List<Field> fields = new ArrayList<>();
        for (int c = 0; c < names.length; c++) {
            fields.add(switch (kinds[c]) {
                case LONG -> Columns.int64(names[c]);
                case DOUBLE -> Columns.float64(names[c]);
                case BOOL -> Columns.bool(names[c]);
                case TEXT -> Columns.utf8(names[c]);
            });
        }
        return new Schema(fields);
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public void open(WorkerContext context) {
        arena = Arena.ofShared();
        maps = new MemorySegment[files.length];
        List<Long> all = new ArrayList<>(), numbers = new ArrayList<>();
        for (int f = 0; f < files.length; f++) {
            maps[f] = map(arena, files[f]);
            for (long[] l : index(maps[f], header)) {
                all.add(((long) f << 48) | l[0]);
                numbers.add(l[1]);
            }
        }
        lines = all.stream().mapToLong(Long::longValue).toArray();
        lineNumbers = numbers.stream().mapToLong(Long::longValue).toArray();
        if (lines.length != size) {
            throw new IllegalStateException("the CSV files changed since the dataset was made: " + lines.length + " data lines, not " + size);
        }
    }

    @Override
    public void read(long index, SampleWriter out) {
        int i = Math.toIntExact(index);
        int f = (int) (lines[i] >>> 48);
        long at = lines[i] & ((1L << 48) - 1);
        long lineNumber = lineNumbers[i];
        List<String> fields = split(files[f], lineNumber, text(files[f], lineNumber, maps[f], at, lineEnd(maps[f], at)), delimiter);
        if (fields.size() != names.length) {
            throw new CsvFormatException(files[f], lineNumber, null, null, "has " + fields.size() + " fields; the header has " + names.length);
        }
        for (int c = 0; c < names.length; c++) {
            String v = fields.get(c);
            if (v.isEmpty()) {
                out.setNull(c);
                continue;
            }
            try {
                switch (kinds[c]) {
                    case LONG -> out.setLong(c, Long.parseLong(v));
                    case DOUBLE -> out.setDouble(c, Double.parseDouble(v));
                    case BOOL -> {
                        if (!isBool(v)) throw new NumberFormatException();
                        out.setBoolean(c, Boolean.parseBoolean(v));
                    }
                    case TEXT -> out.setString(c, v);
                }
            } catch (NumberFormatException e) {
                throw new CsvFormatException(files[f], lineNumber, names[c], v, "is not " + switch (kinds[c]) {
                    case LONG -> "an int64";
                    case DOUBLE -> "a float64";
                    case BOOL -> "true or false";
                    case TEXT -> "text";
                });
            }
        }
    }

    /** "line 300 of train.csv", once the dataset is open. */
    @Override
    public String describe(long index) {
        if (lines == null || index < 0 || index >= lines.length) return null;
        return "line " + lineNumbers[(int) index] + " of " + files[(int) (lines[(int) index] >>> 48)];
    }

    @Override
    public void close() {
        if (arena != null) arena.close();
        arena = null;
        maps = null;
        lines = null;
    }

    // ------------------------------------------------------------------------------ bytes and lines

    private static MemorySegment map(Arena arena, String file) {
        return MappedFiles.map(arena, file, "CSV");
    }

    /** {offset, 1-based line number} of every non-empty data line. */
    private static List<long[]> index(MemorySegment m, boolean header) {
        List<long[]> out = new ArrayList<>();
        long n = m.byteSize(), at = 0, number = 1;
        if (header && n > 0) {
            at = next(m, lineEnd(m, 0));
            number = 2;
        }
        while (at < n) {
            long end = lineEnd(m, at);
            if (end > at && !(end == at + 1 && m.get(JAVA_BYTE, at) == '\r')) out.add(new long[] {at, number});
            at = next(m, end);
            number++;
        }
        return out;
    }

    private static long lineEnd(MemorySegment m, long at) {
        long n = m.byteSize();
        while (at < n && m.get(JAVA_BYTE, at) != '\n') at++;
        return at;
    }

    private static long next(MemorySegment m, long end) {
        return Math.min(m.byteSize(), end + 1);
    }

    /** The line at {offset, line number} of {@code m}, decoded. */
    private String line(String file, MemorySegment m, long[] line) {
        return text(file, line[1], m, line[0], lineEnd(m, line[0]));
    }

    /**
     * Bytes {@code from} to {@code to} of line {@code lineNumber} as text. Bytes that are not UTF-8 are a
     * {@link CsvFormatException} naming the column they are in, unless {@link #replaceInvalidUtf8}.
     */
    private String text(String file, long lineNumber, MemorySegment m, long from, long to) {
        if (to > from && m.get(JAVA_BYTE, to - 1) == '\r') to--;
        byte[] bytes = m.asSlice(from, to - from).toArray(JAVA_BYTE);
        String s = new String(bytes, StandardCharsets.UTF_8);
        // The decoder puts U+FFFD where bytes are not UTF-8; a U+FFFD in the file (ef bf bd) is checked and kept.
        if (!replaceInvalidUtf8 && s.indexOf('\uFFFD') >= 0) checkUtf8(file, lineNumber, bytes);
        return s;
    }

    private void checkUtf8(String file, long lineNumber, byte[] bytes) {
        CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CoderResult result = decoder.decode(in, CharBuffer.allocate(bytes.length), true);
        if (!result.isError()) return;
        int at = in.position();
        int column = 0;
        boolean quoted = false;
        for (int i = 0; i < at; i++) {
            if (bytes[i] == '"') quoted = !quoted;
            else if (bytes[i] == delimiter && !quoted) column++;
        }
        StringBuilder hex = new StringBuilder();
        for (int i = at; i < Math.min(bytes.length, at + Math.max(3, result.length())); i++) hex.append(hex.isEmpty() ? "" : " ").append(String.format("%02x", bytes[i]));
        String name = names != null && column < names.length ? names[column] : "#" + (column + 1);
        throw new CsvFormatException(file, lineNumber, name, null, "has bytes that are not UTF-8 (" + hex + " at byte " + at
                + " of the line): fix the file, or read it with CsvDataset.Builder.replaceInvalidUtf8(true) to get U+FFFD in their place");
    }

    /** The fields of one line, unquoted. */
    static List<String> split(String file, long lineNumber, String line, byte delimiter) {
        List<String> out = new ArrayList<>();
        StringBuilder field = new StringBuilder();
        boolean quoted = false, wasQuoted = false;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (quoted) {
                if (ch == '"') {
                    if (i + 1 < line.length() && line.charAt(i + 1) == '"') {
                        field.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    field.append(ch);
                }
            } else if (ch == '"' && field.isEmpty() && !wasQuoted) {
                quoted = wasQuoted = true;
            } else if (ch == delimiter) {
                out.add(field.toString());
                field.setLength(0);
                wasQuoted = false;
            } else {
                field.append(ch);
            }
        }
        if (quoted) throw new CsvFormatException(file, lineNumber, null, null, "has an unterminated quote (fields may not span lines)");
        out.add(field.toString());
        return out;
    }

    /** Files, header, delimiter and (optionally) the schema. */
    public static final class Builder {
        private final List<Path> files;
        private boolean header = true;
        private char delimiter = ',';
        private Schema schema;
        private boolean replaceInvalidUtf8;

        private Builder(List<Path> files) {
            this.files = files;
        }

        /** Whether the first line of each file names the columns (default true). */
        public Builder header(boolean header) {
            this.header = header;
            return this;
        }

        public Builder delimiter(char delimiter) {
            this.delimiter = delimiter;
            return this;
        }

        /** The columns' names and types (int64, float64, bool, utf8), instead of inferring them. */
        public Builder schema(Schema schema) {
            this.schema = schema;
            return this;
        }

        /**
         * Reads bytes that are not UTF-8 as U+FFFD, the replacement character, instead of failing with a
         * {@link CsvFormatException} naming the file, line and column (the default: such bytes are
         * usually a file in another encoding, or damage, and the text the model would see is wrong).
         */
        public Builder replaceInvalidUtf8(boolean replace) {
            this.replaceInvalidUtf8 = replace;
            return this;
        }

        public CsvDataset build() {
            return new CsvDataset(files, header, delimiter, schema, replaceInvalidUtf8);
        }
    }
}
