package io.ringloader.remote;

import java.nio.file.Path;

/**
 * {@code java -cp <ringloader's class path> io.ringloader.remote.WorkerHostMain --port 7070 --workers 16}:
 * a worker host from a plain class path, for a container image ({@code ./ringloader worker-host} runs
 * the same). The token comes from {@code --token-file FILE}, {@code RINGLOADER_TOKEN_FILE} or
 * {@code RINGLOADER_TOKEN}; never from the command line. Options: {@code --bind ADDRESS} (127.0.0.1),
 * {@code --tls-cert FILE --tls-key FILE} (PEM; without them, plain gRPC), {@code --data-port N} (the port of
 * the workers' data connections, which carry the batches: {@code --port} + 1 unless given). It prints
 * {@code ringloader worker-host listening on PORT} once it serves, and serves until killed.
 */
public final class WorkerHostMain {
    private WorkerHostMain() {}

    /**
     * The JVM options a host runs best with. In plain TCP it only moves bytes between its workers' rings and
     * the network (its workers are JVMs of their own; the kernel copies the bytes), and C2's compilations
     * would take the CPU its workers need for the first minutes: C1 only. Over TLS ({@code tls}) it encrypts
     * every byte, and only C2 compiles AES-GCM to the CPU's AES and carry-less multiply instructions: with C1
     * alone, a host encrypted 12 times slower (docs/remote.md), so none.
     */
    public static java.util.List<String> jvmOptions(boolean tls) {
        return tls ? java.util.List.of() : java.util.List.of(C1_ONLY);
    }

    private static final String C1_ONLY = "-XX:TieredStopAtLevel=1";

    /** The line it prints once it serves, followed by its port. */
    public static final String LISTENING = "ringloader worker-host listening on ";

    /** The port a host said it listens on, in {@code output} (its standard output's lines), or -1 if it has not said yet. */
    public static int listeningPort(java.util.List<String> output) {
        for (String line : output) {
            int at = line.indexOf(LISTENING);
            if (at >= 0) return Integer.parseInt(line.substring(at + LISTENING.length()).strip());
        }
        return -1;
    }

    public static final String USAGE = "worker-host [--port N (7070)] [--workers N (CPUs)] [--bind ADDRESS (127.0.0.1)] [--token-file FILE]"
            + " [--tls-cert FILE --tls-key FILE] [--data-port N (--port + 1)]";

    public static void main(String[] args) throws Exception {
        io.ringloader.os.JvmFlags.require("the worker host");
        oneLineTransportFailures();
        int port = 7070, workers = Runtime.getRuntime().availableProcessors();
        String bind = "127.0.0.1";
        Path tokenFile = null, cert = null, key = null;
        Integer dataPort = null;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            switch (args[i]) {
                case "--port" -> port = Integer.parseInt(need(value, "--port"));
                case "--workers" -> workers = Integer.parseInt(need(value, "--workers"));
                case "--bind" -> bind = need(value, "--bind");
                case "--token-file" -> tokenFile = Path.of(need(value, "--token-file"));
                case "--tls-cert" -> cert = Path.of(need(value, "--tls-cert"));
                case "--tls-key" -> key = Path.of(need(value, "--tls-key"));
                case "--data-port" -> dataPort = Integer.parseInt(need(value, "--data-port"));
                case "--token" -> throw new IllegalArgumentException("worker-host: a token is never given on the command line (ps shows it to"
                        + " everyone on this machine): put it in a file and give --token-file FILE, or set " + Token.FILE_ENV);
                default -> throw new IllegalArgumentException("worker-host: unknown option " + args[i] + "; usage: " + USAGE);
            }
            i++;
        }
        Token token = tokenFile != null ? Token.ofFile(tokenFile) : Token.fromEnvironment();
        if (cert != null && c1Only()) {
            org.slf4j.LoggerFactory.getLogger(WorkerHostMain.class).warn("ringloader worker-host: this JVM runs with {}, and a TLS host"
                    + " compiled by C1 alone encrypts batches about 12 times slower: start it without {} when it serves TLS", C1_ONLY, C1_ONLY);
        }
        WorkerHost host = WorkerHost.start(new WorkerHost.Settings(bind, port, workers, token, cert, key,
                dataPort != null ? dataPort : WorkerHost.Settings.defaultDataPort(port)));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                host.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "ringloader-worker-host-shutdown"));
        System.out.println(LISTENING + host.port());
        System.out.flush();
        host.awaitTermination();
    }

    /**
     * gRPC logs each connection to the Flight port that fails before it speaks HTTP/2 (garbage, a port
     * scanner, a browser) through java.util.logging at INFO with a stack trace of 30 lines. A host is
     * this process's whole purpose, so its main says it in one line of its own log instead, and keeps the
     * logger (java.util.logging holds its loggers weakly: a level set on a dropped one is lost).
     */
    private static void oneLineTransportFailures() {
        TRANSPORT_LOG.setUseParentHandlers(false);
        TRANSPORT_LOG.addHandler(new java.util.logging.Handler() {
            @Override
            public void publish(java.util.logging.LogRecord r) {
                if (r.getLevel().intValue() < java.util.logging.Level.INFO.intValue()) return;
                Throwable t = r.getThrown();
                org.slf4j.LoggerFactory.getLogger(WorkerHost.class).info("ringloader worker-host: a connection to the Flight port was closed: {}",
                        t == null ? r.getMessage() : t.getClass().getSimpleName() + ": " + t.getMessage());
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        });
    }

    private static final java.util.logging.Logger TRANSPORT_LOG = java.util.logging.Logger.getLogger("io.grpc.netty.NettyServerTransport");

    /** Whether this JVM stops at C1 ({@code -XX:TieredStopAtLevel} below 4). */
    private static boolean c1Only() {
        var vm = java.lang.management.ManagementFactory.getPlatformMXBean(com.sun.management.HotSpotDiagnosticMXBean.class);
        return vm != null && Integer.parseInt(vm.getVMOption("TieredStopAtLevel").getValue()) < 4;
    }

    private static String need(String value, String option) {
        if (value == null) throw new IllegalArgumentException("worker-host: " + option + " needs a value; usage: " + USAGE);
        return value;
    }
}
