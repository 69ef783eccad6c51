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
     * The copies of a batch's bytes from a host's worker ring to the trainer's ring (Arrow Java 19's Flight,
     * metadata-only messages): where each is made and by whom.
     */
    static final List<String> COPIES = List.of(
            "host: worker ring -> Flight ArrowBuf (ringloader's downlink)",
            "host: ArrowBuf -> protobuf ByteString (Flight, ArrowMessage.asInputStream: ByteString.copyFrom)",
            "host: ByteString -> Netty buffer (gRPC's marshaller)",
            "host kernel: send (socket buffer)",
            "trainer kernel: receive (socket buffer -> Netty buffer)",
            "trainer: Netty buffer -> Flight ArrowBuf (Flight, GetReadableBuffer.readIntoBuffer)",
            "trainer: ArrowBuf -> trainer's batch ring (ringloader's downlink)");

    static void run(String impl, String workload, MapDataset ds, int batch, int hosts) throws Exception {
        Path dir = Files.createTempDirectory("ringloader-bench-");
        Path tokenFile = dir.resolve("token");
        Token token = Token.create(tokenFile);
        List<ChildProcess> started = new ArrayList<>();
        try {
            List<String> uris = new ArrayList<>();
            for (int h = 0; h < hosts; h++) {
                ChildProcess p = ChildProcess.start("worker host " + h, JavaProcess.command(WorkerHostMain.class.getName(), hostJvm(),
                        List.of("--port", "0", "--workers", "1", "--token-file", tokenFile.toString())));
                started.add(p);
                p.awaitOrDie(() -> WorkerHostMain.listeningPort(p.stdoutTail()) > 0, 60_000, "listen");
                uris.add("grpc://127.0.0.1:" + WorkerHostMain.listeningPort(p.stdoutTail()));
            }
            boolean wide = LoaderBench.wide(workload);
            if (wide) System.out.println(LoaderBench.memcpyLine(workload));
            LoaderBench.Throughput local = LoaderBench.throughput(impl, workload, ds, batch, WorkerMode.PROCESS, 2, b -> b, (l, m) -> "");
            System.out.println(local.line());
            LoaderBench.Throughput remote = LoaderBench.throughput("ringloader-remote", workload, ds, batch, WorkerMode.PROCESS, 0,
                    b -> b.remoteWorkers(uris.toArray(String[]::new)).remoteToken(token),
                    (l, m) -> String.format(Locale.ROOT, ",\"remote_hosts\":%d,\"host_workers\":%d", hosts, l.numWorkers()));
            System.out.println(remote.line());
            long bytes = batchBytes(ds, batch);
            double gbs = remote.rate() / batch * bytes / 1e9;
            System.out.printf(Locale.ROOT, "{\"impl\":\"remote-summary\",\"workload\":\"%s\",\"remote_hosts\":%d,\"local_workers\":2,"
                            + "\"remote_vs_local\":%.3f,\"remote_gb_per_s\":%.3f,\"same_batches\":%b,\"batch_bytes\":%d,\"user_space_copies\":%d,"
                            + "\"copies\":[%s]}%n",
                    workload, hosts, remote.rate() / local.rate(), gbs, remote.checksum() == local.checksum(), bytes,
                    COPIES.stream().filter(c -> !c.contains("kernel")).count(),
                    String.join(",", COPIES.stream().map(c -> "\"" + c + "\"").toList()));
        } finally {
            for (ChildProcess p : started) p.close();
            Files.deleteIfExists(tokenFile);
            Files.deleteIfExists(dir);
        }
    }

    /** The hosts' JVM options: {@link WorkerHostMain#JVM_OPTIONS} and {@code -Dringloader.bench.hostJvm} (to profile one). */
    private static List<String> hostJvm() {
        List<String> o = new ArrayList<>(WorkerHostMain.JVM_OPTIONS);
        // As ./ringloader worker-host does: its workers boot from the launcher's AOT cache, as local ones do.
        String aot = System.getProperty(ProcessWorker.AOT_CACHE_PROPERTY);
        if (aot != null) o.add("-D" + ProcessWorker.AOT_CACHE_PROPERTY + "=" + aot);
        String more = System.getProperty("ringloader.bench.hostJvm", "").strip();
        if (!more.isEmpty()) o.addAll(List.of(more.split("\\s+")));
        return o;
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
