package io.ringloader.adapters.csv;

/** A CSV row that does not fit the schema: names the file, the line, the column and the value. */
public final class CsvFormatException extends RuntimeException {
    private final String file;
    private final long line;
    private final String column;
    private final String value;

    CsvFormatException(String file, long line, String column, String value, String problem) {
        super(file + ", line " + line + (column == null ? "" : ", column '" + column + "'") + (value == null ? "" : ": value '" + value + "'")
                + " " + problem);
        this.file = file;
        this.line = line;
        this.column = column;
        this.value = value;
    }

    public String file() {
        return file;
    }

    /** 1-based, as an editor shows it. */
    public long line() {
        return line;
    }

    public String column() {
        return column;
    }

    public String value() {
        return value;
    }
}
