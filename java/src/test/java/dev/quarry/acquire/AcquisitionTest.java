package dev.quarry.acquire;

import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.QuarryNative;
import dev.quarry.engine.Tensor;
import dev.quarry.util.Progress;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Acquisition scores and greedy BatchBALD against docs/acquisition.md's golden vectors and float64 references. */
class AcquisitionTest {
    private final Device cpu = Device.cpu();
    private final Acquirer acquirer = new Acquirer(cpu, 64 << 20, Progress.NONE);

    /** Golden vector 1's pool: p_i(w_j) = (1 - m_j) a_i + m_j b_i, m = linspace(0, 1, 20). */
    static double[] golden1() {
        double[][] a = {{.7, .1, .1, .1}, {.1, .7, .1, .1}, {.1, .1, .7, .1}, {.1, .1, .1, .7}};
        double[][] b = {{.3, .3, .2, .2}, {.2, .3, .3, .2}, {.2, .2, .3, .3}, {.3, .2, .2, .3}};
        double[] lp = new double[4 * 20 * 4];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 20; j++) {
                double m = j / 19.0;
                for (int c = 0; c < 4; c++) lp[(i * 20 + j) * 4 + c] = Math.log((1 - m) * a[i][c] + m * b[i][c]);
            }
        return lp;
    }

    /** Random log-softmax pool with some exact zeros (-inf), seeded. */
    static double[] randomPool(Random r, int n, int k, int c, boolean zeros) {
        double[] lp = new double[n * k * c];
        for (int i = 0; i < n * k; i++) {
            double[] z = new double[c];
            double s = 0;
            for (int j = 0; j < c; j++) {
                z[j] = zeros && j > 0 && r.nextInt(4) == 0 ? 0 : Math.exp(1.5 * r.nextGaussian());
                s += z[j];
            }
            for (int j = 0; j < c; j++) lp[i * c + j] = Math.log(z[j] / s);
        }
        return lp;
    }

    private static double xlogx(double p) {
        return p > 0 ? p * Math.log(p) : 0;
    }

    /** a(A) by brute force over all c^|A| configurations, in float64. */
    static double objective(double[] lp, int k, int c, int[] set) {
        int total = (int) Math.pow(c, set.length);
        double h = 0;
        for (int cfg = 0; cfg < total; cfg++) {
            double joint = 0;
            for (int kk = 0; kk < k; kk++) {
                double prod = 1;
                int code = cfg;
                for (int i : set) {
                    prod *= Math.exp(lp[(i * k + kk) * c + code % c]);
                    code /= c;
                }
                joint += prod / k;
            }
            h -= xlogx(joint);
        }
        double cond = 0;
        for (int i : set)
            for (int kk = 0; kk < k; kk++)
                for (int j = 0; j < c; j++) cond -= xlogx(Math.exp(lp[(i * k + kk) * c + j])) / k;
        return h - cond;
    }

    private Selection run(double[] lp, int n, int k, int c, Strategy s, int b, int configs, long seed) {
        try (LogProbs pool = LogProbs.ofDoubles(lp, n, k, c)) {
            return acquirer.select(pool, new Acquirer.Request(s, b, configs, 1.0, seed));
        }
    }

    @Test
    void goldenVector1BatchBaldScores() {
        Selection sel = run(golden1(), 4, 20, 4, Strategy.BATCHBALD, 4, 40_000, 0);
        double[] want = {0.030715639666234917, 0.05961958627158248, 0.0869107051474467, 0.11275304532467878};
        for (int i = 0; i < 4; i++) assertEquals(want[i], sel.scores()[i], 1e-9 * want[i], "step " + (i + 1));
    }

    @Test
    void goldenVector2ExactJointEntropies() {
        double[] y1a = {.1, .2, .2, .5}, y1b = {.5, .2, .1, .2}, y2a = {.1, .6, .2, .1}, y2b = {0, .5, .5, 0};
        int k = 20, c = 4, n = 8;
        double[] probs = new double[n * k * c];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++) {
                double m = j / 19.0;
                double[] a = i % 2 == 0 ? y1a : y2a, b = i % 2 == 0 ? y1b : y2b;
                for (int cc = 0; cc < c; cc++) probs[(i * k + j) * c + cc] = (1 - m) * a[cc] + m * b[cc];
            }
        try (Tensor all = Tensor.ofDoubles(cpu, probs, n, k, c);
             Tensor out = Tensor.empty(cpu, Tensor.DType.F64, 1)) {
            Tensor p = onesRow(k);
            for (int i = 0; i < 7; i++) {
                if (i == 3) {
                    Ops.jointEntropy(p, null, all.slice(3, 1), out);
                    assertEquals(4.647885441401176, out.toDoubles()[0], 1e-12);
                }
                Tensor next = Tensor.empty(cpu, Tensor.DType.F64, p.dim(0) * c, k);
                Ops.jointExtend(p, all.slice(i, 1).view(k, c), next);
                p.close();
                p = next;
            }
            Ops.jointEntropy(p, null, all.slice(7, 1), out);
            assertEquals(9.266713, out.toDoubles()[0], 1e-6);
            p.close();
        }
    }

    private Tensor onesRow(int k) {
        double[] ones = new double[k];
        java.util.Arrays.fill(ones, 1);
        return Tensor.ofDoubles(cpu, ones, 1, k);
    }

    @Test
    void goldenVector3PicksTheDuplicatePair() {
        double[] p = {.1, .2, .3, .4, .15, .15, .3, .4, .1, .2, .3, .4, .15, .15, .3, .4, .4, .3, .2, .1, .4, .3, .16, .14};
        double[] lp = new double[p.length];
        for (int i = 0; i < p.length; i++) lp[i] = Math.log(p[i]);
        try (LogProbs pool = LogProbs.ofDoubles(lp, 3, 2, 4)) {
            double[] bald = acquirer.scores(pool, QuarryNative.QY_SCORE_BALD);
            assertArrayEquals(new double[] {0.004309, 0.004309, 0.002788}, bald, 5e-7);
        }
        Selection sel = run(lp, 3, 2, 4, Strategy.BATCHBALD, 2, 40_000, 0);
        assertArrayEquals(new long[] {0, 1}, sel.indices());
        assertEquals(0.008581, sel.scores()[1], 5e-7);
        assertEquals(objective(lp, 2, 4, new int[] {0, 2}), 0.007073, 5e-7);
    }

    @Test
    void exactGreedyMatchesBruteForceEnumeration() {
        Random r = new Random(17);
        for (int trial = 0; trial < 3; trial++) {
            int n = 7 + trial, k = 5 + 2 * trial, c = 2 + trial, b = 3;
            double[] lp = randomPool(r, n, k, c, true);
            Selection sel = run(lp, n, k, c, Strategy.BATCHBALD, b, 40_000, 0);
            int[] chosen = new int[0];
            for (int step = 0; step < b; step++) {
                int best = -1;
                double bestScore = Double.NEGATIVE_INFINITY;
                for (int x = 0; x < n; x++) {
                    final int xx = x;
                    if (java.util.Arrays.stream(chosen).anyMatch(v -> v == xx)) continue;
                    int[] set = java.util.Arrays.copyOf(chosen, chosen.length + 1);
                    set[chosen.length] = x;
                    double a = objective(lp, k, c, set);
                    if (a > bestScore + 1e-12) {
                        bestScore = a;
                        best = x;
                    }
                }
                assertEquals(best, sel.indices()[step], "trial " + trial + " step " + step);
                assertEquals(bestScore, sel.scores()[step], 1e-9 * Math.abs(bestScore) + 1e-15, "trial " + trial + " step " + step);
                chosen = java.util.Arrays.copyOf(chosen, chosen.length + 1);
                chosen[chosen.length - 1] = best;
            }
            for (int step = 1; step < b; step++) assertTrue(sel.scores()[step] >= sel.scores()[step - 1] - 1e-12, "scores increase");
        }
    }

    @Test
    void sampledJointEntropyErrorShrinksLikeOneOverSqrtM() {
        Random r = new Random(5);
        int n = 5, k = 20, c = 10;
        double[] probs = new double[n * k * c];
        double[] lp = randomPool(r, n, k, c, false);
        for (int i = 0; i < lp.length; i++) probs[i] = Math.exp(lp[i]);
        try (Tensor all = Tensor.ofDoubles(cpu, probs, n, k, c);
             Tensor out = Tensor.empty(cpu, Tensor.DType.F64, 1)) {
            Tensor p = onesRow(k);
            for (int i = 0; i < 4; i++) {
                Tensor next = Tensor.empty(cpu, Tensor.DType.F64, p.dim(0) * c, k);
                Ops.jointExtend(p, all.slice(i, 1).view(k, c), next);
                p.close();
                p = next;
            }
            Ops.jointEntropy(p, null, all.slice(4, 1), out);
            double exact = out.toDoubles()[0];
            p.close();
            double[] rms = new double[2];
            int[] configs = {200, 20_000};
            int trials = 12;
            for (int t = 0; t < 2; t++) {
                long s = configs[t] / k;
                double se = 0;
                for (int seed = 0; seed < trials; seed++)
                    try (Tensor ps = Tensor.empty(cpu, Tensor.DType.F64, (int) (s * k), k);
                         Tensor w = Tensor.empty(cpu, Tensor.DType.F64, (int) (s * k))) {
                        Ops.jointSample(all.slice(0, 4), s, seed, 4, ps, w);
                        Ops.jointEntropy(ps, w, all.slice(4, 1), out);
                        se += Math.pow(out.toDoubles()[0] - exact, 2);
                    }
                rms[t] = Math.sqrt(se / trials);
            }
            // 100x the configurations: the error should fall about 10x (notes: about 0.14 and 0.014 nats)
            assertTrue(rms[0] > 0.02 && rms[0] < 0.5, "rms error at M=200: " + rms[0]);
            assertTrue(rms[1] < rms[0] / 4 && rms[1] < 0.05, "rms errors " + rms[0] + " -> " + rms[1]);
        }
    }

    @Test
    void scoresMatchFloat64ReferencesIncludingExactZerosAndEdgeSizes() {
        Random r = new Random(11);
        int[][] shapes = {{9, 7, 5}, {4, 1, 3}, {6, 5, 2}, {3, 13, 11}};
        for (int[] sh : shapes) {
            int n = sh[0], k = sh[1], c = sh[2];
            double[] lp = randomPool(r, n, k, c, true);
            float[] lpf = new float[lp.length];
            for (int i = 0; i < lp.length; i++) lpf[i] = (float) lp[i];
            for (Strategy s : new Strategy[] {Strategy.ENTROPY, Strategy.BALD, Strategy.LEAST_CONFIDENCE, Strategy.MARGIN,
                    Strategy.VARIATION_RATIOS, Strategy.MEAN_STD}) {
                double[] want = reference(lp, n, k, c, s);
                double[] got;
                try (LogProbs pool = LogProbs.ofDoubles(lp, n, k, c)) {
                    got = acquirer.scores(pool, s.scoreKind);
                }
                for (int i = 0; i < n; i++)
                    assertEquals(want[i], got[i], 1e-12 * Math.max(1, Math.abs(want[i])), s.cliName + " point " + i + " shape " + n + "x" + k + "x" + c);
                try (LogProbs pool = LogProbs.ofFloats(lpf, n, k, c)) {
                    got = acquirer.scores(pool, s.scoreKind);
                }
                for (int i = 0; i < n; i++) assertEquals(want[i], got[i], 1e-5, s.cliName + " (f32 input) point " + i);
                if (s == Strategy.BALD)
                    for (double v : got) assertTrue(v >= -1e-12 && v <= Math.log(c) + 1e-12, "BALD in [0, log C]: " + v);
            }
        }
    }

    /** Straight from the table in docs/acquisition.md. */
    static double[] reference(double[] lp, int n, int k, int c, Strategy s) {
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double[] mean = new double[c];
            double condH = 0;
            int[] votes = new int[c];
            for (int kk = 0; kk < k; kk++) {
                int arg = 0;
                for (int j = 0; j < c; j++) {
                    double p = Math.exp(lp[(i * k + kk) * c + j]);
                    mean[j] += p / k;
                    condH -= xlogx(p) / k;
                    if (p > Math.exp(lp[(i * k + kk) * c + arg])) arg = j;
                }
                votes[arg]++;
            }
            double h = 0, max = 0, second = 0, std = 0;
            int mode = 0;
            for (int j = 0; j < c; j++) {
                h -= xlogx(mean[j]);
                if (mean[j] > max) {
                    second = max;
                    max = mean[j];
                } else if (mean[j] > second) second = mean[j];
                mode = Math.max(mode, votes[j]);
                double var = 0;
                for (int kk = 0; kk < k; kk++) var += Math.pow(Math.exp(lp[(i * k + kk) * c + j]) - mean[j], 2) / k;
                std += Math.sqrt(var) / c;
            }
            out[i] = switch (s) {
                case ENTROPY -> h;
                case BALD -> h - condH;
                case LEAST_CONFIDENCE -> 1 - max;
                case MARGIN -> second - max;
                case VARIATION_RATIOS -> 1 - mode / (double) k;
                case MEAN_STD -> std;
                default -> throw new IllegalArgumentException(s.cliName);
            };
        }
        return out;
    }

    @Test
    void poolsStreamedInSmallChunksGiveTheSameSelection() {
        Random r = new Random(23);
        int n = 45, k = 6, c = 3;
        double[] lp = randomPool(r, n, k, c, true);
        Acquirer tiny = new Acquirer(cpu, 7L * k * c * 8, Progress.NONE); // 7 rows per chunk: 7 chunks, last one short
        try (LogProbs pool = LogProbs.ofDoubles(lp, n, k, c)) {
            for (Strategy s : new Strategy[] {Strategy.BATCHBALD, Strategy.MEAN_STD}) {
                Acquirer.Request req = new Acquirer.Request(s, 6, 20, 1.0, 9); // 20 configs: steps 4-6 are sampled
                Selection whole = acquirer.select(pool, req), streamed = tiny.select(pool, req);
                assertArrayEquals(whole.indices(), streamed.indices(), s.cliName);
                assertArrayEquals(whole.scores(), streamed.scores(), 1e-12, s.cliName);
            }
        }
    }

    @Test
    void topBBreaksTiesTowardTheLowerIndex() {
        double[] lp = new double[5 * 2 * 2];
        double[][] rows = {{.5, .5}, {.9, .1}, {.5, .5}, {.9, .1}, {.5, .5}};
        for (int i = 0; i < 5; i++)
            for (int kk = 0; kk < 2; kk++)
                for (int j = 0; j < 2; j++) lp[(i * 2 + kk) * 2 + j] = Math.log(rows[i][j]);
        Selection sel = run(lp, 5, 2, 2, Strategy.ENTROPY, 4, 1, 0);
        assertArrayEquals(new long[] {0, 2, 4, 1}, sel.indices());
    }

    @Test
    void batchOfTheWholePoolAndStochasticStrategiesAreWellFormed() {
        Random r = new Random(2);
        int n = 30, k = 4, c = 3;
        double[] lp = randomPool(r, n, k, c, false);
        Selection all = run(lp, n, k, c, Strategy.BATCHBALD, n, 40_000, 1);
        assertEquals(n, java.util.Arrays.stream(all.indices()).distinct().count(), "N = b picks every point once");
        for (Strategy s : new Strategy[] {Strategy.POWER_BALD, Strategy.SOFTMAX_ENTROPY, Strategy.SOFTRANK_BALD, Strategy.RANDOM}) {
            Selection a = run(lp, n, k, c, s, 10, 1, 42), b = run(lp, n, k, c, s, 10, 1, 42), other = run(lp, n, k, c, s, 10, 1, 43);
            assertArrayEquals(a.indices(), b.indices(), s.cliName + " is seeded");
            assertEquals(10, java.util.Arrays.stream(a.indices()).distinct().count());
            assertFalse(java.util.Arrays.equals(a.indices(), other.indices()), s.cliName + " depends on the seed");
        }
        try (LogProbs pool = LogProbs.ofDoubles(lp, n, k, c)) {
            // beta -> infinity gives plain top-b
            Selection hot = acquirer.select(pool, new Acquirer.Request(Strategy.POWER_BALD, 5, 1, 1e9, 3));
            Selection plain = acquirer.select(pool, new Acquirer.Request(Strategy.BALD, 5, 1, 1, 3));
            assertArrayEquals(plain.indices(), hot.indices());
        }
    }

    @Test
    void invalidLogProbabilitiesAreRefusedWithTheirPosition() {
        double[] lp = randomPool(new Random(1), 3, 2, 2, false);
        lp[5] = Double.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LogProbs.ofDoubles(lp, 3, 2, 2));
        assertTrue(e.getMessage().contains("[1, 0, 1] is NaN"), e.getMessage());
        double[] lp2 = randomPool(new Random(1), 3, 2, 2, false);
        lp2[2] = Math.log(0.9);
        lp2[3] = Math.log(0.9);
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class, () -> LogProbs.ofDoubles(lp2, 3, 2, 2));
        assertTrue(e2.getMessage().contains("row [0, 1] is not a log-softmax output"), e2.getMessage());
        assertThrows(IllegalArgumentException.class, () -> run(randomPool(new Random(1), 3, 2, 2, false), 3, 2, 2, Strategy.BALD, 4, 1, 0));
    }
}
