package io.ringloader.loader;

import io.ringloader.batch.ColumnLayout;
import io.ringloader.os.Posix;
import io.ringloader.worker.ProcessWorker;
import io.ringloader.worker.Recipe;
import io.ringloader.worker.Worker;
import io.ringloader.worker.WorkerSpec;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The workers of a loader while they run, one per slot. A loader of a fixed {@code numWorkers} fills
 * slots 0 to {@code numWorkers - 1} and keeps them full (a lost worker is replaced in its slot); an
 * autotuned one has a slot per worker it may ever run ({@link LoaderSettings#maxWorkers}) and adds and
 * retires workers as it goes:
 *
 * <pre>
 *   EMPTY --add()--> STARTING --(READY seen)--> ACTIVE --retire()--> RETIRING --remove()--> EMPTY
 * </pre>
 *
 * Only ACTIVE slots are given new requests. A STARTING worker boots and opens its dataset first (asking
 * it for a batch would make the trainer wait for a JVM's start-up); a RETIRING one finishes what it was
 * asked for, and is stopped once all of it was delivered. A slot's worker has the slot's number as its
 * id. The slots change on the epoch's thread only; {@code stats()} reads the workers from any thread.
 */
final class WorkerSet {
    /** How long a stopping worker gets to close its dataset before it is killed. */
    static final long STOP_GRACE_MILLIS = 2000;

    enum Slot { EMPTY, STARTING, ACTIVE, RETIRING }

    private final LoaderSettings settings;
    private final Recipe recipe;
    private final List<ColumnLayout> columns;
    private final Path tmpDir;
    private final int[] cpus;
    /** Read by stats() on any thread while the epoch's thread replaces, adds or removes a worker. */
    private final AtomicReferenceArray<Worker> slots;
    private final Slot[] state;
    /** Threads stopping retired workers (each gets its grace period without holding up the trainer). */
    private final List<Thread> stoppers = new ArrayList<>();

    private WorkerSet(LoaderSettings settings, Recipe recipe, List<ColumnLayout> columns, Path tmpDir, int[] cpus, List<Worker> started) {
        this.settings = settings;
        this.recipe = recipe;
        this.columns = columns;
        this.tmpDir = tmpDir;
        this.cpus = cpus;
        this.slots = new AtomicReferenceArray<>(settings.slots());
        this.state = new Slot[settings.slots()];
        java.util.Arrays.fill(state, Slot.EMPTY);
        for (Worker w : started) {
            slots.set(w.id(), w);
            state[w.id()] = Slot.ACTIVE;
        }
    }

    private static WorkerSpec spec(LoaderSettings s, Recipe recipe, List<ColumnLayout> columns, Path tmpDir, int[] cpus, int w) {
        int cpu = s.pinWorkers() && w < s.maxWorkers() ? cpus[w % cpus.length] : -1; // a host pins its own, or not
        // A stream's shards are the dataset's, not the workers': a worker is told the first of this rank's
        // (shard s of a request is shardIndex + s of shardCount), and takes whichever it is asked for.
        return new WorkerSpec(w, s.maxWorkers(), s.seed(), s.rank() * s.shards(), s.worldSize() * s.shards(),
                recipe, columns, s.requestRingBytes(), s.batchRingBytes(), s.jvmOptions(), cpu, tmpDir, s.timeout().toMillis());
    }

    /**
     * Starts {@code count} workers in slots 0 to {@code count - 1}, the first {@code launched.size()} of them
     * process workers whose JVMs already boot, and a worker on each remote slot's host. A host that cannot
     * be reached fails the start, unless {@code hostsMayBeGone} (a later epoch's start: it goes on without it).
     */
    static WorkerSet start(LoaderSettings s, Recipe recipe, List<ColumnLayout> columns, Path tmpDir, List<ProcessWorker.Launch> launched,
                           int count, boolean hostsMayBeGone) {
        List<Worker> started = new ArrayList<>();
        int[] cpus = s.pinWorkers() ? Posix.allowedCpus() : new int[0];
        try {
            for (int w = 0; w < count; w++) {
                WorkerSpec spec = spec(s, recipe, columns, tmpDir, cpus, w);
                started.add(w < launched.size() ? ProcessWorker.start(spec, launched.get(w)) : Worker.start(s.mode(), spec));
            }
            for (int w = s.maxWorkers(); w < s.slots(); w++) {
                try {
                    started.add(startIn(s, recipe, columns, tmpDir, cpus, w));
                } catch (RuntimeException e) {
                    if (!hostsMayBeGone) throw e;
                    DataLoader.LOG.warn("ringloader: worker {}'s host cannot be reached; this epoch goes on without it: {}", w, e.getMessage());
                }
            }
        } catch (RuntimeException e) {
            stop(started);
            throw e;
        }
        return new WorkerSet(s, recipe, columns, tmpDir, cpus, started);
    }

    /** A worker for {@code slot}: on its worker host for a remote slot, else of the loader's mode. */
    private static Worker startIn(LoaderSettings s, Recipe recipe, List<ColumnLayout> columns, Path tmpDir, int[] cpus, int slot) {
        WorkerSpec spec = spec(s, recipe, columns, tmpDir, cpus, slot);
        if (slot < s.maxWorkers()) return Worker.start(s.mode(), spec);
        return io.ringloader.worker.RemoteWorker.start(spec, s.remote().get(slot - s.maxWorkers()));
    }

    /** Whether {@code slot}'s workers run on a worker host of another machine. */
    boolean isRemote(int slot) {
        return slot >= settings.maxWorkers();
    }

    /** The worker in {@code slot}, or null if it is empty. */
    Worker get(int slot) {
        return slots.get(slot);
    }

    /** Slots, filled or not: the most workers this set may run at once. */
    int capacity() {
        return slots.length();
    }

    Slot state(int slot) {
        return state[slot];
    }

    boolean isActive(int slot) {
        return state[slot] == Slot.ACTIVE;
    }

    /** Slots of this machine's workers, 0 to {@code localSlots() - 1}; a worker host's slots follow them. */
    int localSlots() {
        return settings.maxWorkers();
    }

    /** This machine's workers that take new requests (an autotuner's to count; a host's are not). */
    int activeHere() {
        int n = 0;
        for (int w = 0; w < settings.maxWorkers(); w++) if (state[w] == Slot.ACTIVE) n++;
        return n;
    }

    /** Workers that take new requests. */
    int active() {
        return count(Slot.ACTIVE);
    }

    int count(Slot s) {
        int n = 0;
        for (Slot x : state) if (x == s) n++;
        return n;
    }

    /** The workers there are, in slot order. */
    List<Worker> list() {
        List<Worker> out = new ArrayList<>(slots.length());
        for (int w = 0; w < slots.length(); w++) if (slots.get(w) != null) out.add(slots.get(w));
        return out;
    }

    /**
     * Puts a fresh worker in {@code slot}, in place of one that died or hung: the old one is stopped
     * (its memory stays mapped while the trainer holds its batches), the new one starts as the first did.
     * The slot keeps its state: a retiring slot's successor finishes its batches and is retired in turn.
     */
    Worker replace(int slot) {
        Worker old = slots.get(slot);
        old.stop(0);
        Worker fresh;
        try {
            fresh = startIn(settings, recipe, columns, tmpDir, cpus, slot);
        } catch (RuntimeException e) {
            slots.set(slot, null); // a host that cannot be reached: the slot waits for it to come back (rejoin)
            state[slot] = Slot.EMPTY;
            throw e;
        }
        slots.set(slot, fresh);
        return fresh;
    }

    /**
     * Between epochs: a remote slot whose host was lost gets a worker again if its host answers now. Its
     * host's name and what it said are logged either way; the epoch goes on without it if it does not.
     */
    void rejoin() {
        // A host that does not answer for one of its slots is not asked again for the others this epoch:
        // each try can wait for the connection's timeout, and a host of 16 workers would hold the epoch's
        // start for 16 of them.
        java.util.Set<io.ringloader.remote.RemoteHost> gone = new java.util.HashSet<>();
        for (int w = settings.maxWorkers(); w < state.length; w++) {
            if (state[w] != Slot.EMPTY) continue;
            io.ringloader.remote.RemoteHost host = settings.remote().get(w - settings.maxWorkers());
            if (gone.contains(host)) continue;
            try {
                slots.set(w, startIn(settings, recipe, columns, tmpDir, cpus, w));
                state[w] = Slot.ACTIVE;
                DataLoader.LOG.info("ringloader: {} is back: {} joins this epoch", host.uri(), slots.get(w).describe());
            } catch (RuntimeException e) {
                gone.add(host);
                DataLoader.LOG.info("ringloader: worker {}'s host {} is still gone; this epoch goes on without its lost workers: {}", w,
                        host.uri(), e.getMessage());
            }
        }
    }

    /** Starts a worker in the lowest empty slot (STARTING until its READY is seen); its slot, or -1 if none is empty. */
    int add() {
        for (int w = 0; w < settings.maxWorkers(); w++) {
            if (state[w] != Slot.EMPTY) continue;
            slots.set(w, Worker.start(settings.mode(), spec(settings, recipe, columns, tmpDir, cpus, w)));
            state[w] = Slot.STARTING;
            return w;
        }
        return -1;
    }

    /** A STARTING slot whose worker said READY takes requests from now on. */
    void activate(int slot) {
        if (state[slot] == Slot.STARTING) state[slot] = Slot.ACTIVE;
    }

    /** No more requests for {@code slot}'s worker: it finishes those it has, then {@link #remove} stops it. */
    void retire(int slot) {
        if (state[slot] == Slot.ACTIVE) state[slot] = Slot.RETIRING;
    }

    /**
     * Empties a retiring slot whose batches were all delivered. Its worker is stopped on a thread of its
     * own: it gets the grace period to close its dataset while the trainer goes on (and its memory stays
     * mapped while the trainer holds its batches); {@link #stop()} waits for that thread.
     */
    void remove(int slot) {
        Worker w = slots.get(slot);
        slots.set(slot, null);
        state[slot] = Slot.EMPTY;
        if (w == null) return;
        w.signalStop();
        synchronized (stoppers) {
            stoppers.removeIf(t -> !t.isAlive());
            stoppers.add(Thread.ofPlatform().name("ringloader-stop-" + w.id()).daemon().start(() -> w.stop(STOP_GRACE_MILLIS)));
        }
    }

    /** Step 1 of {@link #stop()} alone: every ring closed, so that every worker stops starting batches now. */
    void signalStop() {
        list().forEach(Worker::signalStop);
    }

    /** Stops every worker: all rings first, then each gets the grace period at the same time as the others. */
    void stop() {
        stop(list());
        List<Thread> retired;
        synchronized (stoppers) {
            retired = List.copyOf(stoppers);
            stoppers.clear();
        }
        retired.forEach(WorkerSet::joinUninterruptibly);
    }

    private static void stop(List<Worker> ws) {
        ws.forEach(Worker::signalStop);
        if (ws.size() == 1) {
            ws.getFirst().stop(STOP_GRACE_MILLIS);
            return;
        }
        List<Thread> stoppers = ws.stream()
                .map(w -> Thread.ofPlatform().name("ringloader-stop-" + w.id()).daemon().start(() -> w.stop(STOP_GRACE_MILLIS)))
                .toList();
        stoppers.forEach(WorkerSet::joinUninterruptibly);
    }

    /** Joins {@code t} whatever interrupts come meanwhile; the flag is set again after. */
    static void joinUninterruptibly(Thread t) {
        boolean interrupted = false;
        while (true) {
            try {
                t.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }
}
