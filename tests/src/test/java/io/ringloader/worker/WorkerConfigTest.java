package io.ringloader.worker;

import io.ringloader.batch.ColumnLayout;
import io.ringloader.data.Columns;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The binary form in which a process worker receives its configuration. */
class WorkerConfigTest {

    @Test
    void everyFieldSurvivesTheRoundTrip() {
        var config = new WorkerConfig(new byte[] {1, 2, 3}, Map.of("a.B", new byte[] {9, 8}, "a.C", new byte[0]),
                List.of(new ColumnLayout("image", ColumnLayout.Kind.TENSOR, Columns.DType.FLOAT32, 12),
                        new ColumnLayout("name", ColumnLayout.Kind.VARIABLE, null, 1),
                        new ColumnLayout("ok", ColumnLayout.Kind.BOOL, null, 1),
                        new ColumnLayout("label", ColumnLayout.Kind.FIXED, Columns.DType.INT64, 1)),
                3, 4, -42L, 5, 6, -1, 30_000);
        WorkerConfig back = WorkerConfig.decode(config.encode());
        assertThat(back.dataset()).containsExactly(1, 2, 3);
        assertThat(back.classes()).containsOnlyKeys("a.B", "a.C");
        assertThat(back.classes().get("a.B")).containsExactly(9, 8);
        assertThat(back.classes().get("a.C")).isEmpty();
        assertThat(back.columns()).isEqualTo(config.columns());
        assertThat(List.of(back.workerId(), back.numWorkers(), back.shardIndex(), back.shardCount(), back.cpu())).containsExactly(3, 4, 5, 6, -1);
        assertThat(back.seed()).isEqualTo(-42L);
        assertThat(back.timeoutMillis()).isEqualTo(30_000);
    }

    @Test
    void aConfigurationOfAnotherFormatIsRefusedWithTheReason() {
        assertThatThrownBy(() -> WorkerConfig.decode(new byte[] {0, 0, 0, 7, 0}))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("different ringloader versions");
        byte[] cut = new WorkerConfig(new byte[100], Map.of(), List.of(), 0, 1, 0, 0, 1, -1, 0).encode();
        assertThatThrownBy(() -> WorkerConfig.decode(java.util.Arrays.copyOf(cut, 50)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("cut short");
    }
}
