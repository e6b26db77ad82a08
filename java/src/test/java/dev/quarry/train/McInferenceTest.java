package dev.quarry.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.Dropout;
import dev.quarry.nn.Linear;
import dev.quarry.nn.MaxPool2x2;
import dev.quarry.nn.Models;
import dev.quarry.nn.Module;
import dev.quarry.nn.Relu;
import dev.quarry.nn.Sequential;
import dev.quarry.util.Progress;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * McInference against the computations it replaces, bit for bit: the whole network once per MC sample, and the
 * former stacked pass (K copies of the prefix output, every layer after the first dropout on them).
 */
class McInferenceTest {
    /** The whole network once per sample k (every dropout on mask index k), log-softmax: [n][K][C]. */
    static float[] perSample(Sequential net, Tensor x, int samples) {
        List<Dropout> drops = dropouts(net);
        int n = x.dim(0);
        float[] out = null;
        for (int k = 0; k < samples; k++) {
            for (Dropout d : drops) d.useMcSample(k);
            try {
                Tensor logits = net.forward(x, false);
                int c = logits.dim(1);
                try (Tensor lp = Tensor.empty(x.device(), n, c)) {
                    Ops.logSoftmaxForward(logits, lp);
                    float[] v = lp.toFloats();
                    if (out == null) out = new float[n * samples * c];
                    for (int i = 0; i < n; i++) System.arraycopy(v, i * c, out, (i * samples + k) * c, c);
                }
            } finally {
                for (Dropout d : drops) d.useMcSample(-1);
            }
        }
        return out;
    }

    /** The stacked pass as McInference ran it before: K copies of the output before the first dropout, then the rest. */
    static float[] formerStacked(Sequential net, Tensor x, int samples) {
        List<Module> layers = net.layers();
        int first = 0;
        while (!(layers.get(first) instanceof Dropout)) first++;
        Sequential prefix = new Sequential(layers.subList(0, first)), suffix = new Sequential(layers.subList(first, layers.size()));
        List<Dropout> drops = dropouts(net);
        int n = x.dim(0);
        Tensor h = prefix.forward(x, false);
        int[] shape = h.shape();
        shape[0] = samples * n;
        try (Tensor stacked = Tensor.empty(x.device(), shape)) {
            for (int k = 0; k < samples; k++) stacked.slice(k * n, n).copyFrom(h);
            for (Dropout d : drops) d.useMcSamples(0, n);
            Tensor logits = suffix.forward(stacked, false);
            int c = logits.dim(1);
            try (Tensor lp = Tensor.empty(x.device(), samples, n, c); Tensor out = Tensor.empty(x.device(), n, samples, c)) {
                Ops.logSoftmaxForward(logits, lp.view(samples * n, c));
                Ops.swap01(lp, out);
                return out.toFloats();
            }
        } finally {
            for (Dropout d : drops) d.useMcSample(-1);
        }
    }

    static List<Dropout> dropouts(Sequential net) {
        return net.layers().stream().filter(m -> m instanceof Dropout).map(m -> (Dropout) m).toList();
    }

