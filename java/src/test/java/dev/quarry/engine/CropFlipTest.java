package dev.quarry.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Ops.cropFlip through the binding against a reference written from quarry.h's counter layout. */
class CropFlipTest {
    private final Device cpu = Device.cpu();

    /** {dy, dx, flip} of image i: counter {i, step lo, step hi, 0xC0000000}, key = seed. */
    static int[] draw(long seed, long step, int image, int pad) {
        int[] r = new int[4];
        QuarryNative.qy_philox4x32_10(new int[] {image, (int) step, (int) (step >>> 32), 0xC0000000},
                new int[] {(int) seed, (int) (seed >>> 32)}, r);
        long span = 2L * pad + 1;
        return new int[] {(int) (((r[0] & 0xffffffffL) * span) >>> 32) - pad, (int) (((r[1] & 0xffffffffL) * span) >>> 32) - pad, r[2] >>> 31};
    }

    static float[] reference(float[] x, int n, int h, int w, int c, int pad, long seed, long step) {
        float[] y = new float[x.length];
        for (int i = 0; i < n; i++) {
            int[] d = draw(seed, step, i, pad);
            for (int a = 0; a < h; a++)
                for (int b = 0; b < w; b++) {
                    int sa = a + d[0], sb = d[2] == 1 ? w - 1 - b + d[1] : b + d[1];
                    if (sa < 0 || sa >= h || sb < 0 || sb >= w) continue;
                    System.arraycopy(x, ((i * h + sa) * w + sb) * c, y, ((i * h + a) * w + b) * c, c);
                }
        }
        return y;
    }

    @ParameterizedTest(name = "n={0} h={1} w={2} c={3} pad={4} step={5}")
    @CsvSource({"9,32,32,3,4,0", "5,28,28,1,4,4294967297", "3,7,5,6,2,17", "2,3,3,1,3,5"})
    void matchesTheReferenceExactly(int n, int h, int w, int c, int pad, long step) {
        Random r = new Random(n * 31L + h);
        float[] x = new float[n * h * w * c];
        for (int i = 0; i < x.length; i++) x[i] = 1f + r.nextFloat();
        long seed = 0xABCDEF0123L;
        try (Tensor tx = Tensor.of(cpu, x, n, h, w, c); Tensor ty = Tensor.empty(cpu, n, h, w, c)) {
            Ops.fill(ty, Float.NaN);
            Ops.cropFlip(tx, ty, pad, seed, step);
            assertArrayEquals(reference(x, n, h, w, c, pad, seed, step), ty.toFloats());
        }
    }

    @Test
    void stepsGiveDifferentCropsAndRepeatsTheSame() {
        int n = 16, h = 10, w = 12, c = 2;
        float[] x = new float[n * h * w * c];
        for (int i = 0; i < x.length; i++) x[i] = 1 + i % (h * w * c);
        try (Tensor tx = Tensor.of(cpu, x, n, h, w, c); Tensor a = Tensor.empty(cpu, n, h, w, c);
             Tensor b = Tensor.empty(cpu, n, h, w, c); Tensor other = Tensor.empty(cpu, n, h, w, c)) {
            Ops.cropFlip(tx, a, 4, 1, 100);
            Ops.cropFlip(tx, b, 4, 1, 100);
            Ops.cropFlip(tx, other, 4, 1, 101);
            assertArrayEquals(a.toFloats(), b.toFloats(), "same (seed, step)");
            assertFalse(java.util.Arrays.equals(a.toFloats(), other.toFloats()), "step 100 and 101 gave the same batch");
        }
    }

    @Test
    void badOperandsNameTheOpAndShapes() {
        try (Tensor x = Tensor.zeros(cpu, 2, 5, 6, 3); Tensor y = Tensor.zeros(cpu, 2, 5, 6, 3); Tensor wrong = Tensor.zeros(cpu, 2, 6, 5, 3);
             Tensor flat = Tensor.zeros(cpu, 2, 90)) {
            String shapeMsg = assertThrows(QuarryException.class, () -> Ops.cropFlip(x, wrong, 1, 0, 0)).getMessage();
            assertTrue(shapeMsg.contains("crop_flip") && shapeMsg.contains("[2, 5, 6, 3]") && shapeMsg.contains("[2, 6, 5, 3]"), shapeMsg);
            assertTrue(assertThrows(QuarryException.class, () -> Ops.cropFlip(x, y, 6, 0, 0)).getMessage().contains("pad 6"));
            assertTrue(assertThrows(QuarryException.class, () -> Ops.cropFlip(x, x, 1, 0, 0)).getMessage().contains("another tensor"));
            assertTrue(assertThrows(QuarryException.class, () -> Ops.cropFlip(flat, flat, 1, 0, 0)).getMessage().contains("[n][h][w][c]"));
        }
    }
}
