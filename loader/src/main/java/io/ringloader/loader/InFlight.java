package io.ringloader.loader;

import io.ringloader.batch.RecordHeader;
import io.ringloader.ring.RingClosedException;
import io.ringloader.ring.RingException;
import io.ringloader.ring.RingRecord;
import io.ringloader.worker.Worker;
import io.ringloader.worker.WorkerFailure;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongFunction;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The one place of an epoch that knows which slot has which addresses in flight (a map epoch's batch k,
 * a stream's (shard, k) as one seq), and what happens to them when a slot loses its worker: the
 * batches it finished are taken from its ring as they are ("salvaged", delivered later from there), the
 * ones it had not are asked of a successor in the same order, and a slot that gets no successor keeps
 * the error for the first of its batches the caller reaches. Every batch the caller gets is then the
 * one a run without the failure gives, whoever built it.
 */
final class InFlight {
    /** How an epoch asks a worker for an address. */
    @FunctionalInterface
    interface Request {
        void send(Worker w, long address) throws InterruptedException;
    }

    record Salvaged(Worker worker, RingRecord record) {}

    /**
     * How an epoch moves a lost slot's addresses to other slots: for a worker host that is gone (a
     * remote slot is not refilled with a successor of its own when its host cannot be reached).
     */
    interface Reassign {
        /** The slot to ask for {@code address} now, or -1 if none has a worker. */
        int slotFor(long address);

        /** {@code address} is now in flight at {@code slot}. */
        void moved(long address, int slot);
    }

    private final Epoch epoch;
    private final WorkerSet ws;
    private final LongFunction<String> what;
    private final Request request;
    private final boolean endsAreAnswers;
    /** Null: a lost slot keeps its addresses, and its error (a stream's shards stay with their slot). */
    private final Reassign reassign;
    /** Per slot, the addresses asked of it and not yet arrived, oldest first: it is building the first. */
    private final ArrayDeque<Long>[] pending;
    /** Batches (and stream ENDs) a lost worker finished before it went, by address. */
    private final TreeMap<Long, Salvaged> salvaged = new TreeMap<>();
    /** Slots that lost their worker and got no successor: the error for their next address. */
    private final DataLoaderException[] lost;
    /** Per address, how many workers were lost while building it. */
    private final Map<Long, Integer> losses = new HashMap<>();
    /** Per address, the sample the first worker lost on it was reading (-1: none). */
    private final Map<Long, Long> lostIn = new HashMap<>();

    /** {@code endsAreAnswers}: a stream's END answers an address as a batch does (and is salvaged the same way). */
    InFlight(Epoch epoch, WorkerSet ws, LongFunction<String> what, boolean endsAreAnswers, Request request, Reassign reassign) {
        this.reassign = reassign;
        this.epoch = epoch;
        this.ws = ws;
        this.what = what;
        this.request = request;
        this.endsAreAnswers = endsAreAnswers;
        @SuppressWarnings("unchecked")
        ArrayDeque<Long>[] p = new ArrayDeque[ws.capacity()];
        for (int w = 0; w < p.length; w++) p[w] = new ArrayDeque<>();
        this.pending = p;
        this.lost = new DataLoaderException[ws.capacity()];
    }

    /** Asks slot {@code w} for {@code address}; false if the slot has no worker any more. */
    boolean send(long address, int w) {
        if (lost[w] != null) return false;
        Worker worker = ws.get(w);
        try {
            request.send(worker, address);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending a request", e);
        } catch (IllegalStateException | RingException e) {
            // Its rings closed when it exited: name the batch it was building.
            long building = pending[w].isEmpty() ? address : pending[w].peek();
            recover(new Epoch.WorkerLost(worker, WorkerErrors.died(worker, what.apply(building))));
            return send(address, w);
        }
        pending[w].add(address);
        return true;
    }

    /** The addresses slot {@code w} has in flight, oldest first. */
    ArrayDeque<Long> pending(int w) {
        return pending[w];
    }

    /** The error of slot {@code w} if it has no worker, else null. */
    DataLoaderException lost(int w) {
        return lost[w];
    }

    /** The first slot that has no worker and still has addresses in flight, or -1. */
    int lostWithPending() {
        for (int w = 0; w < lost.length; w++) if (lost[w] != null && !pending[w].isEmpty()) return w;
        return -1;
    }

    /** The first slot that has no worker, or -1. */
    int anyLost() {
        for (int w = 0; w < lost.length; w++) if (lost[w] != null) return w;
        return -1;
    }

    /**
     * Keeps {@code record}, the answer to {@code address}, which slot {@code w} sent before the one due (it
     * took a lost slot's addresses after its own): delivered from here when its turn comes. False if
     * {@code address} is not one the slot has in flight.
     */
    boolean keepEarly(int w, Worker worker, long address, RingRecord record) {
        if (!pending[w].remove(address)) return false;
        worker.hold(); // as a salvaged record: its memory stays mapped until it is delivered or given back
        salvaged.put(address, new Salvaged(worker, record));
        return true;
    }

    /** The salvaged answer to {@code address}, taken; null if there is none. */
    Salvaged takeSalvaged(long address) {
        return salvaged.remove(address);
    }

    /** The salvaged answer of the lowest address, taken; null if there is none. */
    Map.Entry<Long, Salvaged> takeFirstSalvaged() {
        return salvaged.pollFirstEntry();
    }

    /**
     * {@code l.worker}'s slot lost its worker (it died, or hung and was killed): take what it finished
     * from its ring, then give the slot a successor and ask it for the rest, or, when none may be started,
     * keep the error for the slot's next address.
     */
    void recover(Epoch.WorkerLost l) {
        int w = l.worker.id();
        if (ws.get(w) != l.worker || lost[w] != null) return; // already dealt with
        salvage(w, l.worker);
        Long building = pending[w].peek();
        if (building != null && l.error instanceof WorkerDiedException) {
            // Named again now that what it finished is out of its ring: the first batch of it the caller will not get.
            l = new Epoch.WorkerLost(l.worker, WorkerErrors.died(l.worker, what.apply(building)));
        }
        int times = building == null ? 0 : losses.merge(building, 1, Integer::sum);
        long sample = l.worker.readingSample();
        Long before = building == null ? null : lostIn.putIfAbsent(building, sample);
        String refused = !l.worker.isReady() ? "" // it never started: a successor would fail the same way
                : waitsForTheTrainer(l) ? " It was not replaced: a successor would fill its ring the same way."
                : times >= 2
                ? " It is the second worker lost while building " + what.apply(building) + ", so that batch is not asked of a third: "
                  + (before != null && before >= 0 && before == sample
                     ? "both were reading sample " + sample + ", which crashes every worker that reads it."
                     : "a sample in it may crash every worker that reads it.")
                : epoch.loader.refusedReplacement();
        if (refused != null) {
            lost[w] = withNote(l.error, refused); // it stays in the set: the loader stops it with the rest
            if (ws.isRemote(w)) reassign(w, l.worker);
            return;
        }
        Worker fresh;
        try {
            fresh = epoch.loader.replaceWorker(w, l, building == null ? "nothing (every batch it was asked for had arrived)"
                    : what.apply(building));
        } catch (RuntimeException e) {
            if (!ws.isRemote(w)) throw e;
            lost[w] = withNote(l.error, " Its host could not start a successor: " + e.getMessage());
            reassign(w, l.worker);
            return;
        }
        try {
            for (long address : pending[w]) request.send(fresh, address);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while sending a request", e);
        } catch (IllegalStateException | RingException e) {
            recover(new Epoch.WorkerLost(fresh, WorkerErrors.died(fresh, building == null ? "its first request" : what.apply(building))));
        }
    }

    /**
     * A lost remote slot's addresses, asked of other slots in their order: the host is gone, the batches
     * are not. Without another slot (or for a stream), they stay, and the slot's error comes with the first.
     */
    private void reassign(int w, Worker gone) {
        if (reassign == null || pending[w].isEmpty()) return;
        int moved = 0;
        while (!pending[w].isEmpty()) {
            long address = pending[w].peek();
            int to = reassign.slotFor(address);
            if (to < 0 || to == w) break;
            if (!send(address, to)) continue; // that slot was lost meanwhile (its own addresses moved on): ask the next
            pending[w].poll();
            reassign.moved(address, to);
            moved++;
        }
        DataLoader.LOG.warn("ringloader: {} {}; {} of its batches in flight were asked of other workers{}", gone.describe(),
                gone.exitDescription(), moved, pending[w].isEmpty() ? "" : ", " + pending[w].size() + " could not be (no worker is left)");
    }

    /** A "hung" worker whose ring is mostly batches the trainer holds: it waits for space, the trainer's doing. */
    private static boolean waitsForTheTrainer(Epoch.WorkerLost l) {
        return l.error instanceof WorkerHungException && l.worker.held() > 0
                && l.worker.batches().occupancy() > l.worker.batches().capacity() / 2;
    }

    /** Takes the answers a lost worker committed to its ring before it went; they are delivered as they are. */
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
            long address = record.get(JAVA_LONG, RecordHeader.SEQ);
            boolean thisEpoch = record.get(JAVA_INT, RecordHeader.EPOCH) == epoch.epoch;
            if (kind == RecordHeader.READY) dead.markReady();
            if (thisEpoch && kind == RecordHeader.SKIPPED) epoch.skipped(dead, address, WorkerFailure.of(record));
            boolean answer = kind == RecordHeader.BATCH || endsAreAnswers && kind == RecordHeader.END;
            if (thisEpoch && answer && pending[w].remove(address)) {
                dead.hold(); // its memory stays mapped while this record waits to be delivered
                salvaged.put(address, new Salvaged(dead, r));
            } else {
                dead.release(r, false); // an ERROR is met again from the successor, which reads the same samples
            }
        }
    }

    /** {@code e} with a line that says why its worker was not replaced. */
    private static DataLoaderException withNote(DataLoaderException e, String note) {
        if (note.isBlank()) return e;
        String message = e.getMessage() + "\n" + note.strip();
        return switch (e) {
            case WorkerDiedException d -> new WorkerDiedException(message, d.workerId(), d.pid(), d.crashReport());
            case WorkerHungException h -> new WorkerHungException(message, h.workerId(), h.pid(), h.threadDump());
            default -> e;
        };
    }

    /** Gives back the ring space of salvaged answers nobody will take (the epoch ended or failed). */
    void releaseSalvaged() {
        for (Salvaged s : salvaged.values()) s.worker().release(s.record(), true);
        salvaged.clear();
    }
}
