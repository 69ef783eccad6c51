package io.ringloader.it.adapters;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real PostgreSQL server from Debian's packages, started by the test on 127.0.0.1 in a fresh data
 * directory, stopped and removed by {@link #close}. As root it runs as the {@code postgres} user, since
 * PostgreSQL refuses to run as root.
 */
final class PostgresServer implements AutoCloseable {
    final int port;
    private final Path dir;
    private final Path bin;
    private final boolean root;
    private boolean running;

    private PostgresServer(Path dir, Path bin, int port, boolean root) {
        this.dir = dir;
        this.bin = bin;
        this.port = port;
        this.root = root;
    }

    static PostgresServer start() throws Exception {
        Path bin;
        try (Stream<Path> versions = Files.list(Path.of("/usr/lib/postgresql"))) {
            bin = versions.map(v -> v.resolve("bin")).filter(b -> Files.isExecutable(b.resolve("initdb")))
                    .max(Comparator.naturalOrder()).orElseThrow();
        } catch (IOException | java.util.NoSuchElementException e) {
            throw new IllegalStateException("PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb);"
                    + " ./ringloader test installs Debian's postgresql package when it runs as root");
        }
        boolean root = "root".equals(System.getProperty("user.name"));
        Path dir = Files.createTempDirectory(Path.of("/tmp"), "ringloader-pg-");
        if (root) run(List.of("chown", "postgres:postgres", dir.toString()), false);
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        PostgresServer pg = new PostgresServer(dir, bin, port, root);
        try {
            pg.as(List.of(bin.resolve("initdb").toString(), "-D", dir.resolve("data").toString(), "-U", "ringloader", "--auth=trust", "-E", "UTF8"));
            pg.as(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-w", "-l", dir.resolve("log").toString(),
                    "-o", "-p " + port + " -k " + dir + " -c listen_addresses=127.0.0.1", "start"));
            pg.running = true;
        } catch (Exception e) {
            pg.close();
            throw e;
        }
        return pg;
    }

    String url() {
        return "jdbc:postgresql://127.0.0.1:" + port + "/postgres?user=ringloader";
    }

    /** Stops the server at once, as a crash would. */
    void kill() throws Exception {
        if (!running) return;
        running = false;
        as(List.of(bin.resolve("pg_ctl").toString(), "-D", dir.resolve("data").toString(), "-m", "immediate", "stop"));
    }

    private void as(List<String> command) throws Exception {
        List<String> full = new ArrayList<>();
        if (root) full.addAll(List.of(runuser(), "-u", "postgres", "--"));
        full.addAll(command);
        run(full, true);
    }

    /**
     * util-linux's runuser, where Debian puts it (/usr/sbin, /sbin), else from PATH: a root shell's PATH
     * need not hold /usr/sbin.
     */
    static String runuser() {
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) {
            java.nio.file.Path p = java.nio.file.Path.of(dir, "runuser");
            if (java.nio.file.Files.isExecutable(p)) return p.toString();
        }
        return "runuser";
    }

    private static void run(List<String> command, boolean quiet) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed:\n" + out);
        }
    }

    @Override
    public void close() throws Exception {
        try {
            kill();
        } finally {
            try (Stream<Path> files = Files.walk(dir)) {
                files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }
}
