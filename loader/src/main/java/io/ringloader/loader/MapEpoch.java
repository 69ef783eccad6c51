package io.ringloader.loader;

import io.ringloader.batch.RecordHeader;
import io.ringloader.data.MapDataset;
import io.ringloader.ring.RingException;
import io.ringloader.ring.RingRecord;

import java.util.ArrayDeque;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** An epoch of a map-style dataset: batch k goes to worker k % numWorkers, prefetchFactor ahead per worker. */
final class MapEpoch extends Epoch {
    private final List<long[]> plan;
    private final int window;
    private int delivered;
    private int sent;
    /** Per worker, the batches asked of it and not yet delivered, oldest first: it is building the first. */
    private final ArrayDeque<Integer>[] pending;
    private int rotor;

    MapEpoch(DataLoader loader, MapDataset map, int epoch, WorkerSet ws) {
        super(loader, epoch, ws);
        this.plan = settings.batchSampler().batches(map.size(), settings.seed(), epoch);
        this.window = ws.size() * settings.prefetch();
        @SuppressWarnings("unchecked")
        ArrayDeque<Integer>[] p = new ArrayDeque[ws.size()];
        for (int w = 0; w < p.length; w++) p[w] = new ArrayDeque<>();
        this.pending = p;
        refill();
        if (plan.isEmpty()) finish();
    }

    private void send(int k, int w) {
        try {
            ws.get(w).requestBatch(epoch, k, plan.get(k));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending a request", e);
        } catch (IllegalStateException | RingException e) {
            // Its rings closed when it exited: report how, and the batch it was building.
            int building = pending[w].isEmpty() ? k : pending[w].peek();
            throw fail(WorkerErrors.died(ws.get(w), what(building)));
        }
        pending[w].add(k);
        sent++;
    }

    @Override
    public boolean hasNext() {
        return !done && delivered < plan.size();
    }

    @Override
    public Batch next() {
        checkLive();
        if (!hasNext()) throw new NoSuchElementException("epoch " + epoch + " has no more batches");
        long t0 = System.nanoTime();
        Batch b = settings.inOrder() ? nextInOrder(t0) : nextInArrivalOrder(t0);
        timed(t0);
        if (++delivered == plan.size()) finish();
        else refill();
        return b;
    }

    /**
     * Tops the requests in flight back up to the window, but only once half of it has been delivered:
     * a worker that is ahead and waits for requests is then woken once per half window, not once per
     * batch (each wake-up costs the 2-core machine more than building a small batch).
     */
    private void refill() {
        if (sent - delivered > window / 2) return;
        while (sent < plan.size() && sent - delivered < window) send(sent, settings.inOrder() ? sent % ws.size() : leastBusy());
    }

    private int leastBusy() {
        int best = 0;
        for (int w = 1; w < pending.length; w++) if (pending[w].size() < pending[best].size()) best = w;
        return best;
    }

    private String what(int k) {
        return "batch " + k + " of epoch " + epoch + WorkerErrors.describe(plan.get(k));
    }

    private Batch nextInOrder(long t0) {
        int k = delivered, w = k % ws.size();
        RingRecord r = await(ws.get(w), () -> what(k), t0);
        long seq = r.payload().get(JAVA_LONG, RecordHeader.SEQ);
        if (seq != k) {
            ws.get(w).release(r, false);
            throw new IllegalStateException(ws.get(w).describe() + " sent batch " + seq + " where batch " + k + " was due");
        }
        pending[w].poll();
        return toBatch(ws.get(w), r, k, plan.get(k));
    }

    private Batch nextInArrivalOrder(long t0) {
        int n = ws.size();
        while (true) {
            for (int i = 0; i < n; i++) {
                int w = (rotor + i) % n;
                if (pending[w].isEmpty()) continue;
                int due = pending[w].peek();
                RingRecord r = poll(ws.get(w), 0, () -> what(due));
                if (r != null) return deliver(w, r);
            }
            // Nothing yet: sleep on the first busy worker's ring for a moment, then look at all again.
            int w = rotor % n;
            while (pending[w].isEmpty()) w = (w + 1) % n;
            int due = pending[w].peek();
            RingRecord r = poll(ws.get(w), TimeUnit.MILLISECONDS.toNanos(1), () -> what(due));
            if (r != null) return deliver(w, r);
            if (System.nanoTime() - t0 > settings.timeout().toNanos()) {
                throw fail(WorkerErrors.hung(ws.get(w), what(pending[w].peek()), settings.timeout()));
            }
        }
    }

    private Batch deliver(int w, RingRecord r) {
        int k = (int) r.payload().get(JAVA_LONG, RecordHeader.SEQ);
        pending[w].remove(k);
        rotor = w + 1;
        return toBatch(ws.get(w), r, k, plan.get(k));
    }
}
