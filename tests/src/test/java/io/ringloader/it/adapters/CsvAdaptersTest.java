package io.ringloader.it.adapters;

import io.ringloader.adapters.csv.CsvDataset;
import io.ringloader.adapters.csv.CsvFormatException;
import io.ringloader.data.Columns;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.loader.SampleReadException;
import io.ringloader.testkit.Isolated;
import org.apache.arrow.vector.BigIntVector;
import org.apache.arrow.vector.BitVector;
import org.apache.arrow.vector.Float8Vector;
import org.apache.arrow.vector.VarCharVector;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** CSV files: inferred or given schemas, quoting, nulls, and bad rows that name file, line, column and value. */
@Isolated(timeout = "90s")
class CsvAdaptersTest {
    @TempDir
    Path dir;

    /** id, score (integers and decimals), name (quoted, with commas and quotes; empty every 9th), ok. */
    private Path csv(String name, int from, int to) throws Exception {
        StringBuilder s = new StringBuilder("id,score,name,ok\n");
        for (int i = from; i < to; i++) {
            String score = i % 2 == 0 ? Integer.toString(i) : i + ".5";
            String text = i % 9 == 0 ? "" : "\"n" + i + ", \"\"q\"\"\"";
            s.append(i).append(',').append(score).append(',').append(text).append(',').append(i % 3 == 0).append(i % 4 == 0 ? "\r\n" : "\n");
        }
        return Files.writeString(dir.resolve(name), s);
    }

    @Test
    void inferredTypesQuotesAndNullsAcrossFilesWithEachWorkerMappingThem() throws Exception {
        Path a = csv("a.csv", 0, 300), b = csv("b.csv", 300, 500);
        CsvDataset ds = CsvDataset.builder(a, b).build();
        assertThat(ds.sampleSchema()).isEqualTo(Columns.schema(Columns.int64("id"), Columns.float64("score"), Columns.utf8("name"), Columns.bool("ok")));
        try (DataLoader l = DataLoader.builder(ds).batchSize(64).shuffle(true).numWorkers(2).persistentWorkers(true).build()) {
            Set<Long> seen = new HashSet<>();
            Iterator<Batch> it = l.iterator();
            while (it.hasNext()) {
                try (Batch batch = it.next()) {
                    var root = batch.root();
                    for (int r = 0; r < batch.size(); r++) {
                        long i = ((BigIntVector) root.getVector("id")).get(r);
                        assertThat(seen.add(i)).isTrue();
                        assertThat(((Float8Vector) root.getVector("score")).get(r)).isEqualTo(i % 2 == 0 ? i : i + 0.5);
                        VarCharVector name = (VarCharVector) root.getVector("name");
                        if (i % 9 == 0) assertThat(name.isNull(r)).isTrue();
                        else assertThat(name.getObject(r).toString()).isEqualTo("n" + i + ", \"q\"");
                        assertThat(((BitVector) root.getVector("ok")).get(r)).isEqualTo(i % 3 == 0 ? 1 : 0);
                    }
                }
            }
            assertThat(seen).hasSize(500);
            for (long pid : l.workerPids()) {
                assertThat(Files.readString(Path.of("/proc/" + pid + "/maps"))).contains(a.toString()).contains(b.toString());
            }
        }
    }

