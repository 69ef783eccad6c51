package io.ringloader.it;

import io.ringloader.os.SharedMemory;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fails a test that left a child process running or a new ringloader file in /dev/shm, naming them,
 * and removes them so that the next test starts clean.
 */
public final class NoLeftovers implements BeforeEachCallback, AfterEachCallback {
    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(NoLeftovers.class);

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        context.getStore(NS).put("shm", shmFiles());
    }

    @Override
    @SuppressWarnings("unchecked")
    public void afterEach(ExtensionContext context) throws Exception {
        Set<String> before = (Set<String>) context.getStore(NS).get("shm");
        List<ProcessHandle> children = ProcessHandle.current().descendants().toList();
        for (ProcessHandle c : children) c.destroyForcibly();
        for (ProcessHandle c : children) c.onExit().get(10, TimeUnit.SECONDS);
        List<String> files = shmFiles().stream().filter(f -> !before.contains(f)).sorted().toList();
        for (String f : files) Files.deleteIfExists(SharedMemory.SHM_DIR.resolve(f));
        assertThat(children.stream().map(c -> c.pid() + " " + c.info().commandLine().orElse("?")).toList())
                .as("processes the test left running").isEmpty();
        assertThat(files).as("files the test left in /dev/shm").isEmpty();
    }

    private static Set<String> shmFiles() throws IOException {
        try (Stream<Path> files = Files.list(SharedMemory.SHM_DIR)) {
            return files.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(SharedMemory.PREFIX))
                    .collect(Collectors.toSet());
        }
    }
}
