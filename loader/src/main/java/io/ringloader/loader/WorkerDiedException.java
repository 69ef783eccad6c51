package io.ringloader.loader;

/** A worker died (exited, crashed, or was killed) while the trainer waited for one of its batches. */
public final class WorkerDiedException extends DataLoaderException {
    private final String crashReport;

    WorkerDiedException(String message, int workerId, long pid) {
        this(message, workerId, pid, null);
    }

    WorkerDiedException(String message, int workerId, long pid, String crashReport) {
        super(message, workerId, pid, null);
        this.crashReport = crashReport;
    }

    /**
     * The JVM's crash report (its hs_err file) when the worker crashed in native code, or null. It is read
     * when the error is raised: the file itself is in the loader's temporary folder, removed at close().
     */
    public String crashReport() {
        return crashReport;
    }
}
