package io.ringloader.worker;

import io.ringloader.ring.SpscRing;

import java.util.List;

/**
 * No worker at all ({@code numWorkers(0)}): batches are built on the caller's thread, through the same
 * loop and the same ring as real workers, right before the caller reads them.
 */
public final class InlineWorker extends Worker {
    private final WorkerLoop loop;

    private InlineWorker(int id, Segment segment, WorkerLoop loop) {
        super(id, segment.shm(), segment.control(), segment.requests(), segment.batches());
        this.loop = loop;
    }

    static InlineWorker start(WorkerSpec spec) {
        Segment segment = allocate(spec);
        segment.shm().unlink();
        SpscRing[] side = segment.workerSide();
        try {
            WorkerLoop loop = WorkerLoop.create(segment.config(), segment.control(), side[0], side[1]);
            if (loop != null) {
                loop.builder().failWhenFull("numWorkers(0): the batches you still hold fill the ring");
                loop.start();
            }
            return new InlineWorker(spec.id(), segment, loop);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while opening the dataset", e);
        }
    }

    @Override
    public void beforeRead() throws InterruptedException {
        if (loop != null) loop.serveWaiting();
    }

    @Override
    public ClassLoader classLoader() {
        return loop == null ? super.classLoader() : loop.classes();
    }

    @Override
    public String describe() {
        return "the calling thread (numWorkers 0)";
    }

    @Override
    public long pid() {
        return ProcessHandle.current().pid();
    }

    @Override
    public boolean isAlive() {
        return true;
    }

    @Override
    public String exitDescription() {
        return "is the calling thread";
    }

    @Override
    public List<String> stderrTail() {
        return List.of();
    }

    @Override
    public String threadDump() {
        return "(batches are built on the calling thread)";
    }

    @Override
    public void kill() {}

    @Override
    protected void awaitStop(long graceMillis) {
        if (loop != null) loop.close();
    }
}
