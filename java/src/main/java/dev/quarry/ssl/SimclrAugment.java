package dev.quarry.ssl;

import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;

/**
 * Parameters of SimCLR's view augmentation (quarry.h, qy_simclr_augment): random resized crop with area scale in
 * [scaleMin, 1] and log-uniform aspect ratio in [ratioMin, ratioMax], horizontal flip with probability flipP, colour
 * jitter with probability jitterP (brightness, contrast, saturation strengths and hue shift, in that order) and
 * grayscale with probability grayP. Field order is the C struct's.
 */
public record SimclrAugment(float scaleMin, float ratioMin, float ratioMax, float flipP, float jitterP, float brightness, float contrast,
                            float saturation, float hue, float grayP) {
    public SimclrAugment {
        if (!(scaleMin > 0 && scaleMin <= 1)) throw new IllegalArgumentException("crop scale minimum must be in (0, 1], got " + scaleMin);
        if (!(ratioMin > 0 && ratioMin <= ratioMax && Float.isFinite(ratioMax)))
            throw new IllegalArgumentException("need 0 < ratio min <= ratio max, finite; got " + ratioMin + ", " + ratioMax);
        for (float p : new float[] {flipP, jitterP, grayP})
            if (!(p >= 0 && p <= 1)) throw new IllegalArgumentException("probabilities must be in [0, 1], got " + p);
        for (float s : new float[] {brightness, contrast, saturation})
            if (!(s >= 0 && Float.isFinite(s))) throw new IllegalArgumentException("jitter strengths must be >= 0 and finite, got " + s);
        if (!(hue >= 0 && hue <= 0.5f)) throw new IllegalArgumentException("hue strength must be in [0, 0.5], got " + hue);
    }

    /** SimCLR's CIFAR-10 settings (Chen et al. 2020, appendix B.9): colour jitter strength 0.5 of the ImageNet one. */
    public static SimclrAugment cifar() {
        return new SimclrAugment(0.08f, 3f / 4f, 4f / 3f, 0.5f, 0.8f, 0.4f, 0.4f, 0.4f, 0.1f, 0.2f);
    }

    /** The same settings with another smallest crop area. */
    public SimclrAugment withScaleMin(float s) {
        return new SimclrAugment(s, ratioMin, ratioMax, flipP, jitterP, brightness, contrast, saturation, hue, grayP);
    }

    /** The ten floats of qy_simclr_params, in field order. */
    public float[] toArray() {
        return new float[] {scaleMin, ratioMin, ratioMax, flipP, jitterP, brightness, contrast, saturation, hue, grayP};
    }

    /** One view of every image of x [n][h][w][c] into out; see {@link Ops#simclrAugment}. */
    public void apply(Tensor x, Tensor out, float[] meanC, float[] stdC, long seed, long step, int view) {
        Ops.simclrAugment(x, out, meanC, stdC, toArray(), seed, step, view);
    }
}
