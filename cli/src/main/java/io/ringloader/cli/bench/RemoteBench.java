package io.ringloader.cli.bench;

import io.ringloader.data.MapDataset;
import io.ringloader.loader.Batch;
import io.ringloader.loader.DataLoader;
import io.ringloader.os.ChildProcess;
import io.ringloader.os.JavaProcess;
import io.ringloader.remote.Token;
import io.ringloader.remote.WorkerHostMain;
import io.ringloader.worker.ProcessWorker;
import io.ringloader.worker.WorkerMode;
import org.apache.arrow.vector.FieldVector;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code ringloader bench --workload cpu-long|wide-long|tiny --remote-hosts N}: worker hosts of 1 worker
 * each, every one a JVM of its own on loopback, against 2 local process workers in the same run (the same
 * seed: both checksums must agree). One JSON line per run, then a summary line with the ratio, the bytes
 * a batch has and what is copied on its way from a host's worker to the trainer's ring.
 */
final class RemoteBench {
    private RemoteBench() {}

    /**
     * The copies of a batch's bytes from a host's worker ring to the trainer's ring (plain TCP): where each
     * is made and by whom. None is ringloader's own: the sockets read and write the rings' memory.
     */
    static final List<String> COPIES = List.of(
            "host kernel: send (the host's worker ring -> socket buffer; the host's downlink writes from the ring)",
            "trainer kernel: receive (socket buffer -> the trainer's batch ring; the trainer's downlink reads into the ring)");
    /** The same over TLS ({@code grpc+tls}): JSSE's {@code SSLSocket} works on byte arrays, over the JDK's socket streams. */
    static final List<String> TLS_COPIES = List.of(
            "host: the worker ring -> a 64 KiB array (DataLane)",
            "host: encryption, the array -> a TLS record (JSSE)",
            "host: the TLS record -> a direct buffer (the JDK's socket stream)",
            "host kernel: send (direct buffer -> socket buffer)",
            "trainer kernel: receive (socket buffer -> direct buffer)",
            "trainer: the direct buffer -> a TLS record (the JDK's socket stream)",
            "trainer: decryption, the record -> a 64 KiB array (JSSE)",
            "trainer: the array -> the trainer's batch ring (DataLane)");

    /** {@code tls}: the hosts serve {@code grpc+tls} with a self-signed certificate made for the run (openssl), which the trainer trusts. */
    static void run(String impl, String workload, MapDataset ds, int batch, int hosts, boolean tls) throws Exception {
        Path dir = Files.createTempDirectory("ringloader-bench-");
        Path tokenFile = dir.resolve("token"), cert = dir.resolve("host.pem"), key = dir.resolve("host.key");
        Token token = Token.create(tokenFile);
        List<ChildProcess> started = new ArrayList<>();
        try {
            if (tls) selfSigned(cert, key);
            List<String> uris = new ArrayList<>();
            for (int h = 0; h < hosts; h++) {
                List<String> args = new ArrayList<>(List.of("--port", "0", "--workers", "1", "--token-file", tokenFile.toString()));
                if (tls) args.addAll(List.of("--tls-cert", cert.toString(), "--tls-key", key.toString()));
                ChildProcess p = ChildProcess.start("worker host " + h, JavaProcess.command(WorkerHostMain.class.getName(), hostJvm(tls), args));
                started.add(p);
                p.awaitOrDie(() -> WorkerHostMain.listeningPort(p.stdoutTail()) > 0, 60_000, "listen");
                uris.add((tls ? "grpc+tls" : "grpc") + "://127.0.0.1:" + WorkerHostMain.listeningPort(p.stdoutTail()));
            }
            List<String> copies = tls ? TLS_COPIES : COPIES;
            boolean wide = LoaderBench.wide(workload);
            long bytes = batchBytes(ds, batch);
            double tcp = Double.NaN;
            if (wide) {
                System.out.println(LoaderBench.memcpyLine(workload));
                tcp = tcpGbPerS(bytes);
                System.out.printf(Locale.ROOT, "{\"impl\":\"tcp-loopback\",\"workload\":\"%s\",\"workers\":0,\"gb_per_s\":%.3f}%n", workload, tcp);
            }
            LoaderBench.Throughput local = LoaderBench.throughput(impl, workload, ds, batch, WorkerMode.PROCESS, 2, b -> b, (l, m) -> "");
            System.out.println(local.line());
            LoaderBench.Throughput remote = LoaderBench.throughput(tls ? "ringloader-remote-tls" : "ringloader-remote", workload, ds, batch,
                    WorkerMode.PROCESS, 0, b -> {
                        b.remoteWorkers(uris.toArray(String[]::new)).remoteToken(token);
                        return tls ? b.remoteTls(cert) : b;
                    },
                    (l, m) -> String.format(Locale.ROOT, ",\"remote_hosts\":%d,\"host_workers\":%d", hosts, l.numWorkers()));
            System.out.println(remote.line());
            double gbs = remote.rate() / batch * bytes / 1e9; // the whole batch (labels too) per second, as tcp-loopback counts it
            System.out.printf(Locale.ROOT, "{\"impl\":\"remote-summary\",\"workload\":\"%s\",\"remote_hosts\":%d,\"tls\":%b,\"local_workers\":2,"
                            + "\"remote_vs_local\":%.3f,\"wire_gb_per_s\":%.3f,\"same_batches\":%b,\"batch_bytes\":%d,\"ringloader_copies\":%d,"
                            + "%s\"copies\":[%s]}%n",
                    workload, hosts, tls, remote.rate() / local.rate(), gbs, remote.checksum() == local.checksum(), bytes,
                    copies.stream().filter(c -> !c.contains("kernel")).count(),
                    wide ? String.format(Locale.ROOT, "\"remote_vs_tcp_loopback\":%.3f,", gbs / tcp) : "",
                    String.join(",", copies.stream().map(c -> "\"" + c + "\"").toList()));
        } finally {
            for (ChildProcess p : started) p.close();
            for (Path f : List.of(tokenFile, cert, key, dir)) Files.deleteIfExists(f);
        }
    }

