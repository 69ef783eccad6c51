package io.ringloader.cli.demo;

import io.ringloader.worker.WorkerMode;

import java.nio.file.Path;
import java.util.Locale;

/** The options every demo task takes: how long, how many workers of which mode, how large, and where. */
final class CommonOptions {
    static final String KNOWN = "--epochs N, --workers N, --mode process|thread|inline, --batch-size N, --seed N, --train-samples N,"
            + " --test-samples N, --data-dir D, --json";

    int epochs, workers = 2, batchSize, train, test;
    long seed = 42;
    WorkerMode mode = WorkerMode.PROCESS;
    boolean json;
    Path dataDir = Path.of(System.getProperty("ringloader.data.dir", "data"));

    CommonOptions(int epochs, int batchSize, int train, int test) {
        this.epochs = epochs;
        this.batchSize = batchSize;
        this.train = train;
        this.test = test;
    }

    /** Takes the option at {@code args[i]} if it is one of these; returns how many arguments it used (0: not one of these). */
    int take(String[] args, int i) {
        switch (args[i]) {
            case "--json" -> json = true;
            case "--epochs", "--workers", "--mode", "--batch-size", "--seed", "--train-samples", "--test-samples", "--data-dir" -> {
                if (i + 1 >= args.length) throw new IllegalArgumentException("demo: " + args[i] + " needs a value");
                String v = args[i + 1];
                switch (args[i]) {
                    case "--epochs" -> epochs = Integer.parseInt(v);
                    case "--workers" -> workers = Integer.parseInt(v);
                    case "--mode" -> mode = WorkerMode.valueOf(v.toUpperCase(Locale.ROOT));
                    case "--batch-size" -> batchSize = Integer.parseInt(v);
                    case "--seed" -> seed = Long.parseLong(v);
                    case "--train-samples" -> train = Integer.parseInt(v);
                    case "--test-samples" -> test = Integer.parseInt(v);
                    default -> dataDir = Path.of(v);
                }
                return 2;
            }
            default -> {
                return 0;
            }
        }
        return 1;
    }

    /** The mode, inline when no worker is asked for. */
    WorkerMode effectiveMode() {
        return workers == 0 ? WorkerMode.INLINE : mode;
    }
}
