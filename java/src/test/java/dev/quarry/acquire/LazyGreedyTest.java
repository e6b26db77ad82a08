package dev.quarry.acquire;

import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.engine.Device;
import dev.quarry.util.Progress;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Lazy greedy BatchBALD (Greedy.LAZY) against full greedy: identical picks and scores while the joint entropy is
 * exact, on random pools of several sizes, with and without exact ties (duplicated points), in one and in many
 * blocks, resident and streamed; and a measurement of how often they disagree once the joint is sampled.
 */
class LazyGreedyTest {
    private final Device cpu = Device.cpu();

    private Selection run(double[] lp, int n, int k, int c, int b, int configs, Greedy g, int block, int chunkRows, long seed) {
        try (LogProbs pool = LogProbs.ofDoubles(lp, n, k, c)) {
            return new BatchBald(cpu, chunkRows, Progress.NONE, block, BatchBald.DEFAULT_SLACK_SIGMAS)
                    .run(pool, new Acquirer.Request(Strategy.BATCHBALD, b, configs, 1.0, seed, g), new LinkedHashMap<>());
        }
    }

    /** Copies point src's rows over point dst. */
    private static void duplicate(double[] lp, int k, int c, int src, int dst) {
        System.arraycopy(lp, src * k * c, lp, dst * k * c, k * c);
    }

    private static long evaluations(Selection s) {
        long e = 0;
        for (Map<String, Object> st : s.steps()) e += ((Number) st.get("evaluated")).longValue();
        return e;
    }

    private void assertSame(Selection full, Selection lazy, String what) {
        assertArrayEquals(full.indices(), lazy.indices(), what + ": picks");
        assertArrayEquals(full.scores(), lazy.scores(), 1e-9, what + ": scores");
    }

    @Test
    void lazyEqualsFullWhileTheJointIsExact() {
        int[][] shapes = {{7, 5, 3, 5}, {40, 8, 4, 5}, {300, 10, 3, 6}, {1000, 20, 10, 4}, {2500, 12, 5, 5}}; // n, k, c, b
        int cases = 0;
        for (int[] sh : shapes) {
            int n = sh[0], k = sh[1], c = sh[2], b = sh[3];
            int configs = (int) Math.pow(c, b - 1); // exact at every step, nothing to spare
            for (int seed = 0; seed < 3; seed++) {
                Random r = new Random(1000L * n + seed);
                double[] lp = AcquisitionTest.randomPool(r, n, k, c, seed == 1);
                Selection full = run(lp, n, k, c, b, configs, Greedy.FULL, 512, n, seed);
                for (int block : new int[] {1, 3, 64, 512}) {
                    String what = "n=" + n + " k=" + k + " c=" + c + " b=" + b + " seed=" + seed + " block=" + block;
                    Selection lazy = run(lp, n, k, c, b, configs, Greedy.LAZY, block, n, seed);
                    assertSame(full, lazy, what);
                    for (Map<String, Object> st : lazy.steps()) assertNotEquals("sampled", st.get("joint"), what);
                    cases++;
                }
                // streamed in small chunks: the gather uploads runs of rows instead of copying resident ones
                assertSame(full, run(lp, n, k, c, b, configs, Greedy.LAZY, 16, Math.max(1, n / 7), seed), "streamed n=" + n);
            }
        }
        assertTrue(cases >= 60);
    }

    @Test
    void lazyEqualsFullWithExactTies() {
        int n = 400, k = 10, c = 4, b = 6, configs = 1024; // 4^5 = 1024: exact through step 6
        for (int seed = 0; seed < 4; seed++) {
            Random r = new Random(77 + seed);
            double[] lp = AcquisitionTest.randomPool(r, n, k, c, false);
            // the top-BALD point copied to several indices (some below it, some above), plus random duplicates
            double[] bald = new double[n];
            try (LogProbs pool = LogProbs.ofDoubles(lp, n, k, c)) {
                bald = new Acquirer(cpu, 64 << 20, Progress.NONE).scores(pool, dev.quarry.engine.QuarryNative.QY_SCORE_BALD);
            }
            int top = TopB.argmax(bald, null);
            for (int d : new int[] {0, 5, n / 2, n - 1}) if (d != top) duplicate(lp, k, c, top, d);
            for (int i = 0; i < 60; i++) duplicate(lp, k, c, r.nextInt(n), r.nextInt(n));
            Selection full = run(lp, n, k, c, b, configs, Greedy.FULL, 512, n, seed);
            for (int block : new int[] {1, 2, 7, 512})
                assertSame(full, run(lp, n, k, c, b, configs, Greedy.LAZY, block, n, seed), "seed=" + seed + " block=" + block);
        }
    }

