package dev.quarry.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The contrastive ops through the binding (CPU) against float64 loops written from quarry.h. */
class ContrastiveOpsTest {
    private final Device cpu = Device.cpu();
    private final Random rng = new Random(20260301);

    private float[] uniform(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (2 * rng.nextDouble() - 1);
        return a;
    }

    private float[] unitRows(int rows, int d) {
        float[] a = uniform(rows * d);
        for (int i = 0; i < rows; i++) {
            double s = 0;
            for (int k = 0; k < d; k++) s += (double) a[i * d + k] * a[i * d + k];
            for (int k = 0; k < d; k++) a[i * d + k] = (float) (a[i * d + k] / Math.sqrt(s));
        }
        return a;
    }

    /** max |got - want| / max |want|: gradients are O(1/n), an absolute floor of 1 would hide errors. */
    private static double relToMax(float[] got, double[] want) {
        assertEquals(want.length, got.length);
        double err = 0, scale = 1e-30;
        for (int i = 0; i < want.length; i++) {
            assertFalse(Float.isNaN(got[i]), "NaN at " + i);
            err = Math.max(err, Math.abs(got[i] - want[i]));
            scale = Math.max(scale, Math.abs(want[i]));
        }
        return err / scale;
    }

    private static double dot(double[] a, int i, double[] b, int j, int d) {
        double s = 0;
        for (int k = 0; k < d; k++) s += a[i * d + k] * b[j * d + k];
        return s;
    }

