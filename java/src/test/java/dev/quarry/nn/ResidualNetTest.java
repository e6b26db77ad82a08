package dev.quarry.nn;

import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** A 2-block residual network composed in Java from the native ops, on the CPU backend. */
class ResidualNetTest {
    private final Device cpu = Device.cpu();

    private static Sequential twoBlockNet(Device d, long seed) {
        // stem 3->8, block 8->8 (identity shortcut), block 8->16 stride 2 (projection shortcut), pool, linear
        return ResNet.build(d, 3, 4, new int[] {8, 16}, new int[] {1, 1}, seed);
    }

    private static float[] randn(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    @Test
    void overfitsATinyRandomBatch() {
        Random r = new Random(7);
        int n = 8;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = r.nextInt(4);
        try (Sequential net = twoBlockNet(cpu, 11);
             Tensor x = Tensor.of(cpu, randn(r, n * 9 * 7 * 3), n, 9, 7, 3);
             Tensor y = Tensor.ofInts(cpu, labels, n);
             CrossEntropyLoss loss = new CrossEntropyLoss(0f);
             Adam opt = Adam.standard(net.params(), 1e-2f)) {
            float first = Float.NaN, last = Float.NaN;
            for (int step = 0; step < 80; step++) {
                last = loss.forward(net.forward(x, true), y);
                if (step == 0) first = last;
                net.backward(loss.backward());
                opt.step();
            }
            assertTrue(Float.isFinite(first) && first > 0.5f, "initial loss " + first);
            assertTrue(last < first / 10, "loss fell from " + first + " to " + last + ", not by 10x");
        }
    }

    @Test
    void gradientsMatchCentralFiniteDifferences() {
        Random r = new Random(3);
        int n = 4;
        int[] labels = {0, 3, 1, 2};
        try (Sequential net = twoBlockNet(cpu, 5);
             Tensor x = Tensor.of(cpu, randn(r, n * 6 * 6 * 3), n, 6, 6, 3);
             Tensor y = Tensor.ofInts(cpu, labels, n);
             CrossEntropyLoss loss = new CrossEntropyLoss(0.1f)) {
            loss.forward(net.forward(x, true), y);
            net.backward(loss.backward());
            List<Param> params = net.params();
            int checked = 0;
            for (int pi = 0; pi < params.size(); pi += 3) {
                Param p = params.get(pi);
                float[] grad = p.grad().toFloats();
                float[] value = p.value().toFloats();
                for (int t = 0; t < 3; t++) {
                    int i = r.nextInt(value.length);
                    float h = 1e-3f * Math.max(1f, Math.abs(value[i]));
                    float saved = value[i];
                    value[i] = saved + h;
                    p.value().upload(value);
                    double lp = loss.forward(net.forward(x, true), y);
                    value[i] = saved - h;
                    p.value().upload(value);
                    double lm = loss.forward(net.forward(x, true), y);
                    value[i] = saved;
                    p.value().upload(value);
                    double fd = (lp - lm) / (2 * h);
                    // h = 1e-3: float32 round-off is ~1e-4 here; larger steps cross ReLU kinks (measured 10% off at 1e-2)
                    assertEquals(fd, grad[i], 2e-4 + 2e-2 * Math.abs(fd), p.name() + "[" + i + "]");
                    checked++;
                }
            }
            assertTrue(checked >= 12, "checked " + checked + " coordinates");
        }
    }

    @Test
    void batchNormEvalModeUsesRunningStatistics() {
        Random r = new Random(9);
        try (BatchNorm2d bn = new BatchNorm2d(cpu, 3, 0);
             Tensor x = Tensor.of(cpu, randn(r, 5 * 2 * 2 * 3), 5, 2, 2, 3)) {
            float[] fresh = bn.forward(x, false).toFloats();
            float[] xs = x.toFloats();
            for (int i = 0; i < xs.length; i++) assertEquals(xs[i] / Math.sqrt(1 + 1e-5), fresh[i], 1e-5);
            bn.forward(x, true);
            float[] rm = bn.buffers().get(0).toFloats();
            for (float v : rm) assertNotEquals(0f, v);
        }
    }

    @Test
    void dropoutMcSamplesAreConsistentAcrossInputs() {
        Random r = new Random(5);
        try (Dropout drop = new Dropout(0.5f, false, 77, 2);
             Tensor a = Tensor.of(cpu, randn(r, 2 * 32), 2, 32);
             Tensor b = Tensor.of(cpu, randn(r, 3 * 32), 3, 32)) {
            drop.useMcSample(4);
            float[] ya = drop.forward(a, false).toFloats();
            float[] yb = drop.forward(b, false).toFloats();
            drop.useMcSample(5);
            float[] yc = drop.forward(a, false).toFloats();
            boolean differ = false;
            for (int u = 0; u < 32; u++) {
                assertEquals(ya[u] == 0f, yb[u] == 0f, "same k, same mask for different inputs");
                assertEquals(ya[u] == 0f, yb[2 * 32 + u] == 0f, "same k, same mask for every row");
                differ |= (ya[u] == 0f) != (yc[u] == 0f);
            }
            assertTrue(differ, "different k give different masks");
            drop.useMcSample(-1);
            assertSame(a, drop.forward(a, false), "no dropout at evaluation outside MC sampling");
        }
    }
}
