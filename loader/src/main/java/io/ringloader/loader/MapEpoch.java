package io.ringloader.loader;

import io.ringloader.batch.RecordHeader;
import io.ringloader.ring.RingRecord;
import io.ringloader.worker.Worker;
import io.ringloader.worker.WorkerFailure;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An epoch of a map-style dataset. Batch k's address is (epoch, k): its samples come from the batch
 * sampler alone, so every worker is just a slot that takes addresses and gives batches back, and
 * {@link InFlight} is the one place that knows which slot has which. Batch k goes to the active slot
 * with the fewest batches in flight, prefetchFactor ahead per slot, and the slot is kept ({@code slotOf}):
 * in order, the caller waits on the slot of the batch due. Which slot builds a batch changes nothing in
 * it, so workers may come and go ({@link WorkerSet}'s slot states) while an epoch runs. This class keeps
 * what the caller has taken (for the state) and what the workers skipped.
 *
 * <p>A worker that dies or hangs is replaced in its slot (up to {@code maxWorkerRestarts} per loader, as
 * {@link InFlight} says), and the caller sees the same batches as in a run without the failure. A slot
 * that cannot be refilled fails the epoch when the caller reaches the first batch of it that did not
 * arrive; every batch before it is delivered.
 */
final class MapEpoch extends Epoch {
    private final DataLoader.Plan plan;
    private final List<long[]> batches;
    /** Per batch, the slot it was asked of (-1: not asked yet). */
    private final int[] slotOf;
    private final int requestFlags;
    /** Batches delivered, including those delivered before a resume. */
    private final BitSet delivered;
    /** Delivered before this run (the resumed state's). */
    private final BitSet base;
    /** This run's deliveries, in order: the state after n of them is the base plus the first n. */
    private final int[] deliveryOrder;
    private int taken;
    private int remaining;
    /** The next batch to send (skipping delivered ones). */
    private int cursor;
    /** The lowest batch not delivered: the one due next in sampler order (kept, not searched for from 0 each batch). */
    private int due;
    /** Batches asked for and not yet delivered. */
    private int outstanding;
    /** Per batch, the samples its worker skipped (onSampleError(SKIP)), by sample index. */
    private final Map<Integer, Map<Long, WorkerFailure>> skips = new HashMap<>();
    private long skippedInEpoch;
    private final long samplesInEpoch;
    /** A failure met after the batch in hand arrived: thrown at the next call, the batch is delivered first. */
    private DataLoaderException deferred;
    private int rotor;

    MapEpoch(DataLoader loader, DataLoader.Plan plan, LoaderState resume, WorkerSet ws) {
        super(loader, plan.epoch(), ws);
        this.plan = plan;
        this.batches = plan.batches();
        this.slotOf = new int[batches.size()];
        java.util.Arrays.fill(slotOf, -1);
        this.requestFlags = settings.skipFailedSamples() ? RecordHeader.FLAG_SKIP_FAILED_SAMPLES : 0;
        this.base = new BitSet(batches.size());
        if (resume != null) {
            base.set(0, (int) Math.min(resume.batches(), batches.size()));
            for (long k : resume.alsoDelivered()) base.set((int) k);
        }
        this.delivered = (BitSet) base.clone();
        this.remaining = batches.size() - base.cardinality();
        this.deliveryOrder = new int[remaining];
        this.cursor = delivered.nextClearBit(0);
        this.due = cursor;
        this.samplesInEpoch = batches.stream().mapToLong(b -> b.length).sum();
        this.inFlight = new InFlight(this, ws, k -> what((int) k), false,
                (worker, k) -> worker.requestBatch(epoch, k, batches.get((int) k), requestFlags), new InFlight.Reassign() {
                    @Override
                    public int slotFor(long address) {
                        return leastBusy();
                    }

                    @Override
                    public void moved(long address, int slot) {
                        slotOf[(int) address] = slot;
                    }
                });
        if (loader.tuner() != null) loader.tuner().newEpoch();
        refill();
        if (remaining == 0) finish();
    }

    @Override
    public boolean hasNext() {
        return !done && remaining > 0;
    }

    @Override
    public Batch next() {
        if (deferred != null) throw fail(deferred);
        checkLive();
        if (!hasNext()) throw new NoSuchElementException("epoch " + epoch + " has no more batches");
        long t0 = System.nanoTime(), waitFrom = t0;
        Batch b = null;
        while (b == null) {
            try {
                b = settings.inOrder() ? nextInOrder(waitFrom) : nextInArrivalOrder(waitFrom);
            } catch (WorkerLost l) {
                inFlight.recover(l);
                waitFrom = System.nanoTime(); // a successor gets the whole timeout, its start-up included
            }
        }
        timed(t0);
        int k = (int) b.index();
        synchronized (this) {
            delivered.set(k);
            deliveryOrder[taken++] = k;
            if (k == due) due = delivered.nextClearBit(due);
        }
        outstanding--;
        remaining--;
        countSkips(k, b);
        if (remaining == 0) {
            finish();
        } else {
            try {
                tune(true);
                refill();
            } catch (DataLoaderException e) {
                deferred = e; // the caller gets the batch that arrived, then the error
            }
        }
        return b;
    }

    /**
     * Tops the requests in flight back up to the window, but only once half of it has been delivered:
     * a worker that is ahead and waits for requests is then woken once per half window, not once per
     * batch (each wake-up costs the 2-core machine more than building a small batch).
     */
    private void refill() {
        int window = window();
        if (outstanding > window / 2) return;
        while (cursor < batches.size() && outstanding < window) {
            if (delivered.get(cursor)) {
                cursor++;
                continue;
            }
            int w = leastBusy();
            if (w < 0 || !send(cursor, w)) return;
            cursor++;
        }
    }

    /** The batches to keep in flight: prefetchFactor per active worker. */
    private int window() {
        return Math.max(1, ws.active()) * loader.prefetch();
    }

    /** Asks slot {@code w} for batch {@code k}; false if the slot has no worker any more. */
    private boolean send(int k, int w) {
        if (!inFlight.send(k, w)) return false;
        slotOf[k] = w;
        outstanding++;
        return true;
    }

    /** The active slot with the fewest batches in flight (the lowest of equals), or -1 if none has a worker. */
    private int leastBusy() {
        int best = -1;
        for (int w = 0; w < ws.capacity(); w++) {
            if (!ws.isActive(w) || inFlight.lost(w) != null) continue;
            if (best < 0 || inFlight.pending(w).size() < inFlight.pending(best).size()) best = w;
        }
        return best;
    }

    /** The error of the first slot that lost its worker (when no active slot is left to ask). */
    private DataLoaderException firstLost() {
        int w = inFlight.anyLost();
        if (w < 0) throw new IllegalStateException("no active worker is left to ask for batches of epoch " + epoch);
        return inFlight.lost(w);
    }

    private String what(int k) {
        return "batch " + k + " of epoch " + epoch + WorkerErrors.describe(batches.get(k));
    }

    private Batch nextInOrder(long waitFrom) {
        int k = due;
        InFlight.Salvaged s = inFlight.takeSalvaged(k);
        if (s != null) return toHeldBatch(s.worker(), s.record(), k, indicesOf(k));
        if (k >= cursor) { // its request could not be sent before (a worker was lost): send it now
            int to = leastBusy();
            if (to < 0 || !send(k, to)) throw fail(firstLost());
            cursor = k + 1;
        }
        int w = slotOf[k];
        if (inFlight.lost(w) != null) throw fail(inFlight.lost(w));
        Worker worker = ws.get(w);
        while (true) {
            RingRecord r = await(worker, () -> what(k), waitFrom);
            long seq = r.payload().get(JAVA_LONG, RecordHeader.SEQ);
            if (seq == k) {
                inFlight.pending(w).remove((long) k);
                return toBatch(worker, r, k, indicesOf(k));
            }
            // A slot that took a lost host's batches builds them after its own: a later one is kept until it is due.
            if (!inFlight.keepEarly(w, worker, seq, r)) {
                worker.release(r, false);
                throw new IllegalStateException(worker.describe() + " sent batch " + seq + " where batch " + k + " was due");
            }
        }
    }

    private Batch nextInArrivalOrder(long waitFrom) {
        Map.Entry<Long, InFlight.Salvaged> e = inFlight.takeFirstSalvaged();
        if (e != null) {
            int k = Math.toIntExact(e.getKey());
            return toHeldBatch(e.getValue().worker(), e.getValue().record(), k, indicesOf(k));
        }
        int n = ws.capacity();
        int gone = inFlight.lostWithPending();
        if (gone >= 0) throw fail(inFlight.lost(gone));
        if (outstanding == 0) refill(); // every slot was lost and refilled: ask again
        while (true) {
            for (int i = 0; i < n; i++) {
                int w = (rotor + i) % n;
                if (inFlight.pending(w).isEmpty()) continue;
                int oldest = Math.toIntExact(inFlight.pending(w).peek());
                RingRecord r = poll(ws.get(w), 0, () -> what(oldest));
                if (r != null) return deliver(w, r);
            }
            // Nothing yet: sleep on the first busy worker's ring for a moment, then look at all again.
            int w = rotor % n;
            while (inFlight.pending(w).isEmpty()) w = (w + 1) % n;
            int oldest = Math.toIntExact(inFlight.pending(w).peek());
            RingRecord r = poll(ws.get(w), TimeUnit.MILLISECONDS.toNanos(1), () -> what(oldest));
            if (r != null) return deliver(w, r);
            if (System.nanoTime() - waitFrom > settings.timeout().toNanos()) {
                Worker worker = ws.get(w);
                throw new WorkerLost(worker, WorkerErrors.hung(worker, what(oldest), settings.timeout()));
            }
        }
    }

    private Batch deliver(int w, RingRecord r) {
        int k = (int) r.payload().get(JAVA_LONG, RecordHeader.SEQ);
        inFlight.pending(w).remove((long) k);
        rotor = w + 1;
        return toBatch(ws.get(w), r, k, indicesOf(k));
    }

    // ------------------------------------------------------------------------------ skipped samples

    @Override
    void skipped(Worker w, long seq, WorkerFailure failure) {
        skips.computeIfAbsent((int) seq, k -> new LinkedHashMap<>()).putIfAbsent(failure.sampleIndex(), failure);
    }

    /** Batch k's samples: the sampler's, less those its worker skipped. */
    private long[] indicesOf(int k) {
        long[] all = batches.get(k);
        Map<Long, WorkerFailure> s = skips.get(k);
        if (s == null) return all;
        return java.util.Arrays.stream(all).filter(i -> !s.containsKey(i)).toArray();
    }

    /** Logs and counts the samples batch k left out; too many in the epoch fail it (maxSkipped). */
    private void countSkips(int k, Batch b) {
        Map<Long, WorkerFailure> s = skips.remove(k);
        if (s == null) return;
        for (WorkerFailure f : s.values()) {
            DataLoader.LOG.warn("ringloader: skipped sample {} of batch {} of epoch {} (onSampleError SKIP): {}", f.sampleIndex(), k, epoch, f.summary());
        }
        skippedInEpoch += s.size();
        loader.counters().skipped(s.size());
        long limit = settings.maxSkipped(samplesInEpoch);
        if (skippedInEpoch > limit) {
            b.close();
            WorkerFailure last = s.values().stream().reduce((a, c) -> c).orElseThrow();
            throw fail(new SampleReadException(skippedInEpoch + " samples of epoch " + epoch + " failed and were skipped, more than the "
                    + limit + " that maxSkipped allows (" + settings.describeMaxSkipped() + "): the dataset looks broken."
                    + " The last was sample " + last.sampleIndex() + " of " + what(k) + ": " + last.summary(),
                    b.workerId(), -1, last.sampleIndex(), last.cause(getClass().getClassLoader())));
        }
    }

    // ------------------------------------------------------------------------------ state

    /** The state after the first {@code n} batches this run delivered (all of them: {@code n = taken}). */
    @Override
    synchronized LoaderState stateAfter(int n) {
        if (n > taken) throw new IllegalArgumentException("only " + taken + " batches of epoch " + epoch + " were delivered, not " + n);
        BitSet d = (BitSet) base.clone();
        for (int i = 0; i < n; i++) d.set(deliveryOrder[i]);
        int prefix = d.nextClearBit(0);
        if (prefix >= batches.size()) return loader.startOf(epoch + 1);
        List<Long> extra = new ArrayList<>();
        for (int k = d.nextSetBit(prefix); k >= 0; k = d.nextSetBit(k + 1)) extra.add((long) k);
        return loader.stateOf(plan, prefix, extra);
    }

    @Override
    synchronized int taken() {
        return taken;
    }
}
