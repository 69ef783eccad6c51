package io.ringloader.loader;

import io.ringloader.batch.RecordHeader;
import io.ringloader.data.MapDataset;
import io.ringloader.ring.RingClosedException;
import io.ringloader.ring.RingException;
import io.ringloader.ring.RingRecord;
import io.ringloader.worker.Worker;
import io.ringloader.worker.WorkerFailure;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An epoch of a map-style dataset. Batch k's address is (epoch, k): its samples come from the batch
 * sampler alone, so this class is the one place that knows which slot has which addresses in flight,
 * what has arrived and what the caller has taken, and every worker is just a slot that takes addresses
 * and gives batches back. Batch k goes to slot k % numWorkers ({@code inOrder}) or to the least busy
 * slot, prefetchFactor ahead per slot.
 *
 * <p>A worker that dies or hangs is replaced in its slot (up to {@code maxWorkerRestarts} per loader):
 * the batches it finished are taken from its ring as they are ("salvaged"), the ones it had not are
 * asked of its successor, in the same order, and the caller sees the same batches as in a run without
 * the failure. A batch whose worker was lost twice while building it is not asked again: a sample in it
 * may crash every worker that reads it. A slot that cannot be refilled fails the epoch when the caller
 * reaches the first batch of it that did not arrive; every batch before it is delivered.
 */
final class MapEpoch extends Epoch {
    private final DataLoader.Plan plan;
    private final List<long[]> batches;
    private final int window;
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
    private int inFlight;
    /** Per slot, the batches asked of it and not yet arrived, oldest first: it is building the first. */
    private final ArrayDeque<Integer>[] pending;
    /** Batches a lost worker finished before it went: delivered from its ring as they are. */
    private final TreeMap<Integer, Salvaged> salvaged = new TreeMap<>();
    /** Slots that lost their worker and got no successor: the error for their next batch. */
    private final DataLoaderException[] lost;
    /** Per batch, how many workers were lost while building it. */
    private final Map<Integer, Integer> losses = new HashMap<>();
    /** Per batch, the samples its worker skipped (onSampleError(SKIP)), by sample index. */
    private final Map<Integer, Map<Long, WorkerFailure>> skips = new HashMap<>();
    private long skippedInEpoch;
    private final long samplesInEpoch;
    /** A failure met after the batch in hand arrived: thrown at the next call, the batch is delivered first. */
    private DataLoaderException deferred;
    private int rotor;

    private record Salvaged(Worker worker, RingRecord record) {}

