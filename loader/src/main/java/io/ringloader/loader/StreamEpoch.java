package io.ringloader.loader;

import io.ringloader.batch.RecordHeader;
import io.ringloader.ring.RingRecord;
import io.ringloader.worker.Worker;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.NoSuchElementException;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * An epoch of a streaming dataset. Its shards are the dataset's, a fixed number of them ({@code shards}),
 * not the workers': batch k of shard s has the address (epoch, s, k) and is the same whoever builds it.
 * Shard s goes to the active slots in turn (the i-th of them takes shards i, i + n, ...), and batches are delivered round by round, shard by shard: batch 0
 * of shards 0, 1, 2, ..., then batch 1 of each, skipping a shard once it has ended. So the batches and
 * their order are the same for any number of workers and any mode, a stream's state is a position per
 * shard, and a lost worker's shards carry on from there in its successor (or, for a worker host that is
 * gone, in another slot).
 *
 * <p>Requests go out in that same order, up to prefetchFactor per worker ahead; a request past a shard's
 * end (not yet known to have ended) is answered END, and skipped.
 */
final class StreamEpoch extends Epoch {
    private final int shards;
    /** Batches delivered of each shard. */
    private final long[] delivered;
    private final boolean[] ended;
    /** Per shard, at how many deliveries its end was seen (for the state after n deliveries); -1: not yet. */
    private final long[] endedAt;
    /** The request cursor: the next address to ask for, in delivery order. */
    private long round;
    private int shard;
    private final long[] startRound;
    /** The addresses asked for, in delivery order, not yet answered. */
    private final ArrayDeque<Long> due = new ArrayDeque<>();
    /** The shard of each batch this run delivered, in order. */
    private final List<Integer> deliveryOrder = new ArrayList<>();
    private final long[] base;
    /** Slots dealt shards this epoch. */
    private final int dealt;
    /** Per shard, the slot that reads it this epoch: a worker's place in a shard is its own, so shards stay put. */
    private final int[] slotOf;
    private Batch next;
    /** The samples skipped (onSampleError SKIP), by address and position: a successor may report one again. */
    private final java.util.Set<String> skippedSamples = new java.util.HashSet<>();
    private io.ringloader.worker.WorkerFailure lastSkipped;
    private long samplesDelivered;

    StreamEpoch(DataLoader loader, int epoch, WorkerSet ws, LoaderState resume) {
        super(loader, epoch, ws);
        this.shards = settings.shards();
        this.delivered = new long[shards];
        this.ended = new boolean[shards];
        this.endedAt = new long[shards];
        java.util.Arrays.fill(endedAt, -1);
        if (resume != null) {
            for (int s = 0; s < shards; s++) delivered[s] = resume.shards().get(s);
            for (long s : resume.shardsEnded()) {
                ended[(int) s] = true;
                endedAt[(int) s] = 0;
            }
        }
        this.base = delivered.clone();
        this.startRound = delivered.clone();
        // Workers an autotuner started for this epoch take shards too: they boot as the first epoch's did.
        int[] taking = java.util.stream.IntStream.range(0, ws.capacity())
                .filter(w -> ws.isActive(w) || ws.state(w) == WorkerSet.Slot.STARTING).toArray();
        this.slotOf = new int[shards];
        for (int s = 0; s < shards; s++) slotOf[s] = taking[s % taking.length];
        this.dealt = Math.min(taking.length, shards);
        if (loader.tuner() != null) loader.tuner().newEpoch();
        int flags = settings.skipFailedSamples() ? RecordHeader.FLAG_SKIP_FAILED_SAMPLES : 0;
        this.inFlight = new InFlight(this, ws, this::what, true, (worker, seq) -> worker.requestStream(epoch, seq, settings.batchSize(), flags),
                new InFlight.Reassign() {
                    @Override
                    public int slotFor(long seq) {
                        return StreamEpoch.this.slotFor(RecordHeader.streamShard(seq));
                    }

                    @Override
                    public void moved(long seq, int slot) {
                        // slotFor moved the whole shard: its later batches go there too
                    }
                });
        // The first address to ask for: the lowest (round, shard) not delivered of a shard not ended.
        long first = Long.MAX_VALUE;
        for (int s = 0; s < shards; s++) if (!ended[s]) first = Math.min(first, delivered[s]);
        this.round = first == Long.MAX_VALUE ? 0 : first;
        refill();
        if (due.isEmpty()) finish();
    }

