package dev.quarry.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** CPU ops through the binding against naive float64 loops written from quarry.h, on random odd shapes. */
class OpsReferenceTest {
    private final Device cpu = Device.cpu();
    private final Random rng = new Random(20261123);

    private float[] randn(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) rng.nextGaussian();
        return a;
    }

    /** max |got - want| / max(1, max |want|). */
    private static double relErr(float[] got, double[] want) {
        assertEquals(want.length, got.length);
        double err = 0, scale = 1;
        for (int i = 0; i < want.length; i++) {
            assertFalse(Float.isNaN(got[i]), "NaN at " + i);
            err = Math.max(err, Math.abs(got[i] - want[i]));
            scale = Math.max(scale, Math.abs(want[i]));
        }
        return err / scale;
    }

    @ParameterizedTest(name = "n={0} h={1} w={2} cin={3} cout={4} k={5} stride={6} pad={7}")
    @CsvSource({"2,7,5,3,4,3,1,1", "3,9,6,1,5,5,2,2", "1,8,8,6,3,1,1,0", "2,6,7,4,2,3,2,0", "1,5,5,2,3,1,2,1"})
    void conv2dForwardAndBackwardMatchFloat64(int n, int h, int w, int cin, int cout, int k, int s, int p) {
        Ops.Conv g = Ops.Conv.square(k, s, p);
        int ho = (h + 2 * p - k) / s + 1, wo = (w + 2 * p - k) / s + 1;
        float[] x = randn(n * h * w * cin), wt = randn(cout * k * k * cin), b = randn(cout), dy = randn(n * ho * wo * cout);
        double[] y = new double[n * ho * wo * cout], dx = new double[x.length], dw = new double[wt.length], db = new double[cout];
        for (int i = 0; i < n; i++)
            for (int oy = 0; oy < ho; oy++)
                for (int ox = 0; ox < wo; ox++)
                    for (int co = 0; co < cout; co++) {
                        int yi = ((i * ho + oy) * wo + ox) * cout + co;
                        double acc = b[co];
                        db[co] += dy[yi];
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int iy = oy * s - p + ky, ix = ox * s - p + kx;
                                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                for (int ci = 0; ci < cin; ci++) {
                                    int xi = ((i * h + iy) * w + ix) * cin + ci, wi = ((co * k + ky) * k + kx) * cin + ci;
                                    acc += (double) x[xi] * wt[wi];
                                    dx[xi] += (double) dy[yi] * wt[wi];
                                    dw[wi] += (double) dy[yi] * x[xi];
                                }
                            }
                        y[yi] = acc;
                    }
        try (Scope sc = new Scope()) {
            Tensor tx = sc.of(cpu, x, n, h, w, cin), tw = sc.of(cpu, wt, cout, k, k, cin), tb = sc.of(cpu, b, cout);
            Tensor ty = sc.empty(cpu, n, ho, wo, cout), tdy = sc.of(cpu, dy, n, ho, wo, cout);
            Tensor tdx = sc.empty(cpu, n, h, w, cin), tdw = sc.empty(cpu, cout, k, k, cin), tdb = sc.empty(cpu, cout);
            Ops.conv2dForward(tx, tw, tb, ty, g);
            Ops.conv2dBackwardData(tdy, tw, tdx, g);
            Ops.conv2dBackwardFilter(tx, tdy, tdw, tdb, g);
            assertTrue(relErr(ty.toFloats(), y) < 1e-5, "y");
            assertTrue(relErr(tdx.toFloats(), dx) < 1e-5, "dx");
            assertTrue(relErr(tdw.toFloats(), dw) < 1e-5, "dw");
            assertTrue(relErr(tdb.toFloats(), db) < 1e-5, "db");
        }
    }

    @Test
    void linearMatchesFloat64() {
        int n = 7, in = 13, out = 5;
        float[] x = randn(n * in), wt = randn(out * in), b = randn(out), dy = randn(n * out);
        double[] y = new double[n * out], dx = new double[n * in], dw = new double[out * in], db = new double[out];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) {
                double acc = b[o];
                for (int j = 0; j < in; j++) {
                    acc += (double) x[i * in + j] * wt[o * in + j];
                    dx[i * in + j] += (double) dy[i * out + o] * wt[o * in + j];
                    dw[o * in + j] += (double) dy[i * out + o] * x[i * in + j];
                }
                y[i * out + o] = acc;
                db[o] += dy[i * out + o];
            }
        try (Scope sc = new Scope()) {
            Tensor tx = sc.of(cpu, x, n, in), tw = sc.of(cpu, wt, out, in), tb = sc.of(cpu, b, out), tdy = sc.of(cpu, dy, n, out);
            Tensor ty = sc.empty(cpu, n, out), tdx = sc.empty(cpu, n, in), tdw = sc.empty(cpu, out, in), tdb = sc.empty(cpu, out);
            Ops.linearForward(tx, tw, tb, ty);
            Ops.linearBackwardData(tdy, tw, tdx);
            Ops.linearBackwardWeight(tx, tdy, tdw, tdb);
            assertTrue(relErr(ty.toFloats(), y) < 1e-5);
            assertTrue(relErr(tdx.toFloats(), dx) < 1e-5);
            assertTrue(relErr(tdw.toFloats(), dw) < 1e-5);
            assertTrue(relErr(tdb.toFloats(), db) < 1e-5);
        }
    }

    @Test
    void batchNormTrainingForwardBackwardAndRunningStatsMatchFloat64() {
        int m = 37, c = 5;
        float mom = 0.1f, eps = 1e-5f;
        float[] x = randn(m * c), gamma = randn(c), beta = randn(c), dy = randn(m * c);
        for (int i = 0; i < x.length; i++) x[i] = 3f + 2f * x[i];
        double[] y = new double[m * c], dx = new double[m * c], dg = new double[c], dbt = new double[c], rm = new double[c], rv = new double[c];
        for (int j = 0; j < c; j++) {
            double mean = 0, var = 0;
            for (int r = 0; r < m; r++) mean += x[r * c + j];
            mean /= m;
            for (int r = 0; r < m; r++) var += Math.pow(x[r * c + j] - mean, 2);
            var /= m;
            double inv = 1 / Math.sqrt(var + eps), sdy = 0, sdyx = 0;
            for (int r = 0; r < m; r++) {
                double xh = (x[r * c + j] - mean) * inv;
                y[r * c + j] = gamma[j] * xh + beta[j];
                sdy += dy[r * c + j];
                sdyx += dy[r * c + j] * xh;
            }
            dg[j] = sdyx;
            dbt[j] = sdy;
            for (int r = 0; r < m; r++) {
                double xh = (x[r * c + j] - mean) * inv;
                dx[r * c + j] = gamma[j] * inv / m * (m * dy[r * c + j] - sdy - xh * sdyx);
            }
            rm[j] = mom * mean;
            rv[j] = (1 - mom) + mom * var * m / (m - 1);
        }
        try (Scope sc = new Scope()) {
            Tensor tx = sc.of(cpu, x, m, c), tg = sc.of(cpu, gamma, c), tb = sc.of(cpu, beta, c), ty = sc.empty(cpu, m, c);
            Tensor sm = sc.empty(cpu, c), si = sc.empty(cpu, c), trm = sc.track(Tensor.zeros(cpu, c)), trv = sc.empty(cpu, c);
            Ops.fill(trv, 1f);
            Ops.batchNormForwardTrain(tx, tg, tb, ty, sm, si, trm, trv, mom, eps);
            Tensor tdy = sc.of(cpu, dy, m, c), tdx = sc.empty(cpu, m, c), tdg = sc.empty(cpu, c), tdb = sc.empty(cpu, c);
            Ops.batchNormBackward(tx, tdy, tg, sm, si, tdx, tdg, tdb);
            assertTrue(relErr(ty.toFloats(), y) < 1e-5, "y");
            assertTrue(relErr(trm.toFloats(), rm) < 1e-5, "running mean");
            assertTrue(relErr(trv.toFloats(), rv) < 1e-5, "running var");
            assertTrue(relErr(tdx.toFloats(), dx) < 1e-4, "dx");
            assertTrue(relErr(tdg.toFloats(), dg) < 1e-5, "dgamma");
            assertTrue(relErr(tdb.toFloats(), dbt) < 1e-5, "dbeta");
        }
    }

    @Test
    void dropoutMasksDependOnSampleAndUnitButNotOnTheData() {
        int rows = 6, spatial = 3, units = 40;
        float p = 0.3f;
        float[] x = randn(rows * spatial * units);
        for (int i = 0; i < x.length; i++) x[i] = Math.abs(x[i]) + 0.5f;
        try (Scope sc = new Scope()) {
            Tensor tx = sc.of(cpu, x, rows, spatial, units), ty = sc.empty(cpu, rows, spatial, units);
            // rows 0-2 share mask index 10, rows 3-5 use 11
            Ops.dropout(tx, ty, spatial, p, 99, 4, 10, 3);
            float[] y = ty.toFloats();
            int kept = 0;
            for (int r = 0; r < rows; r++)
                for (int s = 0; s < spatial; s++)
                    for (int u = 0; u < units; u++) {
                        int i = (r * spatial + s) * units + u;
                        boolean keep = y[i] != 0f;
                        if (keep) {
                            assertEquals(x[i] / (1f - p), y[i], 1e-6f);
                            kept++;
                        }
                        boolean ref = y[((r / 3) * 3 * spatial) * units + u] != 0f; // first row and position of this k
                        assertEquals(ref, keep, "mask broadcast over spatial and shared by rows with one k");
                    }
            boolean differ = false;
            for (int u = 0; u < units; u++) differ |= (y[u] != 0f) != (y[3 * spatial * units + u] != 0f);
            assertTrue(differ, "different k give different masks");
            assertTrue(kept > 0.45 * y.length && kept < 0.95 * y.length, "kept fraction " + kept / (double) y.length);
        }
    }

    @Test
    void wrongShapesNameTheOpAndTheShapes() {
        try (Scope sc = new Scope()) {
            Tensor x = sc.empty(cpu, 2, 7, 5, 3), w = sc.empty(cpu, 4, 3, 3, 2), y = sc.empty(cpu, 2, 7, 5, 4);
            QuarryException e = assertThrows(QuarryException.class, () -> Ops.conv2dForward(x, w, null, y, Ops.Conv.square(3, 1, 1)));
            assertTrue(e.getMessage().startsWith("conv2d_fwd: input channels of x and w differ"), e.getMessage());
            assertTrue(e.getMessage().contains("f32[2, 7, 5, 3] on cpu") && e.getMessage().contains("f32[4, 3, 3, 2] on cpu"), e.getMessage());
            Tensor a = sc.empty(cpu, 3), b = sc.empty(cpu, 4);
            assertThrows(QuarryException.class, () -> Ops.add(a, b, a));
            Tensor lp = sc.empty(cpu, 4, 3), labels = sc.track(Tensor.ofInts(cpu, new int[] {0, 1, 2}, 3)), loss = sc.empty(cpu, 1);
            QuarryException e2 = assertThrows(QuarryException.class, () -> Ops.nllForward(lp, labels, loss, 0f));
            assertTrue(e2.getMessage().contains("labels must be i32 [n]"), e2.getMessage());
            Tensor xs = sc.empty(cpu, 2, 4);
            QuarryException e3 = assertThrows(QuarryException.class, () -> Ops.dropout(xs, xs, 1, 1.0f, 0, 0, 0, 1));
            assertTrue(e3.getMessage().startsWith("dropout: qy_dropout: p must be in [0, 1)"), e3.getMessage());
        }
    }
}
