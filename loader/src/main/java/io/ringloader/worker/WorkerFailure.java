package io.ringloader.worker;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.PrintWriter;
import java.io.Serializable;
import java.io.StringWriter;

/**
 * A failure inside a worker, as it travels to the parent: where it happened, the sample, and the
 * exception (serialized when it can be; its text and stack trace always).
 *
 * @param phase       "open" (the dataset's open failed) or "read" (a sample failed)
 * @param sampleIndex the sample being read, or -1
 * @param summary     the exception's class and message
 * @param stackTrace  the worker's stack trace, as printed
 * @param exception   the serialized exception, or null when it does not serialize
 */
public record WorkerFailure(String phase, long sampleIndex, String summary, String stackTrace, byte[] exception)
        implements Serializable {

    static WorkerFailure of(String phase, long sampleIndex, Throwable t) {
        StringWriter trace = new StringWriter();
        t.printStackTrace(new PrintWriter(trace));
        byte[] bytes;
        try {
            bytes = serialize(t);
        } catch (IOException | RuntimeException notSerializable) {
            bytes = null;
        }
        return new WorkerFailure(phase, sampleIndex, t.toString(), trace.toString(), bytes);
    }

    /** The failure in an ERROR record. */
    public static WorkerFailure of(java.lang.foreign.MemorySegment record) {
        long offset = record.get(java.lang.foreign.ValueLayout.JAVA_LONG, io.ringloader.batch.RecordHeader.BODY_OFFSET);
        long length = record.get(java.lang.foreign.ValueLayout.JAVA_LONG, io.ringloader.batch.RecordHeader.BODY_LENGTH);
        return fromBytes(record.asSlice(offset, length).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    /** The worker's exception as thrown there, or a stand-in that carries its text and trace. */
    public Throwable cause(ClassLoader loader) {
        if (exception != null) {
            try (ObjectInputStream in = new ClassLoaderObjectInputStream(new ByteArrayInputStream(exception), loader)) {
                return (Throwable) in.readObject();
            } catch (IOException | ClassNotFoundException | RuntimeException e) {
                // fall through
            }
        }
        return new RemoteWorkerException(summary, stackTrace);
    }

    byte[] toBytes() {
        try {
            return serialize(this);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    static WorkerFailure fromBytes(byte[] bytes) {
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
            return (WorkerFailure) in.readObject();
        } catch (IOException | ClassNotFoundException e) {
            return new WorkerFailure("unknown", -1, "an unreadable failure report (" + e + ")", "", null);
        }
    }

    static byte[] serialize(Object o) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ObjectOutputStream oos = new ObjectOutputStream(out)) {
            oos.writeObject(o);
        }
        return out.toByteArray();
    }

    /** Stands in for a worker's exception that did not serialize. */
    static final class RemoteWorkerException extends RuntimeException {
        RemoteWorkerException(String summary, String stackTrace) {
            super(summary + "\nworker stack trace:\n" + stackTrace);
            setStackTrace(new StackTraceElement[0]);
        }
    }
}