    /**
     * The slot that reads shard {@code s} now: the one it was dealt, unless that is a remote slot whose host
     * was lost; then the shard moves for the rest of the epoch to the active slot with the fewest batches in
     * flight, whose worker starts it afresh at the batch due (a batch of a shard is the same whoever builds
     * it). A lost local slot keeps its shards and its error.
     */
    private int slotFor(int s) {
        int w = slotOf[s];
        if (inFlight.lost(w) == null || !ws.isRemote(w)) return w;
        int to = -1;
        for (int v = 0; v < ws.capacity(); v++) {
            if (!ws.isActive(v) || inFlight.lost(v) != null) continue;
            if (to < 0 || inFlight.pending(v).size() < inFlight.pending(to).size()) to = v;
        }
        if (to < 0) return w;
        DataLoader.LOG.info("ringloader: shard {} of epoch {} moves from worker {} (its host is lost) to {}", s, epoch, w, ws.get(to).describe());
        slotOf[s] = to;
        return to;
    }

    private boolean allEnded() {
        for (boolean e : ended) if (!e) return false;
        return true;
    }

    private String what(long seq) {
        return "batch " + RecordHeader.streamBatch(seq) + " of shard " + RecordHeader.streamShard(seq) + " in epoch " + epoch;
    }

    /** Asks for the next addresses in delivery order, up to the window; shards known to have ended are passed over. */
    private void refill() {
        int window = dealt * loader.prefetch();
        if (due.size() > window / 2) return;
        while (due.size() < window && !allEnded()) {
            int s = shard;
            long k = round;
            if (++shard == shards) {
                shard = 0;
                round++;
            }
            if (ended[s] || k < startRound[s]) continue;
            long seq = RecordHeader.streamSeq(s, k);
            if (!inFlight.send(seq, slotFor(s))) return;
            due.add(seq);
        }
    }

    @Override
    public boolean hasNext() {
        if (next != null) return true;
        if (done) return false;
        long t0 = System.nanoTime();
        next = advance();
        timed(t0);
        if (next != null) {
            try {
                tune(false); // after timed(): the wait it measures is the trainer's, this call's included
            } catch (DataLoaderException e) {
                // the batch in hand is delivered; the error comes with the next call (the loader has failed)
            }
        }
        return next != null;
    }

    @Override
    public Batch next() {
        if (next == null) checkLive();
        if (!hasNext()) throw new NoSuchElementException("epoch " + epoch + " has no more batches");
        Batch b = next;
        next = null;
        return b;
    }

