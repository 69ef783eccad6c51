package io.ringloader.worker;

import io.ringloader.remote.HostConnection;
import io.ringloader.remote.HostProtocol;
import io.ringloader.remote.RemoteHost;
import io.ringloader.ring.RingClosedException;
import io.ringloader.ring.RingRecord;
import io.ringloader.ring.SpscRing;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A worker on a worker host of another machine ({@code remoteWorkers(...)}): to the trainer, the same
 * rings as any worker, in this process's shared memory. Two threads stand in for the worker: one sends
 * what the trainer writes to the request ring up to the host, the other reads what the host sends into
 * the batch ring, byte for byte; the host's own process worker builds the batches. When the host's end
 * ends or breaks, the batch ring closes, and the trainer sees a worker that died: the records that
 * arrived before are delivered, the rest are asked of another worker.
 *
 * <p>Copies of a batch on its way, over plain TCP: the kernel's, from the host's ring into its socket,
 * and from this one's socket into this ring. The trainer then reads it in place, as a local worker's.
 * TLS adds its encryption and a 64 KiB buffer on each end.
 */
public final class RemoteWorker extends Worker {
    private final HostConnection connection;
    private final Thread up, down;
    private volatile String ended;
    /** The trainer is stopping this worker: the end that follows is its own doing. */
    private volatile boolean stopping;

    private RemoteWorker(int id, Segment segment, HostConnection connection) {
        super(id, segment.shm(), segment.control(), segment.requests(), segment.batches());
        this.connection = connection;
        SpscRing[] side = segment.workerSide();
        SpscRing workerRequests = side[0], workerBatches = side[1];
        String host = connection.host().name();
        this.up = Thread.ofPlatform().daemon().name("ringloader-remote-up-" + id).unstarted(() -> uplink(workerRequests));
        this.down = Thread.ofPlatform().daemon().name("ringloader-remote-down-" + id).unstarted(() -> downlink(workerBatches, host));
    }

    /** Starts worker {@code spec.id()} on {@code host}: returns once the host has started its process, or throws what the host said. */
    public static RemoteWorker start(WorkerSpec spec, RemoteHost host) {
        Segment segment = allocate(spec);
        segment.shm().unlink(); // both sides of these rings live in this process
        HostConnection c;
        try {
            c = HostConnection.open(host, new HostProtocol.Open(spec.requestCapacity(), spec.batchCapacity(), spec.jvmOptions(),
                    segment.config().encode()));
        } catch (RuntimeException e) {
            segment.shm().close();
            throw new IllegalStateException("cannot start worker " + spec.id() + " on " + host.uri() + ": " + e.getMessage(), e);
        }
        RemoteWorker w = new RemoteWorker(spec.id(), segment, c);
        w.up.start();
        w.down.start();
        return w;
    }

    private void uplink(SpscRing requests) {
        try {
            while (true) {
                RingRecord r = requests.read(50_000_000L);
                if (r == null) {
                    if (!down.isAlive()) return;
                    continue;
                }
                connection.send(r.payload());
                requests.release(r);
            }
        } catch (RingClosedException closed) {
            stopping = true;
            connection.complete(); // the host stops its worker and ends the call
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.io.IOException | RuntimeException broken) {
            connection.cancel(); // downlink says why
        }
    }

    private void downlink(SpscRing batches, String host) {
        try {
            int n;
            while ((n = connection.nextLength()) >= 0) {
                if (n == 0 || n > batches.maxPayload()) {
                    throw new java.io.IOException("it sent a record of " + n + " bytes, for a ring of " + batches.maxPayload());
                }
                long pos;
                while ((pos = batches.claim(n, 100_000_000L)) == SpscRing.NO_SPACE) {
                    // the trainer holds the ring: wait, as a local worker does (the host's writes wait meanwhile)
                }
                try {
                    connection.read(batches.payload(pos));
                } catch (java.io.IOException | RuntimeException cut) {
                    batches.abort(pos);
                    throw cut;
                }
                batches.commit(pos);
            }
            if (stopping) {
                ended = "was stopped";
            } else {
                String why = connection.callEnd();
                ended = why == null || why.equals("the host ended the call") ? "was ended by its host " + host + " (its log says why)"
                        : "lost its host " + host + ": " + why;
            }
        } catch (RingClosedException closed) {
            ended = "was stopped";
            connection.cancel();
        } catch (Exception e) {
            ended = stopping ? "was stopped" : "lost its host " + host + ": " + java.util.Objects.requireNonNullElse(connection.callEnd(), e.getMessage());
        } finally {
            // The trainer learns at once: what arrived is still read, then the ring says closed.
            batches.close();
            requests.close();
        }
    }

    @Override
    public String describe() {
        return "worker " + id + " (pid " + pid() + " on " + connection.host().name() + ")";
    }

    /** The worker's process on its host (not of this machine). */
    @Override
    public long pid() {
        return connection.opened().pid();
    }

    @Override
    public boolean isAlive() {
        return down.isAlive();
    }

    @Override
    public String exitDescription() {
        String e = ended;
        return e == null ? "is running" : e;
    }

    @Override
    public List<String> stderrTail() {
        return List.of(); // the host logs it, prefixed [worker N pid P]
    }

    @Override
    public String threadDump() {
        return "(a worker on " + connection.host().name() + ": its threads are not dumped across the network)";
    }

    @Override
    public void kill() {
        stopping = true;
        connection.cancel();
        requests.close();
        batches.close();
    }

    @Override
    protected void awaitStop(long graceMillis) {
        try {
            down.join(Math.max(1, graceMillis));
            if (down.isAlive()) connection.cancel();
            down.join(1000);
            up.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        connection.close();
    }
}
