package dev.quarry.train;

import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.data.ImageSet;
import dev.quarry.data.Mnist;
import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.Adam;
import dev.quarry.nn.Dropout;
import dev.quarry.nn.Linear;
import dev.quarry.nn.Models;
import dev.quarry.nn.Module;
import dev.quarry.nn.Sequential;
import dev.quarry.util.Progress;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class TrainerTest {
    @Test
    void schedulesFollowTheirFormulas() {
        float base = 0.1f;
        Schedule cos = Schedule.parse("cosine");
        assertEquals(0.1, cos.at(base, 0, 100), 1e-7);
        assertEquals(0.05, cos.at(base, 50, 100), 1e-7);
        assertEquals(0.1 * 0.5 * (1 + Math.cos(Math.PI * 0.3)), cos.at(base, 30, 100), 1e-7);
        Schedule warm = cos.withWarmup(10);
        assertEquals(0.01, warm.at(base, 0, 110), 1e-7, "linear warm-up from base/10 at the first step");
        assertEquals(0.1, warm.at(base, 9, 110), 1e-7);
        assertEquals(0.05, warm.at(base, 60, 110), 1e-7);
        Schedule step = Schedule.parse("step").withStep(30, 0.1);
        assertEquals(0.1, step.at(base, 29, 100), 1e-7);
        assertEquals(0.01, step.at(base, 30, 100), 1e-8);
        assertEquals(0.001, step.at(base, 61, 100), 1e-9);
        Schedule one = Schedule.parse("onecycle");
        assertEquals(0.1 / 25, one.at(base, 0, 100), 1e-8, "one-cycle starts at base / 25");
        assertEquals(0.1, one.at(base, 30, 100), 1e-7, "peaks after pct_start = 0.3");
        assertEquals(0.1 / 25 / 1e4, one.at(base, 100, 100), 1e-10, "ends at base / 25e4");
        assertTrue(one.at(base, 15, 100) > 0.04 && one.at(base, 15, 100) < 0.06, "half-way up the cosine ramp");
        assertThrows(IllegalArgumentException.class, () -> Schedule.parse("exponential"));
    }

    @Test
    void earlyStoppingRestoresTheBestWeightsAndEpochsDrawWithReplacement() throws IOException {
        Device cpu = Device.cpu();
        ImageSet data = Mnist.shippedTestSet(Path.of("datasets"));
        int[] train = new int[40], val = new int[300];
        for (int i = 0; i < train.length; i++) train[i] = i;
        for (int i = 0; i < val.length; i++) val[i] = 1000 + i;
        // a learning rate high enough that validation accuracy rises and falls, so stopping has work to do
        TrainConfig cfg = new TrainConfig("adam", 3e-3f, 0f, 0f, false, 0f, 16, 12, 160, Schedule.constant(), 0, 2, -1);
        try (Sequential net = Models.mnistConvNet(cpu, 0.5f, 5); var opt = cfg.newOptimizer(net.params())) {
            Trainer.FitResult fit = Trainer.fit(net, opt, cfg, data, train, data, val, 9, cpu, Progress.NONE);
            assertEquals(fit.epochs() * 10L, fit.steps(), "160 draws per epoch at batch 16 = 10 steps, whatever the set size");
            assertTrue(fit.bestEpoch() >= 1 && fit.bestEpoch() <= fit.epochs());
            if (fit.epochs() < 12) assertEquals(fit.bestEpoch() + 2, fit.epochs(), "stopped after patience epochs without improvement");
            assertEquals(fit.bestValAccuracy(), Evaluation.accuracy(net, data, val, cpu), 0.0, "the kept weights are the best epoch's");
            assertTrue(fit.bestValAccuracy() > 0.3, "40 labels already beat chance: " + fit.bestValAccuracy());
        }
    }

    @Test
    void trainingIsAFunctionOfTheSeed() throws IOException {
        Device cpu = Device.cpu();
        ImageSet data = Mnist.shippedTestSet(Path.of("datasets"));
        int[] train = new int[100];
        for (int i = 0; i < train.length; i++) train[i] = 3 * i;
        TrainConfig cfg = new TrainConfig("adam", 1e-3f, 0f, 0f, false, 0f, 32, 2, 64, Schedule.parse("cosine"), 1, 0, -1);
        float[][] w = new float[3][];
        long[] seeds = {4, 4, 5};
        for (int t = 0; t < 3; t++)
            try (Sequential net = Models.mnistConvNet(cpu, 0.5f, 1); var opt = cfg.newOptimizer(net.params())) {
                Trainer.fit(net, opt, cfg, data, train, null, null, seeds[t], cpu, Progress.NONE);
                w[t] = net.params().get(0).value().toFloats();
            }
        assertArrayEquals(w[0], w[1], "same seed, same weights");
        assertFalse(java.util.Arrays.equals(w[0], w[2]), "another seed draws other samples and masks");
    }

    /** Counts forward calls of the layer it wraps. */
    static final class Counting implements Module {
        int calls;
        final Linear inner;

        Counting(Linear inner) {
            this.inner = inner;
        }

        @Override
        public Tensor forward(Tensor x, boolean training) {
            calls++;
            return inner.forward(x, training);
        }

        @Override
        public Tensor backward(Tensor dy) {
            return inner.backward(dy);
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    @Test
    void layersBeforeTheFirstDropoutRunOncePerChunkNotOncePerSample() {
        Device cpu = Device.cpu();
        Counting prefix = new Counting(new Linear(cpu, 7, 9, 1, 0));
        try (Sequential net = new Sequential(List.of(prefix, new Dropout(0.5f, false, 3, 1), new Linear(cpu, 9, 4, 1, 1)));
             Tensor x = Tensor.of(cpu, randomFloats(5 * 7), 5, 7)) {
            float[] lp = new McInference(net).logProbs(x, 6);
            assertEquals(1, prefix.calls, "the prefix ran once for 6 MC samples");
            assertEquals(5 * 6 * 4, lp.length);
            float[] again = new McInference(net).logProbs(x.slice(2, 3), 6);
            for (int i = 0; i < 3 * 6 * 4; i++) assertEquals(lp[2 * 6 * 4 + i], again[i], "masks depend on k, not on the row");
            boolean differ = false;
            for (int j = 0; j < 4; j++) differ |= lp[j] != lp[4 + j];
            assertTrue(differ, "samples 0 and 1 use different masks");
        }
    }

    @Test
    void stackedMcSamplesMatchRunningTheWholeNetworkOncePerSample() {
        Device cpu = Device.cpu();
        int n = 7, k = 5;
        try (Sequential net = Models.mnistConvNet(cpu, 0.5f, 21); Tensor x = Tensor.of(cpu, randomFloats(n * 28 * 28), n, 28, 28, 1)) {
            float[] stacked = new McInference(net).logProbs(x, k);
            List<Dropout> drops = net.layers().stream().filter(m -> m instanceof Dropout).map(m -> (Dropout) m).toList();
            for (int kk = 0; kk < k; kk++) {
                for (Dropout d : drops) d.useMcSample(kk);
                float[] logits = net.forward(x, false).toFloats();
                for (Dropout d : drops) d.useMcSample(-1);
                for (int i = 0; i < n; i++) {
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int j = 0; j < 10; j++) max = Math.max(max, logits[i * 10 + j]);
                    for (int j = 0; j < 10; j++) sum += Math.exp(logits[i * 10 + j] - max);
                    for (int j = 0; j < 10; j++)
                        assertEquals(logits[i * 10 + j] - max - Math.log(sum), stacked[(i * k + kk) * 10 + j], 2e-5,
                                "point " + i + ", sample " + kk + ", class " + j);
                }
            }
        }
    }

    static float[] randomFloats(int n) {
        java.util.SplittableRandom r = new java.util.SplittableRandom(17);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextDouble() * 2 - 1);
        return v;
    }
}
