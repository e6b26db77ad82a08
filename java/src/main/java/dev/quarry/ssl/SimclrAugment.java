package dev.quarry.ssl;

import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;

/**
 * SimCLR's augmentation settings (quarry.h, qy_simclr_augment): random resized crop down to {@code scaleMin} of
 * the area, flip, colour jitter with its four strengths, grayscale.
 */
public record SimclrAugment(float scaleMin, float pFlip, float pJitter, float brightness, float contrast, float saturation, float hue,
                            float pGray) {
    /** SimCLR's CIFAR-10 recipe (Chen et al. 2020, appendix B.9, colour strength 0.5). */
    public static SimclrAugment cifarDefaults() {
        return new SimclrAugment(0.08f, 0.5f, 0.8f, 0.4f, 0.4f, 0.4f, 0.1f, 0.2f);
    }

    public SimclrAugment withScaleMin(float s) {
        return new SimclrAugment(s, pFlip, pJitter, brightness, contrast, saturation, hue, pGray);
    }

    /** One view of every image of {@code x} into {@code out}. */
    public void apply(Tensor x, Tensor out, float[] mean, float[] std, long seed, long step, int view) {
        Ops.simclrAugment(x, out, mean, std, scaleMin, pFlip, pJitter, brightness, contrast, saturation, hue, pGray, seed, step, view);
    }
}