    /** A certificate for 127.0.0.1 and its key, valid a day, as RemoteWorkersTest makes them. */
    private static void selfSigned(Path cert, Path key) throws Exception {
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", key.toString(), "-out", cert.toString())
                .redirectErrorStream(true).start();
        String said = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        if (p.waitFor() != 0) throw new IllegalStateException("bench --remote-tls: openssl could not make a certificate: " + said.strip());
    }

    /** The hosts' JVM options: {@link WorkerHostMain#jvmOptions} and {@code -Dringloader.bench.hostJvm} (to profile one). */
    private static List<String> hostJvm(boolean tls) {
        List<String> o = new ArrayList<>(WorkerHostMain.jvmOptions(tls));
        // As ./ringloader worker-host does: its workers boot from the launcher's AOT cache, as local ones do.
        String aot = System.getProperty(ProcessWorker.AOT_CACHE_PROPERTY);
        if (aot != null) o.add("-D" + ProcessWorker.AOT_CACHE_PROPERTY + "=" + aot);
        String more = System.getProperty("ringloader.bench.hostJvm", "").strip();
        if (!more.isEmpty()) o.addAll(List.of(more.split("\\s+")));
        return o;
    }

    /**
     * The physical limit of the remote path on this machine: one TCP connection on loopback carrying
     * records of {@code recordBytes} from a region of two records into another (as the rings are), in
     * this JVM, with the kernel's two copies and nothing else.
     */
    static double tcpGbPerS(long recordBytes) throws Exception {
        long total = 4L << 30;
        try (Arena arena = Arena.ofShared(); ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0))) {
            MemorySegment from = arena.allocate(2 * recordBytes, 4096).fill((byte) 1), into = arena.allocate(2 * recordBytes, 4096);
            Thread sender = Thread.ofPlatform().start(() -> {
                try (SocketChannel c = SocketChannel.open(server.getLocalAddress())) {
                    for (long sent = 0, k = 0; sent < total; sent += recordBytes, k++) {
                        ByteBuffer b = from.asSlice((k & 1) * recordBytes, recordBytes).asByteBuffer();
                        while (b.hasRemaining()) c.write(b);
                    }
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            long got = 0, t0 = System.nanoTime();
            try (SocketChannel c = server.accept()) {
                for (long k = 0; got < total; k++) {
                    ByteBuffer b = into.asSlice((k & 1) * recordBytes, recordBytes).asByteBuffer();
                    while (b.hasRemaining()) {
                        int n = c.read(b);
                        if (n < 0) throw new java.io.EOFException("the sender ended early");
                        got += n;
                    }
                }
            }
            double gbs = got / 1e9 / ((System.nanoTime() - t0) / 1e9);
            sender.join();
            return gbs;
        }
    }

    /** The bytes of one batch's Arrow buffers (what each copy moves), from one batch built in line. */
    private static long batchBytes(MapDataset ds, int batch) {
        try (DataLoader l = DataLoader.builder(ds).batchSize(batch).numWorkers(0).build()) {
            try (Batch b = l.iterator().next()) {
                return b.root().getFieldVectors().stream().mapToLong(FieldVector::getBufferSize).sum();
            }
        }
    }
}
