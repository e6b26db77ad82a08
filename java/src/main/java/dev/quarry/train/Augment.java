package dev.quarry.train;

import dev.quarry.engine.Tensor;

/** Seeded device-side augmentation for training batches. */
final class Augment {
    private Augment() {}

    static void cropFlip(Tensor x, Tensor out, int pad, long seed, long step) {
        throw new UnsupportedOperationException("crop/flip augmentation arrives with the native augment op");
    }
}
