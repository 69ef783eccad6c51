package io.ringloader.cli.demo;

import ai.djl.Model;
import io.ringloader.loader.LoaderState;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The demo's checkpoint folder: the model's parameters ({@code shapes-cnn-0000.params}, DJL's format) and
 * the training loader's state ({@code loader-state.json}), written after a training step. Each file is
 * written beside its place and renamed into it, parameters first: a process killed while it writes leaves
 * the previous checkpoint whole, and a state is never newer than the parameters beside it. (The
 * optimizer's moments are not saved: DJL's {@code Model.save} writes parameters only; Adam starts afresh.)
 */
record Checkpoint(LoaderState state) {
    static final String MODEL = "shapes-cnn";
    private static final String PARAMS = MODEL + "-0000.params";
    private static final String STATE = "loader-state.json";

    static void write(Path dir, Model model, LoaderState state) {
        try {
            Path staging = Files.createDirectories(dir.resolve(".staging"));
            model.setProperty("Epoch", "0"); // one parameters file, replaced each time (DJL numbers them otherwise)
            model.save(staging, MODEL);
            Files.move(staging.resolve(PARAMS), dir.resolve(PARAMS), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            Path tmp = staging.resolve(STATE);
            Files.writeString(tmp, state.toJson());
            Files.move(tmp, dir.resolve(STATE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("demo: cannot write the checkpoint to " + dir + ": " + e.getMessage(), e);
        }
    }

    static Checkpoint read(Path dir) {
        Path state = dir.resolve(STATE);
        if (!Files.isRegularFile(state)) {
            throw new IllegalArgumentException("demo: --resume " + dir + " holds no " + STATE + ": give the folder a run wrote with --checkpoint");
        }
        try {
            return new Checkpoint(LoaderState.fromJson(Files.readString(state)));
        } catch (IOException e) {
            throw new UncheckedIOException("demo: cannot read " + state + ": " + e.getMessage(), e);
        }
    }
}
