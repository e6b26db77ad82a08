package dev.quarry.data;

import java.util.SplittableRandom;

/**
 * Repeated-MNIST (Kirsch et al. 2019): {@code copies} copies of a data set, each copy with its own fixed
 * N(0, noiseStd^2) noise added in normalised units (the paper: 3 copies, std 0.1). Duplicates make top-b BALD
 * pick the same information repeatedly, which is what BatchBALD avoids.
 */
public final class RepeatedMnist {
    private RepeatedMnist() {}

    public static ImageSet build(ImageSet base, int copies, float noiseStd, long seed) {
        if (copies < 1) throw new IllegalArgumentException("copies must be >= 1, got " + copies);
        int p = base.pixels();
        long total = (long) base.n() * copies * p;
        if (total > Integer.MAX_VALUE - 16) throw new IllegalArgumentException(copies + " copies of " + base.n() + " images are too many");
        float[] x = new float[(int) total];
        int[] y = new int[base.n() * copies];
        for (int c = 0; c < copies; c++) {
            SplittableRandom rng = new SplittableRandom(seed * 1_000_003L + c);
            int off = c * base.n() * p;
            for (int i = 0; i < base.n() * p; i++) x[off + i] = base.images()[i] + noiseStd * (float) gaussian(rng);
            System.arraycopy(base.labels(), 0, y, c * base.n(), base.n());
        }
        return new ImageSet(x, y, base.n() * copies, base.height(), base.width(), base.channels(), base.classes());
    }

    private static double gaussian(SplittableRandom r) {
        double u1 = ((r.nextLong() >>> 11) + 0.5) * 0x1.0p-53, u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
