package io.ringloader.os;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The JVM flags every ringloader JVM needs (see {@code jvm-flags.txt} beside this class), and which of
 * them the running JVM lacks, so that a missing one is reported by name instead of as Arrow's or the
 * foreign linker's internal error.
 */
public final class JvmFlags {
    private JvmFlags() {}

    /** Every flag, in the order of {@code jvm-flags.txt}. */
    public static final List<String> REQUIRED = load();

    private static List<String> load() {
        try (InputStream in = JvmFlags.class.getResourceAsStream("jvm-flags.txt")) {
            if (in == null) throw new IllegalStateException("jvm-flags.txt is missing from the ringloader-native jar");
            return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)).lines()
                    .map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The flags without which something breaks (Arrow cannot reach buffer addresses without the first;
     * every foreign call warns without the second). The others only quieten warnings or speed up reads.
     */
    public static final List<String> ESSENTIAL = List.of(
            "--add-opens=java.base/java.nio=ALL-UNNAMED", "--enable-native-access=ALL-UNNAMED");

    /** The flags of {@link #REQUIRED} that this JVM was started without. */
    public static List<String> missing() {
        return missingOf(REQUIRED);
    }

    private static List<String> missingOf(List<String> flags) {
        List<String> given = ManagementFactory.getRuntimeMXBean().getInputArguments();
        return flags.stream().filter(flag -> !given.contains(flag) && !impliedBy(flag, given)).toList();
    }

    /** {@code --add-opens java.base/java.nio=ALL-UNNAMED} (two words) means the same as the one-word form. */
    private static boolean impliedBy(String flag, List<String> given) {
        int eq = flag.indexOf('=');
        if (!flag.startsWith("--") || eq < 0) return false;
        String name = flag.substring(0, eq), value = flag.substring(eq + 1);
        for (int i = 0; i + 1 < given.size(); i++) {
            if (given.get(i).equals(name) && given.get(i + 1).equals(value)) return true;
        }
        return false;
    }

    /**
     * Throws with a message naming each missing essential flag and where to put it.
     *
     * @param who what needs them, e.g. "the DataLoader"
     */
    public static void require(String who) {
        List<String> missing = missingOf(ESSENTIAL);
        if (missing.isEmpty()) return;
        throw new IllegalStateException(who + " needs these JVM flags, which this JVM was started without: "
                + String.join(" ", missing) + ". Add them to the java command line (or to Surefire's argLine, or"
                + " to JDK_JAVA_OPTIONS); the full set is: " + String.join(" ", REQUIRED));
    }
}
