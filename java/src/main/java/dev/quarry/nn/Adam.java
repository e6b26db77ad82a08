package dev.quarry.nn;

import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/** Adam, or AdamW when {@code decoupled} (PyTorch semantics). */
public final class Adam implements Optimizer {
    private final List<Param> params;
    private final List<Tensor> m = new ArrayList<>(), v = new ArrayList<>();
    private final float beta1, beta2, eps, weightDecay;
    private final boolean decoupled;
    private float lr;
    private long step;

    public Adam(List<Param> params, float lr, float beta1, float beta2, float eps, float weightDecay, boolean decoupled) {
        this.params = List.copyOf(params);
        this.lr = lr;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.decoupled = decoupled;
        for (Param p : this.params) {
            m.add(Tensor.zeros(p.value().device(), p.value().shape()));
            v.add(Tensor.zeros(p.value().device(), p.value().shape()));
        }
    }

    public static Adam standard(List<Param> params, float lr) {
        return new Adam(params, lr, 0.9f, 0.999f, 1e-8f, 0f, false);
    }

    @Override
    public void step() {
        step++;
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            Ops.adamStep(p.value(), p.grad(), m.get(i), v.get(i), lr, beta1, beta2, eps, weightDecay, decoupled, step);
        }
    }

    @Override
    public java.util.Map<String, Tensor> state() {
        java.util.Map<String, Tensor> s = new java.util.LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) {
            s.put("adam.m." + params.get(i).name(), m.get(i));
            s.put("adam.v." + params.get(i).name(), v.get(i));
        }
        return s;
    }

    @Override
    public long steps() {
        return step;
    }

    @Override
    public void setSteps(long steps) {
        this.step = steps;
    }

    @Override
    public void setLearningRate(float lr) {
        this.lr = lr;
    }

    @Override
    public void close() {
        for (Tensor t : m) t.close();
        for (Tensor t : v) t.close();
    }
}