    /** The next batch in delivery order, reading past END answers; null at the end of the epoch. */
    private Batch advance() {
        loader.checkUsable();
        long waitFrom = System.nanoTime();
        while (!due.isEmpty()) {
            long seq = due.peek();
            int s = RecordHeader.streamShard(seq), w = slotFor(s);
            Worker worker;
            RingRecord r;
            InFlight.Salvaged kept = inFlight.takeSalvaged(seq);
            if (kept != null) {
                worker = kept.worker();
                r = kept.record();
            } else {
                if (inFlight.lost(w) != null) throw fail(inFlight.lost(w));
                worker = ws.get(w);
                try {
                    r = await(worker, () -> what(seq), waitFrom);
                } catch (WorkerLost l) {
                    inFlight.recover(l);
                    waitFrom = System.nanoTime();
                    continue;
                }
                long got = r.payload().get(JAVA_LONG, RecordHeader.SEQ);
                if (got != seq) {
                    // A slot that took a lost host's shards builds their batches after its own: kept until due.
                    if (inFlight.keepEarly(w, worker, got, r)) continue;
                    worker.release(r, false);
                    throw new IllegalStateException(worker.describe() + " sent " + what(got) + " where " + what(seq) + " was due");
                }
                inFlight.pending(w).remove(seq);
            }
            due.poll();
            if (r.payload().get(JAVA_INT, RecordHeader.KIND) == RecordHeader.END) {
                worker.release(r, kept != null);
                if (!ended[s]) {
                    ended[s] = true;
                    endedAt[s] = deliveryOrder.size();
                }
                refill();
                continue;
            }
            long k = RecordHeader.streamBatch(seq);
            Batch b = kept != null ? toHeldBatch(worker, r, k, null) : toBatch(worker, r, k, null);
            samplesDelivered += b.size();
            synchronized (this) {
                delivered[s]++;
                deliveryOrder.add(s);
            }
            try {
                refill();
            } catch (DataLoaderException e) {
                // the batch in hand is delivered; the error comes with the next call (the loader has failed)
            }
            return b;
        }
        // Every address asked for is answered: the epoch ends when every shard has, or a slot has no worker.
        int gone = inFlight.anyLost();
        if (gone >= 0 && !allEnded()) throw fail(inFlight.lost(gone));
        long limit = settings.maxSkipped(samplesDelivered + skippedSamples.size());
        if (skippedSamples.size() > limit) throw fail(tooManySkipped(limit));
        finish();
        return null;
    }

    // ------------------------------------------------------------------------------ skipped samples

    /**
     * A sample of batch {@code seq} that its worker left out: logged and counted once (a successor that
     * builds the batch again reports it again). A count limit ({@code maxSkipped(n)}) fails the epoch as soon
     * as it is passed; a fraction, at the end of the epoch, when the stream's length is known.
     */
    @Override
    void skipped(Worker w, long seq, io.ringloader.worker.WorkerFailure failure) {
        if (!skippedSamples.add(seq + ":" + failure.sampleIndex())) return;
        lastSkipped = failure;
        DataLoader.LOG.warn("ringloader: skipped sample {} of {} (onSampleError SKIP): {}", failure.sampleIndex(), what(seq), failure.summary());
        loader.counters().skipped(1);
        if (settings.maxSkippedCount() >= 0 && skippedSamples.size() > settings.maxSkippedCount()) {
            throw fail(tooManySkipped(settings.maxSkippedCount()));
        }
    }

    private SampleReadException tooManySkipped(long limit) {
        return new SampleReadException(skippedSamples.size() + " samples of epoch " + epoch + " failed and were skipped, more than the "
                + limit + " that maxSkipped allows (" + settings.describeMaxSkipped() + "): the dataset looks broken. The last was sample "
                + lastSkipped.sampleIndex() + ": " + lastSkipped.summary(), -1, -1, lastSkipped.sampleIndex(),
                lastSkipped.cause(getClass().getClassLoader()));
    }

    // ------------------------------------------------------------------------------ state

    /** The state after the first {@code n} batches this run delivered. */
    @Override
    synchronized LoaderState stateAfter(int n) {
        if (n > deliveryOrder.size()) {
            throw new IllegalArgumentException("only " + deliveryOrder.size() + " batches of epoch " + epoch + " were delivered, not " + n);
        }
        long[] at = base.clone();
        for (int i = 0; i < n; i++) at[deliveryOrder.get(i)]++;
        List<Long> endedBy = new ArrayList<>();
        for (int s = 0; s < shards; s++) if (endedAt[s] >= 0 && endedAt[s] <= n) endedBy.add((long) s);
        if (endedBy.size() == shards) return loader.streamStartOf(epoch + 1);
        List<Long> positions = new ArrayList<>();
        long total = 0;
        for (long p : at) {
            positions.add(p);
            total += p;
        }
        return loader.streamStateOf(epoch, total, positions, endedBy);
    }

    @Override
    synchronized int taken() {
        return deliveryOrder.size();
    }
}
