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
}