    @Test
    void aGivenSchemaAndABadValueNamingFileLineColumnAndValue() throws Exception {
        Path a = csv("a.csv", 0, 100);
        Path b = dir.resolve("b.csv");
        String good = Files.readString(csv("tmp.csv", 100, 200));
        Files.writeString(b, good.replace("\n156,", "\nx156,"));
        var schema = Columns.schema(Columns.int64("id"), Columns.float64("score"), Columns.utf8("name"), Columns.bool("ok"));
        try (DataLoader l = DataLoader.builder(CsvDataset.builder(a, b).schema(schema).build()).batchSize(50).numWorkers(2).build()) {
            Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> {
                for (Batch batch : l) batch.close();
            });
            assertThat(t).isInstanceOf(SampleReadException.class).hasMessageContaining("sample 156");
            CsvFormatException bad = (CsvFormatException) t.getCause();
            assertThat(bad.file()).isEqualTo(b.toString());
            assertThat(bad.line()).isEqualTo(58); // header + 56 lines before it
            assertThat(bad.column()).isEqualTo("id");
            assertThat(bad.value()).isEqualTo("x156");
            assertThat(bad).hasMessage(b + ", line 58, column 'id': value 'x156' is not an int64");
        }
    }

    @Test
    void shortRowsMissingFilesAndUnterminatedQuotesAreClearErrors() throws Exception {
        Path shortRow = Files.writeString(dir.resolve("s.csv"), "a,b\n1,2\n3\n");
        try (DataLoader l = DataLoader.builder(CsvDataset.builder(shortRow).build()).batchSize(2).build()) {
            assertThatThrownBy(() -> l.iterator().next()).rootCause().hasMessage(shortRow + ", line 3 has 1 fields; the header has 2");
        }
        assertThatThrownBy(() -> CsvDataset.builder(dir.resolve("none.csv")).build()).hasMessageContaining("none.csv does not exist");
        Path quote = Files.writeString(dir.resolve("q.csv"), "a\n\"open\n");
        assertThatThrownBy(() -> CsvDataset.builder(quote).build()).hasMessageContaining("line 2 has an unterminated quote");
    }

    @Test
    void bytesThatAreNotUtf8AreRefusedNamingFileLineAndColumnUnlessReplacementIsAsked() throws Exception {
        byte[] good = Files.readAllBytes(csv("good.csv", 0, 500));
        String text = new String(good, java.nio.charset.StandardCharsets.UTF_8);
        int at = text.indexOf("\n298,") + 1; // line 300: the header, then lines for ids 0..297
        int name = text.indexOf(",\"n298", at) + 3; // in the name column, after its opening quote and the n
        java.io.ByteArrayOutputStream bad = new java.io.ByteArrayOutputStream();
        bad.write(good, 0, name);
        bad.write(new byte[] {(byte) 0xff, (byte) 0xfe, (byte) 0xc3});
        bad.write(good, name, good.length - name);
        Path file = Files.write(dir.resolve("latin.csv"), bad.toByteArray());
        try (DataLoader l = DataLoader.builder(CsvDataset.builder(file).build()).batchSize(100).numWorkers(2).build()) {
            Throwable t = org.assertj.core.api.Assertions.catchThrowable(() -> {
                for (Batch batch : l) batch.close();
            });
            assertThat(t).isInstanceOf(SampleReadException.class).hasMessageContaining("sample 298");
            CsvFormatException e = (CsvFormatException) t.getCause();
            assertThat(e.file()).isEqualTo(file.toString());
            assertThat(e.line()).isEqualTo(300);
            assertThat(e.column()).isEqualTo("name");
            assertThat(e).hasMessageContaining("not UTF-8 (ff fe c3").hasMessageContaining("replaceInvalidUtf8(true)");
        }
        try (DataLoader l = DataLoader.builder(CsvDataset.builder(file).replaceInvalidUtf8(true).build()).batchSize(100).numWorkers(2).build()) {
            String got = null;
            for (Batch batch : l) {
                try (batch) {
                    for (int r = 0; r < batch.size(); r++) {
                        if (((BigIntVector) batch.root().getVector("id")).get(r) == 298) got = batch.root().getVector("name").getObject(r).toString();
                    }
                }
            }
            assertThat(got).isEqualTo("n\uFFFD\uFFFD\uFFFD298, \"q\"");
        }
        // A U+FFFD that is in the file, as UTF-8, is text like any other.
        Path real = Files.writeString(dir.resolve("fffd.csv"), "a,b\n1,x\uFFFDy\n");
        try (DataLoader l = DataLoader.builder(CsvDataset.builder(real).build()).batchSize(1).build(); Batch b = l.iterator().next()) {
            assertThat(b.root().getVector("b").getObject(0).toString()).isEqualTo("x\uFFFDy");
        }
    }

    @Test
    void emptyFilesAndAnEmptyHeaderAreRefusedNamingTheFile() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty.csv"), "");
        assertThatThrownBy(() -> CsvDataset.builder(empty).build()).isInstanceOf(IllegalArgumentException.class)
                .hasMessage(empty + " is empty: a CSV file needs a header line (or give CsvDataset.Builder.schema)");
        Path a = csv("a.csv", 0, 10);
        assertThatThrownBy(() -> CsvDataset.builder(a, empty).build()).hasMessageStartingWith(empty + " is empty");
        Path blank = Files.writeString(dir.resolve("blank.csv"), "\n1\n2\n");
        assertThatThrownBy(() -> CsvDataset.builder(blank).build()).hasMessageContaining(blank + ": line 1, the header, is empty");
    }

    @Test
    void aHeaderPastSixtyFourKilobytesTravelsToTheWorkers() throws Exception {
        String wide = "c".repeat(5 << 20); // a column name of 5 MB; writeUTF stopped at 64 KB
        Path file = Files.writeString(dir.resolve("wide.csv"), "id," + wide + "\n1,2\n3,4\n");
        try (DataLoader l = DataLoader.builder(CsvDataset.builder(file).build()).batchSize(2).numWorkers(1).build(); Batch b = l.iterator().next()) {
            assertThat(((BigIntVector) b.root().getVector("id")).get(1)).isEqualTo(3);
            assertThat(((BigIntVector) b.root().getVector(wide)).get(1)).isEqualTo(4);
        }
    }

    @Test
    void aLineTooLargeForTheRingNamesTheFileTheLineAndRingBytes() throws Exception {
        Path file = Files.writeString(dir.resolve("long.csv"), "id,text\n1,short\n2," + "x".repeat(3 << 20) + "\n3,short\n");
        try (DataLoader l = DataLoader.builder(CsvDataset.builder(file).build()).batchSize(3).numWorkers(1).ringBytes(1 << 20).build()) {
            assertThatThrownBy(() -> l.iterator().next()).isInstanceOf(SampleReadException.class)
                    .hasMessageContaining("sample 1 (line 3 of " + file + ")").hasMessageContaining("DataLoader.Builder.ringBytes");
        }
    }
}
