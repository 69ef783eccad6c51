package io.ringloader.loader;

import io.ringloader.batch.RecordHeader;
import io.ringloader.ring.PeerDiedException;
import io.ringloader.ring.RingClosedException;
import io.ringloader.ring.RingRecord;
import io.ringloader.worker.Worker;
import io.ringloader.worker.WorkerFailure;
import org.apache.arrow.vector.VectorSchemaRoot;
import org.apache.arrow.vector.complex.ListVector;

import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** One epoch of a loader; what both kinds share: receiving records from a worker, and turning them into batches. */
abstract sealed class Epoch implements Iterator<Batch> permits MapEpoch, StreamEpoch {
    static final long POLL_SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    final DataLoader loader;
    final LoaderSettings settings;
    final int epoch;
    final WorkerSet ws;
    /** Which slot has which addresses in flight; set by the subclass's constructor. */
    InFlight inFlight;
    boolean done;
    boolean abandoned;

    Epoch(DataLoader loader, int epoch, WorkerSet ws) {
        this.loader = loader;
        this.settings = loader.settings();
        this.epoch = epoch;
        this.ws = ws;
    }

    /**
     * Between deliveries: workers an autotuned loader started take requests once they said READY, retired
     * ones leave once all they built was delivered, and the autotuner decides when its interval is over.
     * {@code workersNow}: whether it may add and retire workers now (a stream's shards stay put for the epoch).
     */
    void tune(boolean workersNow) {
        Autotuner tuner = loader.tuner();
        if (tuner == null) return;
        boolean changed = false;
        for (int w = 0; w < ws.capacity(); w++) {
            switch (ws.state(w)) {
                case STARTING -> {
                    if (started(w)) {
                        ws.activate(w);
                        changed = true;
                    }
                }
                case RETIRING -> {
                    if (inFlight.pending(w).isEmpty()) {
                        ws.remove(w);
                        changed = true;
                    }
                }
                default -> {}
            }
        }
        if (changed) tuner.restart(ws);
        tuner.step(epoch, ws, workersNow);
    }

    /** Whether the worker an autotuner started in slot {@code w} said READY (its ring is read for it if it has no requests). */
    private boolean started(int w) {
        Worker worker = ws.get(w);
        if (!worker.isReady() && inFlight.pending(w).isEmpty()) {
            try {
                RingRecord r = poll(worker, 0, () -> "its start (the autotuner added it)");
                if (r != null) worker.release(r, false); // not asked for anything: nothing of this epoch can come
            } catch (WorkerLost l) {
                throw fail(l.error); // as a worker that dies at build() does
            }
        }
        return worker.isReady();
    }

    boolean isDone() {
        return done;
    }

    /** The trainer moved on to a new epoch before this one ended. */
    void abandon() {
        releaseSalvaged();
        done = true;
        abandoned = true;
        if (!settings.persistent()) loader.stopWorkers();
        // Persistent workers finish the requests already sent; their records are skipped by epoch.
    }

    void finish() {
        releaseSalvaged();
        done = true;
        if (!settings.persistent()) loader.stopWorkers();
    }

    /** Gives back the ring space of what lost workers had finished and nobody will take now. */
    void releaseSalvaged() {
        if (inFlight != null) inFlight.releaseSalvaged();
    }

    /** The state after the first {@code n} batches this epoch delivered. */
    abstract LoaderState stateAfter(int n);

    /** The batches this epoch delivered. */
    abstract int taken();

    /** For next(): an abandoned epoch or a failed loader is an error, not just the end. */
    void checkLive() {
        if (abandoned) throw new IllegalStateException("epoch " + epoch + " was abandoned when a newer epoch started");
        loader.checkUsable();
    }

    DataLoaderException fail(DataLoaderException e) {
        return loader.fail(e);
    }

    /**
     * A worker was lost while the trainer needed it: it died, or hung and was killed. Thrown inside the
     * epoch only, where {@link InFlight#recover} gives its slot a successor, or keeps {@link #error} for
     * the slot's next batch.
     */
    static final class WorkerLost extends RuntimeException {
        final Worker worker;
        final DataLoaderException error;

        WorkerLost(Worker worker, DataLoaderException error) {
            super(error.getMessage(), null, false, false);
            this.worker = worker;
            this.error = error;
        }
    }

    /** A sample of batch {@code seq} that {@code w} left out ({@code onSampleError(SKIP)}). */
    abstract void skipped(Worker w, long seq, WorkerFailure failure);

