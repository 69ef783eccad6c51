package io.ringloader.os;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class JvmFlagsTest {
    @Test
    void theFlagListIsReadAndSurefireGivesEveryFlag() {
        assertThat(JvmFlags.REQUIRED).contains("--enable-native-access=ALL-UNNAMED", "--add-opens=java.base/java.nio=ALL-UNNAMED");
        // Surefire's argLine (root pom.xml) must carry the same flags as jvm-flags.txt.
        assertThat(JvmFlags.missing()).as("flags missing from the root pom's ringloader.jvm.flags").isEmpty();
    }

    @Test
    void childCommandCarriesTheFlagsAndOurPid() {
        var cmd = JavaProcess.command("x.Main", java.util.List.of("-Xmx64m"), java.util.List.of("a"));
        assertThat(cmd.getFirst()).endsWith("/bin/java");
        assertThat(cmd).containsAll(JvmFlags.REQUIRED).contains("-Xmx64m", "-XX:+UseSerialGC",
                "-Dringloader.parent.pid=" + ProcessHandle.current().pid());
        assertThat(cmd.subList(cmd.size() - 2, cmd.size())).containsExactly("x.Main", "a");
    }
}
