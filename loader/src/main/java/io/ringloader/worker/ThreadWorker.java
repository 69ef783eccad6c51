package io.ringloader.worker;

import io.ringloader.ring.SpscRing;

import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/** A worker on a thread of this JVM: the same loop and the same rings as a process worker. */
public final class ThreadWorker extends Worker {
    private final Thread thread;
    private volatile Throwable died;

    private ThreadWorker(int id, Segment segment) {
        super(id, segment.shm(), segment.control(), segment.requests(), segment.batches());
        SpscRing[] side = segment.workerSide();
        SpscRing workerRequests = side[0], workerBatches = side[1];
        WorkerConfig config = segment.config();
        this.thread = new Thread(() -> {
            try {
                if (config.cpu() >= 0) io.ringloader.os.Posix.pinThread(0, config.cpu());
                WorkerLoop.run(config, segment.control(), workerRequests, workerBatches);
            } catch (Throwable t) {
                died = t;
            } finally {
                // A thread worker that ends, however, closes its rings: the trainer learns of it at once.
                workerBatches.close();
            }
        }, "ringloader-worker-" + id);
        thread.setDaemon(true);
    }

    static ThreadWorker start(WorkerSpec spec) {
        Segment segment = allocate(spec);
        segment.shm().unlink(); // both sides live in this process and have it mapped
        ThreadWorker worker = new ThreadWorker(spec.id(), segment);
        worker.thread.start();
        return worker;
    }

    @Override
    public String describe() {
        return "worker " + id + " (thread " + thread.getName() + ")";
    }

    @Override
    public long pid() {
        return ProcessHandle.current().pid();
    }

    @Override
    public boolean isAlive() {
        return thread.isAlive();
    }

    @Override
    public String exitDescription() {
        Throwable t = died;
        return t == null ? "ended" : "ended with " + t;
    }

    @Override
    public List<String> stderrTail() {
        return List.of();
    }

    @Override
    public String threadDump() {
        return "\"" + thread.getName() + "\" " + thread.getState() + "\n"
                + Arrays.stream(thread.getStackTrace()).map(e -> "\tat " + e).collect(Collectors.joining("\n"));
    }

    @Override
    public void kill() {
        // A thread cannot be killed: interrupt it, and let it go (it is a daemon) if it does not listen.
        requests.close();
        batches.close();
        thread.interrupt();
    }

    @Override
    protected void awaitStop(long graceMillis) {
        try {
            thread.join(Math.max(1, graceMillis)); // join(0) would wait forever
            if (thread.isAlive()) {
                thread.interrupt();
                thread.join(1000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            org.slf4j.LoggerFactory.getLogger(ThreadWorker.class).warn("ringloader: {} did not stop within {} ms after it was asked to;"
                    + " it is left running as a daemon thread:\n{}", describe(), graceMillis, threadDump());
        }
    }
}
