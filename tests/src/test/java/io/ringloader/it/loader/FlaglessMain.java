package io.ringloader.it.loader;

import io.ringloader.loader.DataLoader;

/** Builds a loader in a JVM started without ringloader's flags, and prints what it was told. */
public final class FlaglessMain {
    public static void main(String[] args) {
        try {
            DataLoader.builder(new Datasets.Numbers(10)).numWorkers(1).build().close();
            System.out.println("BUILT");
        } catch (IllegalStateException e) {
            System.out.println("REFUSED " + e.getMessage());
        }
    }
}
