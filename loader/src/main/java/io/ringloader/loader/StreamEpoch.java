package io.ringloader.loader;

import io.ringloader.batch.RecordHeader;
import io.ringloader.ring.RingException;
import io.ringloader.ring.RingRecord;
import io.ringloader.worker.Worker;

import java.util.NoSuchElementException;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * An epoch of a streaming dataset: each worker streams its own shard; batches are taken from the
 * workers in turn (as PyTorch does), skipping a worker once its shard is exhausted.
 */
final class StreamEpoch extends Epoch {
    private final boolean[] exhausted;
    private final long[] requested;
    private final long[] received;
    private int rotor;
    private Batch pending;

    StreamEpoch(DataLoader loader, int epoch, WorkerSet ws) {
        super(loader, epoch, ws);
        int n = ws.size();
        exhausted = new boolean[n];
        requested = new long[n];
        received = new long[n];
        for (int w = 0; w < n; w++) refill(w);
    }

    private void request(int w) {
        try {
            ws.get(w).requestStream(epoch, requested[w]++, settings.batchSize());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending a request", e);
        } catch (IllegalStateException | RingException e) {
            throw fail(WorkerErrors.died(ws.get(w), "batch " + requested[w] + " of worker " + w + "'s shard in epoch " + epoch));
        }
    }

    /** Tops worker {@code w}'s requests up to prefetchFactor once half are answered (see MapEpoch.refill). */
    private void refill(int w) {
        int prefetch = settings.prefetch();
        if (requested[w] - received[w] > prefetch / 2) return;
        while (requested[w] - received[w] < prefetch) request(w);
    }

    @Override
    public boolean hasNext() {
        if (pending != null) return true;
        if (done) return false;
        long t0 = System.nanoTime();
        try {
            pending = advance();
        } catch (WorkerLost lost) {
            throw fail(lost.error); // a stream's shard is its worker's: it cannot move to another yet
        }
        timed(t0);
        return pending != null;
    }

    @Override
    public Batch next() {
        if (pending == null) checkLive();
        if (!hasNext()) throw new NoSuchElementException("epoch " + epoch + " has no more batches");
        Batch b = pending;
        pending = null;
        return b;
    }

    private Batch advance() {
        loader.checkUsable();
        int n = ws.size();
        for (int tries = 0; tries < n; tries++) {
            int w = (rotor + tries) % n;
            if (exhausted[w]) continue;
            Worker worker = ws.get(w);
            long due = received[w];
            int shardOf = w;
            RingRecord r = await(worker, () -> "batch " + due + " of worker " + shardOf + "'s shard in epoch " + epoch, System.nanoTime());
            long index = received[w]++;
            if (r.payload().get(JAVA_INT, RecordHeader.KIND) == RecordHeader.END) {
                worker.release(r, false);
                exhausted[w] = true; // its other requests answer END too; they are skipped next epoch
                tries = -1; // look at every worker again, starting after this one
                rotor = w + 1;
                if (allExhausted()) break;
                continue;
            }
            rotor = w + 1;
            Batch b = toBatch(worker, r, index, null);
            refill(w);
            return b;
        }
        finish();
        return null;
    }

    private boolean allExhausted() {
        for (boolean e : exhausted) if (!e) return false;
        return true;
    }
}
