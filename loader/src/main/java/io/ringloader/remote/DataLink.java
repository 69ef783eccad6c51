package io.ringloader.remote;

import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * One worker's data connection ({@link HostProtocol}): ring records both ways, each a 4-byte length and
 * then its bytes, over one or more TCP connections, its lanes ({@link DataLane}). A record of less than
 * {@link #SPLIT_BYTES} goes whole on lane 0 (the requests, and most batches); a larger one is cut into
 * as many equal parts as there are lanes, its length and first part on lane 0, each other part on its
 * own lane, all at once. Both ends cut a record of a given length the same way.
 *
 * <p>Why lanes: each end of one TCP connection is one thread's copy, and the two copies of one
 * connection go at one pace: while either is preempted, the other soon waits too. With two, a batch's
 * halves cross side by side, and a core that one copy leaves idle is taken by another (docs/remote.md
 * has the figures).
 *
 * <p>One thread reads and one thread writes; a split record's other parts are read (or written) by
 * threads of this link's own, one per lane beyond the first and direction, made at the first split record. A lane that
 * breaks breaks the link: all lanes are closed, and a call returns only once no part is still being
 * read into (or written from) the caller's record.
 */
final class DataLink implements AutoCloseable {
    /** Records of at least this many bytes are split over the lanes. */
    static final int SPLIT_BYTES = 1 << 20;
    /** The lanes a trainer asks for; a host takes 1 to {@link #MOST_LANES}. */
    static final int LANES = 2, MOST_LANES = 8;

    private final DataLane[] lanes;
    /**
     * lanes.length - 1 threads each (started at the first split record; none for one lane): one set per
     * direction, so that a part being read never waits behind a part being written, nor the other way.
     */
    private final ExecutorService readers, writers;
    private volatile boolean closed;

    DataLink(DataLane[] lanes) {
        this.lanes = lanes.clone();
        this.readers = lanes.length > 1 ? helpers(lanes.length - 1, "ringloader-data-lane-read") : null;
        this.writers = lanes.length > 1 ? helpers(lanes.length - 1, "ringloader-data-lane-write") : null;
    }

    private static ExecutorService helpers(int n, String name) {
        return Executors.newFixedThreadPool(n, r -> Thread.ofPlatform().daemon().name(name).unstarted(r));
    }

    /** The trainer's end: connects its {@code lanes} lanes to {@code host:port} with the call's {@code ticket}. */
    static DataLink connect(String host, int port, byte[] ticket, int lanes, SSLContext tls, Duration timeout) throws IOException {
        DataLane[] made = new DataLane[lanes];
        try {
            for (int i = 0; i < lanes; i++) made[i] = DataLane.connect(host, port, ticket, i, lanes, tls, timeout);
        } catch (IOException | RuntimeException e) {
            for (DataLane l : made) if (l != null) l.close();
            throw e;
        }
        return new DataLink(made);
    }

    String peer() {
        return lanes[0].peer();
    }

    int lanes() {
        return lanes.length;
    }

    /** Writes one record: its length, then its bytes. */
    void write(MemorySegment record) throws IOException {
        int n = Math.toIntExact(record.byteSize());
        if (!split(n)) {
            lanes[0].write(n, record);
            return;
        }
        parts(record, true);
    }

    /**
     * The next record's length, or -1 if the other end closed the connection between two records. A
     * connection cut inside a record is an EOFException.
     */
    int readLength() throws IOException {
        return lanes[0].readLength();
    }

    /** Reads the record whose length {@link #readLength()} gave into {@code into}, which has exactly that size. */
    void readFully(MemorySegment into) throws IOException {
        if (!split(into.byteSize())) {
            lanes[0].readFully(into);
            return;
        }
        parts(into, false);
    }

    private boolean split(long n) {
        return lanes.length > 1 && n >= SPLIT_BYTES;
    }

    /** Part {@code i} of a record cut into one part per lane. */
    private MemorySegment part(MemorySegment record, int i) {
        long n = record.byteSize(), each = n / lanes.length;
        long from = i * each, to = i == lanes.length - 1 ? n : from + each;
        return record.asSlice(from, to - from);
    }

    /** Writes (or reads) {@code record}'s parts, each on its lane, at once; returns when all are done. */
    private void parts(MemorySegment record, boolean write) throws IOException {
        ExecutorService helpers = write ? writers : readers;
        java.util.List<Future<?>> others = new java.util.ArrayList<>(lanes.length - 1);
        IOException failed = null;
        for (int i = 1; i < lanes.length && failed == null; i++) {
            DataLane lane = lanes[i];
            MemorySegment p = part(record, i);
            try {
                others.add(helpers.submit(() -> {
                    if (write) lane.writeRaw(p);
                    else lane.readFully(p);
                    return null;
                }));
            } catch (java.util.concurrent.RejectedExecutionException closing) {
                failed = new java.nio.channels.AsynchronousCloseException();
            }
        }
        try {
            if (failed == null) {
                MemorySegment first = part(record, 0);
                if (write) lanes[0].write((int) record.byteSize(), first);
                else lanes[0].readFully(first);
            }
        } catch (IOException e) {
            failed = e;
        }
        if (failed != null) close(); // the other lanes' parts end at once
        boolean interrupted = false;
        for (Future<?> f : others) {
            while (true) {
                try {
                    f.get();
                    break;
                } catch (ExecutionException e) {
                    if (failed == null) {
                        failed = e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
                        close();
                    }
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // wait on: the part must be done with the record before this returns
                    close();
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
            if (failed == null) failed = new InterruptedIOException("interrupted while moving a record");
        }
        if (failed != null) throw failed;
    }

    /** No more records from this end; the other end reads what was sent, then the end. */
    void shutdownOutput() {
        for (DataLane l : lanes) l.shutdownOutput();
    }

    boolean closedHere() {
        return closed;
    }

    @Override
    public void close() {
        closed = true;
        for (DataLane l : lanes) l.close();
        for (ExecutorService h : new ExecutorService[] {readers, writers}) if (h != null) h.shutdown(); // their threads end with their parts
    }
}