    static float[] normal(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextGaussian());
        return v;
    }

    static void assertBitIdentical(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++)
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i]))
                fail(what + ": element " + i + " is " + actual[i] + ", expected " + expected[i]);
    }

    /**
     * Within a few float32 ulps: the same masks and the same math, but OpenBLAS picks its GEMM kernel by size, and
     * for a small GEMM (here the 128 -> 10 layer on one sample's 37 rows; measured: 100 rows differ from the same
     * rows inside a 4,000-row GEMM, 204 rows do not) its small-matrix kernel sums in another order than the kernel
     * the stacked K * n rows get.
     */
    static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++)
            assertEquals(expected[i], actual[i], 2e-6 * Math.max(1, Math.abs(expected[i])), what + ": element " + i);
    }

    @Test
    void convNetSamplesAreBitIdenticalToThePerSampleAndTheFormerStackedComputation() {
        Device cpu = Device.cpu();
        // p = 0.5 (scale 2, exact) and p = 0.3 (scale 1/0.7, rounded): pool and ReLU run before the first dropout
        for (float p : new float[] {0.5f, 0.3f}) {
            int n = 37, k = 6; // 37 * 6 rows: the native ops' OpenMP paths
            try (Sequential net = Models.mnistConvNet(cpu, p, 21); Tensor x = Tensor.of(cpu, normal(n * 28 * 28, 5), n, 28, 28, 1)) {
                McInference mc = new McInference(net);
                assertEquals(3, mc.layersOnce(), "conv, pool and ReLU run once per image");
                float[] fast = mc.logProbs(x, k);
                assertBitIdentical(formerStacked(net, x, k), fast, "p " + p + " against the former stacked pass");
                assertClose(perSample(net, x, k), fast, "p " + p + " against the network once per sample");
                Tensor part = x.slice(11, 20);
                assertBitIdentical(formerStacked(net, part, k), mc.logProbs(part, k), "p " + p + ", a slice, against the former stacked pass");
            }
        }
    }

    @Test
    void slicesOfDifferentSizesReuseTheBuffersAndMatchTheFormerPassSliceBySlice() {
        Device cpu = Device.cpu();
        int n = 80, k = 6, rows = 210; // slices of 35, 35 and 10 inputs through one set of module buffers
        try (Sequential net = Models.mnistConvNet(cpu, 0.5f, 3); Tensor x = Tensor.of(cpu, normal(n * 28 * 28, 9), n, 28, 28, 1)) {
            float[] sliced = new McInference(net).logProbs(x, k, rows);
            int at = 0;
            for (int start = 0; start < n; start += 35) {
                float[] ref = formerStacked(net, x.slice(start, Math.min(35, n - start)), k);
                assertBitIdentical(ref, java.util.Arrays.copyOfRange(sliced, at, at + ref.length), "slice from input " + start);
                at += ref.length;
            }
            assertEquals(sliced.length, at);
        }
    }

    @Test
    void onlyLayersThatCommuteWithTheFirstDropoutAreHoisted() {
        Device cpu = Device.cpu();
        // per-feature dropout on a map: a 2x2 max pool does not commute with it (the mask differs inside a window)
        try (Sequential net = new Sequential(List.of(new Linear(cpu, 5, 16, 1, 0), new Dropout(0.5f, false, 1, 1), new Relu(), new Relu(),
                new Linear(cpu, 16, 3, 1, 1)))) {
            McInference mc = new McInference(net);
            assertEquals(3, mc.layersOnce(), "linear and both ReLUs run once");
            try (Tensor x = Tensor.of(cpu, normal(9 * 5, 2), 9, 5)) {
                float[] lp = mc.logProbs(x, 7);
                assertBitIdentical(formerStacked(net, x, 7), lp, "hoisted ReLUs against the former stacked pass");
                assertClose(perSample(net, x, 7), lp, "hoisted ReLUs against the network once per sample");
            }
        }
        Dropout perFeature = new Dropout(0.5f, false, 1, 1), perChannel = new Dropout(0.5f, true, 1, 1);
        assertFalse(McInference.commutesWith(perFeature, new MaxPool2x2()));
        assertTrue(McInference.commutesWith(perChannel, new MaxPool2x2()));
        assertTrue(McInference.commutesWith(perFeature, new Relu()));
        assertFalse(McInference.commutesWith(perChannel, new Dropout(0.5f, true, 1, 2)));
    }

    @Test
    void aFirstDropoutWithPZeroAndAModelWithoutDropoutStillGiveKSamples() {
        Device cpu = Device.cpu();
        try (Sequential net = new Sequential(List.of(new Linear(cpu, 5, 16, 1, 0), new Dropout(0f, false, 1, 1), new Relu(),
                new Linear(cpu, 16, 8, 1, 1), new Dropout(0.5f, false, 1, 2), new Linear(cpu, 8, 3, 1, 2)));
             Tensor x = Tensor.of(cpu, normal(6 * 5, 4), 6, 5)) {
            float[] lp = new McInference(net).logProbs(x, 5);
            assertBitIdentical(formerStacked(net, x, 5), lp, "p = 0 first dropout against the former stacked pass");
            assertClose(perSample(net, x, 5), lp, "p = 0 first dropout against the network once per sample");
        }
        try (Sequential net = new Sequential(List.of(new Linear(cpu, 5, 4, 1, 0))); Tensor x = Tensor.of(cpu, normal(6 * 5, 4), 6, 5)) {
            float[] lp = new McInference(net).logProbs(x, 3);
            float[] once = perSample(net, x, 1);
            for (int i = 0; i < 6; i++)
                for (int kk = 0; kk < 3; kk++)
                    for (int j = 0; j < 4; j++)
                        assertEquals(Float.floatToRawIntBits(once[i * 4 + j]), Float.floatToRawIntBits(lp[(i * 3 + kk) * 4 + j]), "no dropout");
        }
    }

    @Test
    void logProbsTensorOverAnImageSetMatchesLogProbsOfTheWholeBatch() {
        Device cpu = Device.cpu();
        int n = 50, k = 8;
        float[] pixels = normal(n * 28 * 28, 12);
        int[] labels = new int[n];
        dev.quarry.data.ImageSet data = new dev.quarry.data.ImageSet(pixels, labels, n, 28, 28, 1, 10);
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        try (Sequential net = Models.mnistConvNet(cpu, 0.5f, 8); Tensor x = Tensor.of(cpu, pixels, n, 28, 28, 1)) {
            float[] pool = new McInference(net).logProbs(data, idx, k, cpu, Progress.NONE);
            assertBitIdentical(formerStacked(net, x, k), pool, "pool inference against the former stacked pass");
            assertClose(perSample(net, x, k), pool, "pool inference against the network once per sample");
        }
    }

    @Test
    void stackedDropoutRefusesABackwardPass() {
        Device cpu = Device.cpu();
        try (Dropout d = new Dropout(0.5f, true, 1, 1); Tensor x = Tensor.of(cpu, normal(2 * 4 * 4 * 3, 1), 2, 4, 4, 3)) {
            Tensor y = d.forwardMcStacked(x, 3);
            assertArrayEquals(new int[] {6, 4, 4, 3}, y.shape());
            assertThrows(IllegalStateException.class, () -> d.backward(y));
        }
    }
}
