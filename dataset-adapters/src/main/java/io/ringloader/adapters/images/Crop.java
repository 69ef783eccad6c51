package io.ringloader.adapters.images;

import io.ringloader.data.SampleWriter;

import java.util.SplittableRandom;

/**
 * Where to crop a picture with {@code margin} pixels to spare, and whether to mirror it: at random from
 * the sample's own stream when augmenting (so the result does not depend on the workers), the centre
 * and no mirror otherwise.
 */
public record Crop(int x, int y, boolean flip) {
    public static Crop of(SampleWriter out, int margin, boolean augment) {
        if (!augment) return new Crop(margin / 2, margin / 2, false);
        SplittableRandom random = out.random();
        return new Crop(random.nextInt(margin + 1), random.nextInt(margin + 1), random.nextBoolean());
    }
}
