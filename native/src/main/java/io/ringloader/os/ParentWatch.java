package io.ringloader.os;

/**
 * What a child process does first so that it can never outlive the process that started it: ask the
 * kernel for SIGKILL when the parent dies, then check that the parent has not died already (the
 * request only covers deaths after it is made).
 */
public final class ParentWatch {
    private ParentWatch() {}

    /**
     * Arms {@code PR_SET_PDEATHSIG(SIGKILL)} and verifies that our parent is still {@code expectedParentPid}.
     *
     * @throws IllegalStateException if the parent is already gone (our parent pid has changed)
     */
    public static void dieWithParent(long expectedParentPid) {
        Posix.setParentDeathSignal(Posix.SIGKILL);
        long ppid = Posix.getppid();
        if (ppid != expectedParentPid) {
            throw new IllegalStateException("parent process " + expectedParentPid
                    + " exited before this child (pid " + ProcessHandle.current().pid() + ") started; now re-parented to " + ppid);
        }
    }
}