    private static double[] toDoubles(float[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[i];
        return r;
    }

    /** Loss in [0] and dz (scale 1) after it, from the formulas of quarry.h. */
    private static double[] ntxentReference(float[] zf, int n, int d, double tau) {
        int rows = 2 * n;
        double[] z = toDoubles(zf), u = new double[z.length], inv = new double[rows];
        for (int i = 0; i < rows; i++) {
            inv[i] = 1 / Math.max(Math.sqrt(dot(z, i, z, i, d)), 1e-12);
            for (int k = 0; k < d; k++) u[i * d + k] = z[i * d + k] * inv[i];
        }
        double[][] s = new double[rows][rows];
        double[] lse = new double[rows];
        double loss = 0;
        for (int i = 0; i < rows; i++) {
            double m = Double.NEGATIVE_INFINITY, sum = 0;
            for (int j = 0; j < rows; j++) {
                s[i][j] = dot(u, i, u, j, d) / tau;
                if (j != i) m = Math.max(m, s[i][j]);
            }
            for (int j = 0; j < rows; j++) if (j != i) sum += Math.exp(s[i][j] - m);
            lse[i] = m + Math.log(sum);
            loss += (lse[i] - s[i][(i + n) % rows]) / rows;
        }
        double[] out = new double[1 + z.length];
        out[0] = loss;
        for (int i = 0; i < rows; i++) {
            double[] g = new double[d];
            for (int j = 0; j < rows; j++) {
                if (j == i) continue;
                double w = Math.exp(s[i][j] - lse[i]) + Math.exp(s[j][i] - lse[j]) - (j == (i + n) % rows ? 2 : 0);
                for (int k = 0; k < d; k++) g[k] += w * u[j * d + k] / (rows * tau);
            }
            double proj = 0;
            for (int k = 0; k < d; k++) proj += g[k] * u[i * d + k];
            for (int k = 0; k < d; k++) out[1 + i * d + k] = inv[i] * (g[k] - proj * u[i * d + k]);
        }
        return out;
    }

    @ParameterizedTest(name = "n={0} d={1} tau={2}")
    @CsvSource({"2,3,0.5", "3,17,0.1", "7,5,0.07", "11,33,1.0"})
    void ntxentMatchesFloat64(int n, int d, float tau) {
        float[] z = uniform(2 * n * d);
        double[] want = ntxentReference(z, n, d, tau);
        double[] dzWant = java.util.Arrays.copyOfRange(want, 1, want.length);
        try (Scope sc = new Scope()) {
            Tensor tz = sc.of(cpu, z, 2 * n, d), loss = sc.empty(cpu, 1), lse = sc.empty(cpu, 2 * n), inv = sc.empty(cpu, 2 * n);
            Tensor dz = sc.empty(cpu, 2 * n, d);
            Ops.ntxentForward(tz, loss, lse, inv, tau);
            Ops.ntxentBackward(tz, lse, inv, dz, tau, 1f);
            assertEquals(want[0], loss.toFloats()[0], 1e-5 * Math.max(1, Math.abs(want[0])), "loss");
            assertTrue(relToMax(dz.toFloats(), dzWant) < 2e-5, "dz");
        }
    }

    @Test
    void infoNceQueueMatchesFloat64() {
        int n = 5, kq = 23, d = 9;
        float tau = 0.07f;
        float[] q = unitRows(n, d), k = unitRows(n, d), queue = unitRows(kq, d);
        double[] qd = toDoubles(q), kd = toDoubles(k), ud = toDoubles(queue), dqWant = new double[n * d];
        double lossWant = 0;
        for (int i = 0; i < n; i++) {
            double[] logits = new double[kq + 1];
            logits[0] = dot(qd, i, kd, i, d) / tau;
            for (int j = 0; j < kq; j++) logits[j + 1] = dot(qd, i, ud, j, d) / tau;
            double m = java.util.Arrays.stream(logits).max().orElseThrow(), sum = 0;
            for (double l : logits) sum += Math.exp(l - m);
            double lse = m + Math.log(sum);
            lossWant += (lse - logits[0]) / n;
            for (int j = 0; j <= kq; j++) {
                double w = Math.exp(logits[j] - lse) - (j == 0 ? 1 : 0);
                for (int c = 0; c < d; c++) dqWant[i * d + c] += w * (j == 0 ? kd[i * d + c] : ud[(j - 1) * d + c]) / (n * tau);
            }
        }
        try (Scope sc = new Scope()) {
            Tensor tq = sc.of(cpu, q, n, d), tk = sc.of(cpu, k, n, d), tu = sc.of(cpu, queue, kq, d);
            Tensor loss = sc.empty(cpu, 1), lse = sc.empty(cpu, n), dq = sc.empty(cpu, n, d);
            Ops.infoNceQueueForward(tq, tk, tu, loss, lse, tau);
            Ops.infoNceQueueBackward(tq, tk, tu, lse, dq, tau, 1f);
            assertEquals(lossWant, loss.toFloats()[0], 1e-5 * Math.max(1, lossWant), "loss");
            assertTrue(relToMax(dq.toFloats(), dqWant) < 2e-5, "dq");
        }
    }

    @Test
    void momentumUpdateAndEnqueueWrapAround() {
        float[] k = uniform(1001), q = uniform(1001);
        float m = 0.99f;
        try (Scope sc = new Scope()) {
            Tensor tk = sc.of(cpu, k, 1001), tq = sc.of(cpu, q, 1001);
            Ops.momentumUpdate(tk, tq, m);
            float[] got = tk.toFloats();
            for (int i = 0; i < k.length; i++) assertEquals(m * k[i] + (1 - m) * q[i], got[i], 0f, "theta_k[" + i + "]");

            int kq = 6, d = 3;
            float[] queue = uniform(kq * d), keys = uniform(4 * d);
            Tensor tu = sc.of(cpu, queue, kq, d), tkeys = sc.of(cpu, keys, 4, d);
            assertEquals(1, Ops.enqueue(tu, tkeys, 3), "the pointer advances by 4 modulo 6");
            float[] after = tu.toFloats();
            for (int r = 0; r < kq; r++)
                for (int c = 0; c < d; c++) {
                    int slot = (r - 3 + kq) % kq;
                    float expected = slot < 4 ? keys[slot * d + c] : queue[r * d + c];
                    assertEquals(expected, after[r * d + c], 0f, "queue[" + r + "][" + c + "]");
                }
        }
    }

    @Test
    void badShapesAndTemperaturesNameTheOp() {
        try (Scope sc = new Scope()) {
            Tensor odd = sc.empty(cpu, 5, 4), lse = sc.empty(cpu, 5), inv = sc.empty(cpu, 5), loss = sc.empty(cpu, 1);
            QuarryException e = assertThrows(QuarryException.class, () -> Ops.ntxentForward(odd, loss, lse, inv, 0.5f));
            assertTrue(e.getMessage().contains("ntxent_fwd") && e.getMessage().contains("[5, 4]"), e.getMessage());
            Tensor pair = sc.empty(cpu, 2, 4), lse2 = sc.empty(cpu, 2), inv2 = sc.empty(cpu, 2);
            e = assertThrows(QuarryException.class, () -> Ops.ntxentForward(pair, loss, lse2, inv2, 0.5f));
            assertTrue(e.getMessage().contains("n >= 2"), e.getMessage());
            Tensor z = sc.empty(cpu, 6, 4), lse6 = sc.empty(cpu, 6), inv6 = sc.empty(cpu, 6);
            Ops.fill(z, 1f);
            e = assertThrows(QuarryException.class, () -> Ops.ntxentForward(z, loss, lse6, inv6, 0f));
            assertEquals(QuarryNative.QY_ERR_INVALID, e.status());
            assertTrue(e.getMessage().contains("tau"), e.getMessage());
            Tensor q = sc.empty(cpu, 3, 4), queue = sc.empty(cpu, 10, 5), lse3 = sc.empty(cpu, 3);
            e = assertThrows(QuarryException.class, () -> Ops.infoNceQueueForward(q, q, queue, loss, lse3, 0.07f));
            assertTrue(e.getMessage().contains("infonce_queue_fwd") && e.getMessage().contains("[10, 5]"), e.getMessage());
            Tensor a = sc.empty(cpu, 8);
            e = assertThrows(QuarryException.class, () -> Ops.momentumUpdate(a, a, 1.5f));
            assertEquals(QuarryNative.QY_ERR_INVALID, e.status());
        }
    }
}
