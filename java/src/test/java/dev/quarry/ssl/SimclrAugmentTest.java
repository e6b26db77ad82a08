package dev.quarry.ssl;

import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.QuarryException;
import dev.quarry.engine.Tensor;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * SimclrAugment through the binding: the properties quarry.h promises (identity, mirror, luma, pixel range,
 * determinism per (seed, step, view)) and the errors. The float64 reference of the whole pipeline is in
 * native/tests/test_ssl.cpp.
 */
class SimclrAugmentTest {
    private final Device cpu = Device.cpu();
    private static final float[] MEAN = {0.49f, 0.48f, 0.45f}, STD = {0.25f, 0.24f, 0.26f};

    /** Normalised images whose pixels are uniform in (0, 1). */
    static float[] images(int n, int h, int w, int c, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * h * w * c];
        for (int i = 0; i < x.length; i++) x[i] = ((0.001f + 0.998f * r.nextFloat()) - MEAN[i % c]) / STD[i % c];
        return x;
    }

    static SimclrAugment only(float flipP, float grayP, float ratio) {
        return new SimclrAugment(1f, ratio, ratio, flipP, 0f, 0.4f, 0.4f, 0.4f, 0.1f, grayP);
    }

    private float[] run(SimclrAugment p, float[] x, int n, int h, int w, int c, long seed, long step, int view) {
        try (Tensor tx = Tensor.of(cpu, x, n, h, w, c); Tensor ty = Tensor.empty(cpu, n, h, w, c)) {
            Ops.fill(ty, Float.NaN);
            p.apply(tx, ty, Arrays.copyOf(MEAN, c), Arrays.copyOf(STD, c), seed, step, view);
            return ty.toFloats();
        }
    }

    @Test
    void cifarDefaultsAreSimclrs() {
        assertArrayEquals(new float[] {0.08f, 0.75f, 4f / 3f, 0.5f, 0.8f, 0.4f, 0.4f, 0.4f, 0.1f, 0.2f}, SimclrAugment.cifar().toArray());
    }

    @Test
    void noRandomnessIsTheIdentityAndFlipOnlyTheMirror() {
        int n = 3, h = 13, w = 17, c = 3;
        float[] x = images(n, h, w, c, 1);
        assertArrayEquals(x, run(only(0, 0, 17f / 13f), x, n, h, w, c, 5, 6, 0));
        float[] y = run(only(1, 0, 17f / 13f), x, n, h, w, c, 5, 6, 0);
        for (int i = 0; i < n; i++)
            for (int a = 0; a < h; a++)
                for (int b = 0; b < w; b++)
                    for (int ch = 0; ch < c; ch++)
                        assertEquals(x[((i * h + a) * w + (w - 1 - b)) * c + ch], y[((i * h + a) * w + b) * c + ch], "pixel " + i + "," + a + "," + b);
    }

    @Test
    void grayscaleOnlyWritesTheLumaToEveryChannel() {
        int n = 2, h = 8, w = 8, c = 3;
        float[] x = images(n, h, w, c, 2), y = run(only(0, 1, 1f), x, n, h, w, c, 7, 8, 1);
        for (int pix = 0; pix < n * h * w; pix++) {
            double r = x[pix * 3] * STD[0] + MEAN[0], g = x[pix * 3 + 1] * STD[1] + MEAN[1], b = x[pix * 3 + 2] * STD[2] + MEAN[2];
            double luma = 0.299 * r + 0.587 * g + 0.114 * b;
            for (int ch = 0; ch < 3; ch++) assertEquals(luma, y[pix * 3 + ch] * STD[ch] + MEAN[ch], 1e-5, "pixel " + pix + " channel " + ch);
        }
    }

    @Test
    void cifarViewsStayInPixelRangeAndDependOnStepAndView() {
        int n = 16, h = 32, w = 32, c = 3;
        float[] x = images(n, h, w, c, 3);
        SimclrAugment p = SimclrAugment.cifar();
        float[] v0 = run(p, x, n, h, w, c, 11, 100, 0);
        for (int i = 0; i < v0.length; i++) {
            double pixel = v0[i] * STD[i % c] + MEAN[i % c];
            assertTrue(pixel > -1e-5 && pixel < 1 + 1e-5, "element " + i + " is pixel value " + pixel);
        }
        assertArrayEquals(v0, run(p, x, n, h, w, c, 11, 100, 0), "same (seed, step, view)");
        int image = h * w * c;
        for (float[] other : new float[][] {run(p, x, n, h, w, c, 11, 100, 1), run(p, x, n, h, w, c, 11, 101, 0), run(p, x, n, h, w, c, 12, 100, 0)}) {
            int same = 0;
            for (int i = 0; i < n; i++)
                same += Arrays.equals(v0, i * image, (i + 1) * image, other, i * image, (i + 1) * image) ? 1 : 0;
            assertTrue(same <= 1, same + " of " + n + " images repeated under another view, step or seed");
        }
    }

    @Test
    void badArgumentsNameTheOpAndShapes() {
        try (Tensor x = Tensor.zeros(cpu, 2, 5, 6, 3); Tensor y = Tensor.zeros(cpu, 2, 5, 6, 3); Tensor two = Tensor.zeros(cpu, 2, 5, 6, 2);
             Tensor two2 = Tensor.zeros(cpu, 2, 5, 6, 2)) {
            SimclrAugment p = SimclrAugment.cifar();
            String std0 = assertThrows(QuarryException.class, () -> p.apply(x, y, MEAN, new float[] {0.2f, 0f, 0.2f}, 1, 2, 0)).getMessage();
            assertTrue(std0.contains("simclr_augment") && std0.contains("std") && std0.contains("[2, 5, 6, 3]"), std0);
            String len = assertThrows(QuarryException.class, () -> p.apply(x, y, new float[] {0.5f}, STD, 1, 2, 0)).getMessage();
            assertTrue(len.contains("channel means"), len);
            String c2 = assertThrows(QuarryException.class, () -> p.apply(two, two2, MEAN, STD, 1, 2, 0)).getMessage();
            assertTrue(c2.contains("c = 1 or 3") && c2.contains("[2, 5, 6, 2]"), c2);
            assertTrue(assertThrows(QuarryException.class, () -> p.apply(x, x, MEAN, STD, 1, 2, 0)).getMessage().contains("another tensor"));
            assertTrue(assertThrows(QuarryException.class, () -> p.apply(x, y, MEAN, STD, 1, 2, -1)).getMessage().contains("view -1"));
        }
        assertThrows(IllegalArgumentException.class, () -> new SimclrAugment(0f, 0.75f, 1.33f, 0.5f, 0.8f, 0.4f, 0.4f, 0.4f, 0.1f, 0.2f));
        assertThrows(IllegalArgumentException.class, () -> new SimclrAugment(0.08f, 0.75f, 1.33f, 1.5f, 0.8f, 0.4f, 0.4f, 0.4f, 0.1f, 0.2f));
        assertThrows(IllegalArgumentException.class, () -> new SimclrAugment(0.08f, 1.5f, 1.33f, 0.5f, 0.8f, 0.4f, 0.4f, 0.4f, 0.1f, 0.2f));
        assertThrows(IllegalArgumentException.class, () -> new SimclrAugment(0.08f, 0.75f, 1.33f, 0.5f, 0.8f, 0.4f, 0.4f, 0.4f, 0.7f, 0.2f));
    }
}
