package dev.quarry.nn;

import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.engine.Device;
import dev.quarry.engine.QuarryException;
import dev.quarry.train.Schedule;
import dev.quarry.train.TrainConfig;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Lars through the binding against a float64 transcription of quarry.h's qy_lars_step, over several steps. */
class LarsTest {
    private final Device cpu = Device.cpu();

    private static float[] random(Random r, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (scale * (2 * r.nextDouble() - 1));
        return v;
    }

    @Test
    void matchesTheFormulaWithWeightsAdaptedAndBiasesNot() {
        float lr = 0.8f, momentum = 0.9f, wd = 1e-3f, eta = 1e-3f;
        Random r = new Random(7);
        try (Param weight = new Param("conv0.weight", cpu, 5, 3, 3, 2); Param bias = new Param("conv0.bias", cpu, 5);
             Lars lars = new Lars(List.of(weight, bias), lr, momentum, wd, eta, Lars::adapts)) {
            List<Param> ps = List.of(weight, bias);
            double[][] w = new double[2][], v = new double[2][];
            for (int k = 0; k < 2; k++) {
                float[] init = random(r, (int) ps.get(k).value().numel(), 1);
                ps.get(k).value().upload(init);
                w[k] = new double[init.length];
                for (int i = 0; i < init.length; i++) w[k][i] = init[i];
                v[k] = new double[init.length];
            }
            for (int step = 0; step < 4; step++) {
                if (step == 2) lr = 0.3f;
                lars.setLearningRate(lr);
                for (int k = 0; k < 2; k++) {
                    float[] g = random(r, w[k].length, 0.5);
                    ps.get(k).grad().upload(g);
                    boolean adapt = k == 0;
                    double ww = 0, gg = 0;
                    for (int i = 0; i < g.length; i++) {
                        ww += w[k][i] * w[k][i];
                        gg += (double) g[i] * g[i];
                    }
                    double trust = adapt ? eta * Math.sqrt(ww) / (Math.sqrt(gg) + wd * Math.sqrt(ww)) : 1, decay = adapt ? wd : 0;
                    for (int i = 0; i < g.length; i++) {
                        v[k][i] = momentum * v[k][i] + lr * trust * (g[i] + decay * w[k][i]);
                        w[k][i] -= v[k][i];
                    }
                }
                lars.step();
            }
            assertEquals(4, lars.steps());
            for (int k = 0; k < 2; k++) {
                float[] got = ps.get(k).value().toFloats(), vel = lars.state().get("lars.momentum." + ps.get(k).name()).toFloats();
                for (int i = 0; i < got.length; i++) {
                    assertEquals(w[k][i], got[i], 1e-5, ps.get(k).name() + "[" + i + "]");
                    assertEquals(v[k][i], vel[i], 1e-5, "velocity of " + ps.get(k).name() + "[" + i + "]");
                }
            }
            assertEquals(List.of("lars.momentum.conv0.weight", "lars.momentum.conv0.bias"), List.copyOf(lars.state().keySet()));
        }
    }

    @Test
    void trainConfigSelectsLarsAndBadHyperParametersNameTheOp() {
        try (Param p = new Param("linear0.weight", cpu, 3, 4)) {
            TrainConfig cfg = new TrainConfig("LARS", 0.3f, 1e-6f, 0.9f, false, 0f, 64, 1, 0, Schedule.constant(), 0, 0, -1);
            try (Optimizer o = cfg.newOptimizer(List.of(p))) {
                assertInstanceOf(Lars.class, o);
            }
            try (Lars bad = new Lars(List.of(p), 0.1f, 0.9f, 0f, 0f, Lars::adapts)) {
                String msg = assertThrows(QuarryException.class, bad::step).getMessage();
                assertTrue(msg.contains("lars_step") && msg.contains("eta") && msg.contains("[3, 4]"), msg);
            }
        }
    }
}