    MapEpoch(DataLoader loader, DataLoader.Plan plan, LoaderState resume, WorkerSet ws) {
        super(loader, plan.epoch(), ws);
        this.plan = plan;
        this.batches = plan.batches();
        this.window = ws.size() * settings.prefetch();
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
        this.samplesInEpoch = batches.stream().mapToLong(b -> b.length).sum();
        @SuppressWarnings("unchecked")
        ArrayDeque<Integer>[] p = new ArrayDeque[ws.size()];
        for (int w = 0; w < p.length; w++) p[w] = new ArrayDeque<>();
        this.pending = p;
        this.lost = new DataLoaderException[ws.size()];
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
                recover(l);
                waitFrom = System.nanoTime(); // a successor gets the whole timeout, its start-up included
            }
        }
        timed(t0);
        int k = (int) b.index();
        synchronized (this) {
            delivered.set(k);
            deliveryOrder[taken++] = k;
        }
        inFlight--;
        remaining--;
        countSkips(k, b);
        if (remaining == 0) {
            finish();
        } else {
            try {
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
        if (inFlight > window / 2) return;
        while (cursor < batches.size() && inFlight < window) {
            if (delivered.get(cursor)) {
                cursor++;
                continue;
            }
            int w = settings.inOrder() ? cursor % ws.size() : leastBusy();
            if (w < 0 || !send(cursor, w)) return;
            cursor++;
        }
    }

    /** Asks slot {@code w} for batch {@code k}; false if the slot has no worker any more. */
    private boolean send(int k, int w) {
        if (lost[w] != null) return false;
        Worker worker = ws.get(w);
        try {
            worker.requestBatch(epoch, k, batches.get(k), requestFlags);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending a request", e);
        } catch (IllegalStateException | RingException e) {
            // Its rings closed when it exited: name the batch it was building.
            int building = pending[w].isEmpty() ? k : pending[w].peek();
            recover(new WorkerLost(worker, WorkerErrors.died(worker, what(building))));
            return send(k, w);
        }
        pending[w].add(k);
        inFlight++;
        return true;
    }

    private int leastBusy() {
        int best = -1;
        for (int w = 0; w < pending.length; w++) {
            if (lost[w] == null && (best < 0 || pending[w].size() < pending[best].size())) best = w;
        }
        return best;
    }

    private String what(int k) {
        return "batch " + k + " of epoch " + epoch + WorkerErrors.describe(batches.get(k));
    }

    private Batch nextInOrder(long waitFrom) {
        int k = delivered.nextClearBit(0);
        Salvaged s = salvaged.remove(k);
        if (s != null) return toHeldBatch(s.worker(), s.record(), k, indicesOf(k));
        int w = k % ws.size();
        if (lost[w] != null) throw fail(lost[w]);
        if (k >= cursor) { // its request could not be sent before (a worker was lost): send it now
            if (!send(k, w)) throw fail(lost[w]);
            cursor = k + 1;
        }
        Worker worker = ws.get(w);
        RingRecord r = await(worker, () -> what(k), waitFrom);
        long seq = r.payload().get(JAVA_LONG, RecordHeader.SEQ);
        if (seq != k) {
            worker.release(r, false);
            throw new IllegalStateException(worker.describe() + " sent batch " + seq + " where batch " + k + " was due");
        }
        pending[w].poll();
        return toBatch(worker, r, k, indicesOf(k));
    }

    private Batch nextInArrivalOrder(long waitFrom) {
        if (!salvaged.isEmpty()) {
            Map.Entry<Integer, Salvaged> e = salvaged.pollFirstEntry();
            return toHeldBatch(e.getValue().worker(), e.getValue().record(), e.getKey(), indicesOf(e.getKey()));
        }
        int n = ws.size();
        for (int w = 0; w < n; w++) if (lost[w] != null && !pending[w].isEmpty()) throw fail(lost[w]);
        if (inFlight == 0) refill(); // every slot was lost and refilled: ask again
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
            if (System.nanoTime() - waitFrom > settings.timeout().toNanos()) {
                Worker worker = ws.get(w);
                throw new WorkerLost(worker, WorkerErrors.hung(worker, what(due), settings.timeout()));
            }
        }
    }

    private Batch deliver(int w, RingRecord r) {
        int k = (int) r.payload().get(JAVA_LONG, RecordHeader.SEQ);
        pending[w].remove(k);
        rotor = w + 1;
        return toBatch(ws.get(w), r, k, indicesOf(k));
    }

    // ------------------------------------------------------------------------------ lost workers

    /**
     * Slot {@code l.worker}'s worker died or hung (and was killed): take what it finished from its ring,
     * then give the slot a successor and ask it for the rest, or, when none may be started, mark the slot
     * lost so that the caller gets every batch that arrived and then the error.
     */
    private void recover(WorkerLost l) {
        int w = l.worker.id();
        if (ws.get(w) != l.worker || lost[w] != null) return; // already dealt with
        salvage(w, l.worker);
        Integer building = pending[w].peek();
        if (building != null && l.error instanceof WorkerDiedException) {
            // Named again now that what it finished is out of its ring: the first batch of it the caller will not get.
            l = new WorkerLost(l.worker, WorkerErrors.died(l.worker, what(building)));
        }
        int times = building == null ? 0 : losses.merge(building, 1, Integer::sum);
        String refused = !l.worker.isReady() ? "" // it never started: a successor would fail the same way
                : waitsForTheTrainer(l) ? " It was not replaced: a successor would fill its ring the same way."
                : times >= 2
                ? " It is the second worker lost while building " + what(building) + ", so that batch is not asked of a third:"
                  + " a sample in it may crash every worker that reads it."
                : loader.refusedReplacement();
        if (refused != null) {
            lost[w] = withNote(l.error, refused); // it stays in the set: the loader stops it with the rest
            return;
        }
        Worker fresh = loader.replaceWorker(w, l, building == null ? "nothing (every batch it was asked for had arrived)" : what(building));
        try {
            for (int k : pending[w]) fresh.requestBatch(epoch, k, batches.get(k), requestFlags);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending a request", e);
        } catch (IllegalStateException | RingException e) {
            recover(new WorkerLost(fresh, WorkerErrors.died(fresh, building == null ? "its first request" : what(building))));
        }
    }

    /** A "hung" worker whose ring is mostly batches the trainer holds: it waits for space, the trainer's doing. */
    private static boolean waitsForTheTrainer(WorkerLost l) {
        return l.error instanceof WorkerHungException && l.worker.held() > 0
                && l.worker.batches().occupancy() > l.worker.batches().capacity() / 2;
    }

    /** Takes the batches a lost worker committed to its ring before it went; they are delivered as they are. */
    private void salvage(int w, Worker dead) {
        while (true) {
            RingRecord r;
            try {
                r = dead.batches().poll();
            } catch (RingClosedException drained) {
                return;
            }
            if (r == null) return;
            var record = r.payload();
            int kind = record.get(JAVA_INT, RecordHeader.KIND);
            int k = (int) record.get(JAVA_LONG, RecordHeader.SEQ);
            if (kind == RecordHeader.READY) dead.markReady();
            if (record.get(JAVA_INT, RecordHeader.EPOCH) == epoch && kind == RecordHeader.SKIPPED) skipped(dead, k, WorkerFailure.of(record));
            if (record.get(JAVA_INT, RecordHeader.EPOCH) == epoch && kind == RecordHeader.BATCH && pending[w].remove(k)) {
                dead.hold(); // its memory stays mapped while this record waits to be delivered
                salvaged.put(k, new Salvaged(dead, r));
            } else {
                dead.release(r, false); // an ERROR is met again from the successor, which reads the same samples
            }
        }
    }

    /** {@code e} with a line that says why its worker was not replaced. */
    static DataLoaderException withNote(DataLoaderException e, String note) {
        if (note.isBlank()) return e;
        String message = e.getMessage() + "\n" + note.strip();
        return switch (e) {
            case WorkerDiedException d -> new WorkerDiedException(message, d.workerId(), d.pid(), d.crashReport());
            case WorkerHungException h -> new WorkerHungException(message, h.workerId(), h.pid(), h.threadDump());
            default -> e;
        };
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

    synchronized int taken() {
        return taken;
    }

    @Override
    void finish() {
        releaseSalvaged();
        super.finish();
    }

    @Override
    void abandon() {
        releaseSalvaged();
        super.abandon();
    }

    /** Gives back the ring space of salvaged batches nobody will take (the epoch ended or failed). */
    void releaseSalvaged() {
        for (Salvaged s : salvaged.values()) s.worker().release(s.record(), true);
        salvaged.clear();
    }
}
