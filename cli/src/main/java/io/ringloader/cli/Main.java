package io.ringloader.cli;

import io.ringloader.os.JvmFlags;

import java.util.Arrays;

/** The {@code ringloader} command. The launcher script builds the project and runs this class. */
public final class Main {
    private Main() {}

    static final String USAGE = """
            usage: ringloader <command>
              demo [options]       the main job: a CNN trained with DJL on the built-in shapes dataset,
                                   fed by 2 process workers (--epochs, --workers, --mode, --batch-size,
                                   --seed, --json; see README)
              demo --task text [options]
                                   a sequence classifier on built-in text, tokenized, bucketed by
                                   length and padded by 2 process workers (--batching bucketed|fixed)
              ring-demo            the shared-memory ring between two processes, on its own
              test                 run every test of the project (handled by the launcher script)
              javadoc              the API's javadoc into <module>/target/reports/apidocs (handled by the launcher script)
              notebooks [--save] [--install]
                                   run notebooks/ headless on the Java kernel (handled by the launcher script)
              worker-host [--port N] [--workers N] [--bind ADDRESS] [--token-file FILE] [--tls-cert FILE --tls-key FILE]
                                   serve process workers of this machine to trainers on others, over Arrow
                                   Flight (remoteWorkers); the token from --token-file or RINGLOADER_TOKEN_FILE
              bench ring           GB/s through the shared-memory ring vs memcpy, as JSON lines
              bench --workload W [--workers N] [--mode process|thread|inline]
                                   a workload of docs/benchmarks.md (tiny, wide, cpu, startup, train, resume);
                                   --peer djl --threads N: DJL's own pipeline on it instead;
                                   --remote-hosts N: on N loopback worker hosts, beside 2 local workers
              bench --compare [--publish]
                                   every workload, every mode, 0-4 workers, beside PyTorch's DataLoader
                                   (fork, spawn) and DJL's pipeline; report and charts in bench-results/
            """;

    public static void main(String[] args) throws Exception {
        JvmFlags.require("ringloader");
        if (args.length == 0) {
            System.err.print(USAGE);
            System.exit(2);
        }
        String[] rest = Arrays.copyOfRange(args, 1, args.length);
        switch (args[0]) {
            case "demo" -> demo(rest);
            case "ring-demo" -> RingCommands.demo();
            case "aot-train" -> AotTraining.run();
            case "bench" -> bench(rest);
            case "worker-host" -> io.ringloader.remote.WorkerHostMain.main(rest);
            case "help", "--help", "-h" -> System.out.print(USAGE);
            default -> {
                System.err.println("ringloader: unknown command '" + args[0] + "'");
                System.err.print(USAGE);
                System.exit(2);
            }
        }
    }

    /** {@code demo}: the shapes CNN, or with {@code --task text} the sequence classifier. */
    private static void demo(String[] args) throws Exception {
        int task = Arrays.asList(args).indexOf("--task");
        if (task < 0) {
            io.ringloader.cli.demo.TrainDemo.run(args);
            return;
        }
        if (task + 1 >= args.length) throw new IllegalArgumentException("demo: --task needs a value: shapes or text");
        String[] rest = java.util.stream.IntStream.range(0, args.length).filter(i -> i != task && i != task + 1).mapToObj(i -> args[i])
                .toArray(String[]::new);
        switch (args[task + 1]) {
            case "shapes" -> io.ringloader.cli.demo.TrainDemo.run(rest);
            case "text" -> io.ringloader.cli.demo.TextDemo.run(rest);
            default -> throw new IllegalArgumentException("demo: --task is shapes or text, not " + args[task + 1]);
        }
    }

    private static void bench(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("ring")) {
            RingCommands.benchRing(Arrays.copyOfRange(args, 1, args.length));
            return;
        }
        if (Arrays.asList(args).contains("--compare")) {
            io.ringloader.cli.bench.CompareBench.run(args);
            return;
        }
        if (args.length > 0 && args[0].startsWith("--")) {
            io.ringloader.cli.bench.LoaderBench.run(args);
            return;
        }
        System.err.println("ringloader bench: give a benchmark: ring, or --workload tiny|wide|cpu|cpu-long|wide-long|seq|startup|train|resume");
        System.err.print(USAGE);
        System.exit(2);
    }
}
