package io.ringloader.ring;

import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Runs test work on a fresh platform thread of its own. Not the common pool: on two cores it has one
 * thread, and a task left blocked by one failed test would starve every later one.
 */
public final class Async {
    private Async() {}

    public static <T> CompletableFuture<T> supply(Supplier<T> work) {
        CompletableFuture<T> f = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            try {
                f.complete(work.get());
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        }, "test-async");
        t.setDaemon(true);
        t.start();
        return f;
    }

    public static CompletableFuture<Void> run(Runnable work) {
        return supply(() -> {
            work.run();
            return null;
        });
    }
}
