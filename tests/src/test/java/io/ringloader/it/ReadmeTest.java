package io.ringloader.it;

import io.ringloader.testkit.Isolated;
import org.junit.jupiter.api.Test;

import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every Java block of the README compiles as written, against the project's classes, and the short ones
 * run: so the README cannot drift from the API. The comment on the line before a block says how it is
 * checked:
 *
 * <pre>
 *   &lt;!-- check: run --&gt;       imports, then statements: compiled as the body of a main method, and run
 *   &lt;!-- check: compile --&gt;   the same, compiled only (it needs files or servers a reader has)
 *   &lt;!-- check: unit --&gt;      a whole compilation unit (a class with its imports), compiled only
 * </pre>
 *
 * A Java block without one of them fails the test, so a new block is never left unchecked.
 */
@Isolated(timeout = "600s")
class ReadmeTest {
    private static final Pattern BLOCK = Pattern.compile("(?m)^(<!-- check: (run|compile|unit) -->\\n)?```java\\n(.*?)^```", Pattern.DOTALL);

    /** A Java block: how it is checked, its first line in the README, its text. */
    record Block(String check, int line, String text) {
        String className() {
            return "ReadmeBlockAtLine" + line;
        }

        /** The compilation unit, and the README line of its first line after the imports (for messages). */
        String source() {
            if (check.equals("unit")) return text;
            StringBuilder imports = new StringBuilder(), body = new StringBuilder();
            for (String l : text.split("\n", -1)) {
                if (l.startsWith("import ")) {
                    imports.append(l).append('\n');
                    body.append('\n'); // keeps the body's lines where they are in the README
                } else {
                    body.append("        ").append(l).append('\n');
                }
            }
            return imports + "public class " + className() + " { public static void main(String[] args) throws Exception {\n"
                    + body + "}}\n";
        }
    }

    static List<Block> blocks(String readme) {
        List<Block> out = new ArrayList<>();
        Matcher m = BLOCK.matcher(readme);
        while (m.find()) {
            int line = (int) readme.substring(0, m.start(3)).chars().filter(c -> c == '\n').count() + 1;
            out.add(new Block(m.group(2), line, m.group(3)));
        }
        return out;
    }

    @Test
    void everyJavaBlockOfTheReadmeCompilesAndTheShortOnesRun() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        List<Block> blocks = blocks(readme);
        assertThat(blocks).as("Java blocks of the README").hasSizeGreaterThanOrEqualTo(5);
        assertThat(blocks).as("every Java block says how it is checked (<!-- check: run|compile|unit --> on the line before it)")
                .allSatisfy(b -> assertThat(b.check()).as("the block at README line %d", b.line()).isNotNull());

        Path out = Files.createTempDirectory("readme-classes");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        List<JavaFileObject> sources = new ArrayList<>();
        for (Block b : blocks) {
            String source = b.source();
            sources.add(new SimpleJavaFileObject(URI.create("string:///" + b.className() + ".java"), JavaFileObject.Kind.SOURCE) {
                @Override
                public CharSequence getCharContent(boolean ignoreEncodingErrors) {
                    return source;
                }
            });
        }
        try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, null, null)) {
            List<String> options = List.of("-d", out.toString(), "-classpath", System.getProperty("java.class.path"), "-proc:none", "-Xlint:none");
            boolean ok = javac.getTask(null, files, diagnostics, options, null, sources).call();
            StringBuilder errors = new StringBuilder();
            for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
                if (d.getKind() != Diagnostic.Kind.ERROR) continue;
                Block b = blocks.get(sources.indexOf(d.getSource()));
                errors.append("\n  README.md line ").append(readmeLine(b, d.getLineNumber())).append(": ").append(d.getMessage(null));
            }
            assertThat(ok).as("the README's Java blocks compile:%s", errors).isTrue();
        }

        try (URLClassLoader loader = new URLClassLoader(new URL[] {out.toUri().toURL()}, getClass().getClassLoader())) {
            for (Block b : blocks) {
                if (!b.check().equals("run")) continue;
                System.out.println("running the README's block at line " + b.line());
                loader.loadClass(b.className()).getMethod("main", String[].class).invoke(null, (Object) new String[0]);
            }
        }
    }

    /**
     * The README line of line {@code generated} of a block's source: a wrapped block's source is its k
     * imports, the class line, then every line of the block (an import as an empty line).
     */
    private static long readmeLine(Block b, long generated) {
        if (b.check().equals("unit")) return b.line() + generated - 1;
        long imports = b.text().lines().filter(l -> l.startsWith("import ")).count();
        return generated <= imports ? b.line() + generated - 1 : b.line() + generated - imports - 2;
    }
}
