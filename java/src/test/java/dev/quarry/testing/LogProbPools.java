package dev.quarry.testing;

import java.util.random.RandomGenerator;

/** Random MC-dropout pools for tests: n x k x c log-softmax rows of Gaussian logits, drawn from the given generator. */
public final class LogProbPools {
    private LogProbPools() {}

    public static float[] logSoftmax(int n, int k, int c, RandomGenerator r) {
        float[] lp = new float[n * k * c];
        for (int i = 0; i < n * k; i++) {
            double[] z = new double[c];
            double s = 0;
            for (int j = 0; j < c; j++) s += z[j] = Math.exp(r.nextGaussian());
            for (int j = 0; j < c; j++) lp[i * c + j] = (float) Math.log(z[j] / s);
        }
        return lp;
    }
}