    /**
     * The next record of this epoch from {@code w}, waiting up to {@code waitNanos}; null on timeout.
     * READY records are noted and skipped, records of an abandoned epoch are released and skipped,
     * and failures become exceptions.
     */
    RingRecord poll(Worker w, long waitNanos, Supplier<String> what) {
        long deadline = System.nanoTime() + waitNanos;
        while (true) {
            RingRecord r;
            try {
                w.beforeRead();
                r = w.batches().read(Math.max(0, deadline - System.nanoTime()));
            } catch (RingClosedException | PeerDiedException e) {
                if (loader.isClosed()) throw new IllegalStateException("the DataLoader was closed while waiting for " + what.get());
                throw new WorkerLost(w, WorkerErrors.died(w, what.get()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for " + what.get(), e);
            }
            if (r == null) {
                if (!w.isAlive()) throw new WorkerLost(w, WorkerErrors.died(w, what.get()));
                return null;
            }
            int kind = r.payload().get(JAVA_INT, RecordHeader.KIND);
            int recordEpoch = r.payload().get(JAVA_INT, RecordHeader.EPOCH);
            if (kind == RecordHeader.READY) {
                w.markReady();
                w.release(r, false);
                continue;
            }
            if (kind == RecordHeader.SKIPPED) {
                WorkerFailure f = WorkerFailure.of(r.payload());
                long seq = r.payload().get(JAVA_LONG, RecordHeader.SEQ);
                w.release(r, false);
                if (recordEpoch == epoch) skipped(w, seq, f);
                continue;
            }
            if (kind == RecordHeader.ERROR) {
                WorkerFailure f = WorkerFailure.of(r.payload());
                w.release(r, false);
                if (f.phase().equals("open")) {
                    throw fail(new WorkerStartException(w.describe() + " could not start: " + f.summary(), w.id(), w.pid(),
                            f.cause(w.classLoader())));
                }
                if (recordEpoch != epoch) continue; // a failure in an abandoned epoch: nobody waits for it
                // No sample index: the batch failed outside its samples (claiming its room, or sealing it: padding it, say).
                String which = f.sampleIndex() >= 0 ? "sample " + f.sampleIndex() : "a batch, outside any of its samples,";
                throw fail(new SampleReadException(which + " failed in " + w.describe() + ", in " + what.get()
                        + ": " + f.summary(), w.id(), w.pid(), f.sampleIndex(), f.cause(w.classLoader())));
            }
            if (recordEpoch != epoch) {
                w.release(r, false);
                continue;
            }
            return r;
        }
    }

    /** Waits for {@code w}'s next record, however long, until the loader's timeout declares it hung. */
    RingRecord await(Worker w, Supplier<String> what, long startedNanos) {
        while (true) {
            RingRecord r = poll(w, POLL_SLICE_NANOS, what);
            if (r != null) return r;
            if (System.nanoTime() - startedNanos > settings.timeout().toNanos()) {
                throw new WorkerLost(w, WorkerErrors.hung(w, what.get(), settings.timeout()));
            }
        }
    }

    Batch toBatch(Worker w, RingRecord r, long index, long[] indices) {
        w.hold();
        return toHeldBatch(w, r, index, indices);
    }

    /** {@link #toBatch} for a record already counted as held by {@code w} (one taken from a lost worker's ring). */
    Batch toHeldBatch(Worker w, RingRecord r, long index, long[] indices) {
        var record = r.payload();
        long count = loader.counters().delivered(w.id(), w.pid(), record.get(JAVA_LONG, RecordHeader.BUSY_NANOS));
        if (count == 1) loader.firstBatchOut();
        loader.batchTaken();
        VectorSchemaRoot root;
        try {
            root = loader.reader().read(record, () -> loader.released(w, r));
        } catch (RuntimeException e) {
            loader.released(w, r);
            throw e;
        }
        if (count == 1) loader.firstBatchDelivered();
        loader.counters().samples(root.getRowCount());
        int[] padded = loader.paddedColumns();
        if (padded.length > 0) {
            long values = 0;
            for (int c : padded) values += ((ListVector) root.getVector(c)).getDataVector().getValueCount();
            loader.counters().padded(values, record.get(JAVA_LONG, RecordHeader.PADDING_VALUES), record.get(JAVA_INT, RecordHeader.TRUNCATED_SAMPLES));
        }
        return new Batch(root, loader.reader(), epoch, index, indices, w.id());
    }

    void timed(long startedNanos) {
        loader.counters().timed(startedNanos);
    }
}
