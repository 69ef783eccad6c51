package io.ringloader.ring;

import io.ringloader.os.SharedMemory;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** Fails a test that left a shared-memory file of this JVM in /dev/shm (and removes it). */
public final class ShmLeakCheck implements AfterEachCallback {
    @Override
    public void afterEach(ExtensionContext context) throws IOException {
        String mine = SharedMemory.PREFIX + ProcessHandle.current().pid() + "-";
        List<Path> left;
        try (Stream<Path> files = Files.list(SharedMemory.SHM_DIR)) {
            left = files.filter(p -> p.getFileName().toString().startsWith(mine)).toList();
        }
        for (Path p : left) Files.deleteIfExists(p);
        assertThat(left).as("files this test left in /dev/shm").isEmpty();
    }
}