    @Test
    void lazyEqualsFullOnAPoolOfIdenticalPoints() {
        int n = 50, k = 6, c = 3, b = 5;
        double[] lp = AcquisitionTest.randomPool(new Random(5), n, k, c, false);
        for (int i = 1; i < n; i++) duplicate(lp, k, c, 0, i);
        Selection full = run(lp, n, k, c, b, 81, Greedy.FULL, 512, n, 0);
        assertArrayEquals(new long[] {0, 1, 2, 3, 4}, full.indices());
        for (int block : new int[] {1, 4, 512}) assertSame(full, run(lp, n, k, c, b, 81, Greedy.LAZY, block, n, 0), "block=" + block);
    }

    @Test
    void goldenVector1IsTheSameLazily() {
        Selection lazy = run(AcquisitionTest.golden1(), 4, 20, 4, 4, 40_000, Greedy.LAZY, 1, 4, 0);
        double[] want = {0.030715639666234917, 0.05961958627158248, 0.0869107051474467, 0.11275304532467878};
        for (int i = 0; i < 4; i++) assertEquals(want[i], lazy.scores()[i], 1e-9 * want[i], "step " + (i + 1));
    }

    /**
     * A pool with per-point structure, as `quarry bench acquire` draws it: logits N(mu_n, 1.5^2) per MC sample with
     * mu_n ~ U(0, 3)^c per point, so confidence varies across points (an i.i.d. pool without mu_n has nearly equal
     * BALD scores everywhere, and then no search can prune).
     */
    static double[] structuredPool(Random r, int n, int k, int c) {
        double[] lp = new double[n * k * c];
        double[] mu = new double[c], z = new double[c];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < c; j++) mu[j] = 3 * r.nextDouble();
            for (int kk = 0; kk < k; kk++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < c; j++) max = Math.max(max, z[j] = mu[j] + 1.5 * r.nextGaussian());
                for (int j = 0; j < c; j++) sum += Math.exp(z[j] - max);
                for (int j = 0; j < c; j++) lp[(i * k + kk) * c + j] = z[j] - max - Math.log(sum);
            }
        }
        return lp;
    }

    /**
     * A pool from a shared random model, as MC dropout gives: point i has features f_i ~ N(0, I_d), MC sample k has
     * weights W_k = W + 0.7 E_k (c x d, shared by every point), logits W_k f_i. Points that look alike now carry
     * correlated labels, unlike structuredPool's independent noise.
     */
    static double[] sharedModelPool(Random r, int n, int k, int c, int d) {
        double[][][] w = new double[k][c][d];
        double[][] base = new double[c][d];
        for (double[] row : base) for (int j = 0; j < d; j++) row[j] = r.nextGaussian();
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < c; j++)
                for (int e = 0; e < d; e++) w[kk][j][e] = base[j][e] + 0.7 * r.nextGaussian();
        double[] lp = new double[n * k * c], f = new double[d], z = new double[c];
        for (int i = 0; i < n; i++) {
            for (int e = 0; e < d; e++) f[e] = r.nextGaussian();
            for (int kk = 0; kk < k; kk++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < c; j++) {
                    z[j] = 0;
                    for (int e = 0; e < d; e++) z[j] += w[kk][j][e] * f[e];
                    max = Math.max(max, z[j]);
                }
                for (int j = 0; j < c; j++) sum += Math.exp(z[j] - max);
                for (int j = 0; j < c; j++) lp[(i * k + kk) * c + j] = z[j] - max - Math.log(sum);
            }
        }
        return lp;
    }

    /**
     * Candidate evaluations (deterministic counts) on two kinds of pool, exact regime. Lazy never scores more than
     * full, and step 2 needs one block; how much later steps save depends on the pool (printed; see README).
     */
    @Test
    void lazyEvaluatesFewerCandidates() {
        int n = 4000, k = 20, c = 5, b = 6;
        String[] names = {"structured (bench) pool", "shared-model pool"};
        double[][] pools = {structuredPool(new Random(3), n, k, c), sharedModelPool(new Random(4), n, k, c, 8)};
        for (int i = 0; i < 2; i++) {
            Selection full = run(pools[i], n, k, c, b, 3125, Greedy.FULL, 512, n, 0);
            Selection lazy = run(pools[i], n, k, c, b, 3125, Greedy.LAZY, 256, n, 0);
            assertSame(full, lazy, names[i]);
            long ef = evaluations(full), el = evaluations(lazy);
            StringBuilder per = new StringBuilder();
            for (Map<String, Object> st : lazy.steps()) per.append(' ').append(st.get("evaluated"));
            System.out.printf("lazyEvaluatesFewerCandidates, %s (n=%d k=%d c=%d b=%d): full %d evaluations, lazy %d (per step:%s)%n",
                    names[i], n, k, c, b, ef, el, per);
            assertEquals((long) n * b, ef);
            assertTrue(el < ef, names[i]);
            assertEquals(256, ((Number) lazy.steps().get(1).get("evaluated")).intValue(), names[i] + ": step 2 in one block");
        }
    }

    /** a(A) by enumerating all c^|A| configurations, in float64: AcquisitionTest's reference for a long[] set. */
    static double exactObjective(double[] lp, int k, int c, long[] set) {
        return AcquisitionTest.objective(lp, k, c, java.util.Arrays.stream(set).mapToInt(i -> (int) i).toArray());
    }

    /**
     * Sampled regime (c^|A| > M from step 4 on): lazy and full may disagree, because bounds come from other
     * samples. Measures, over seeded pools, how often the batches differ and the exact I(y_A; w) of both.
     */
    @Test
    void sampledRegimeDisagreementIsRareAndCheap() {
        int n = 300, k = 20, c = 3, b = 7, configs = 40; // exact for |A| <= 3 (27 <= 40); steps 5-7 sampled, M' = 40
        int trials = 12, differ = 0, stepsDiffer = 0;
        double sumDelta = 0, worst = 0, sumFull = 0;
        long evalFull = 0, evalLazy = 0;
        int seedDiffer = 0; // baseline: full greedy against itself with another sampling seed
        double seedDelta = 0;
        for (int t = 0; t < trials; t++) {
            double[] lp = AcquisitionTest.randomPool(new Random(500 + t), n, k, c, false);
            Selection full = run(lp, n, k, c, b, configs, Greedy.FULL, 512, n, t);
            Selection lazy = run(lp, n, k, c, b, configs, Greedy.LAZY, 32, n, t);
            evalFull += evaluations(full);
            evalLazy += evaluations(lazy);
            if (!java.util.Arrays.equals(full.indices(), lazy.indices())) differ++;
            for (int i = 0; i < b; i++) if (full.indices()[i] != lazy.indices()[i]) stepsDiffer++;
            double af = exactObjective(lp, k, c, full.indices()), al = exactObjective(lp, k, c, lazy.indices());
            sumFull += af;
            long[] other = run(lp, n, k, c, b, configs, Greedy.FULL, 512, n, t + 1000).indices();
            if (!java.util.Arrays.equals(full.indices(), other)) seedDiffer++;
            seedDelta += exactObjective(lp, k, c, other) - af;
            sumDelta += al - af;
            worst = Math.max(worst, (af - al) / af);
        }
        System.out.printf("sampled regime: %d/%d batches differ (%d of %d picks); exact a(A) full mean %.6f, lazy - full mean %.3e,"
                + " worst relative loss %.3e; evaluations full %d lazy %d; baseline full vs full with another seed: %d/%d differ,"
                + " mean delta %.3e%n", differ, trials, stepsDiffer, trials * b, sumFull / trials,
                sumDelta / trials, worst, evalFull, evalLazy, seedDiffer, trials, seedDelta / trials);
        assertTrue(worst < 0.05, "lazy lost " + worst + " of the exact objective somewhere");
    }
}
