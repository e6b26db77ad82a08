package dev.quarry.nn;

import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/** SGD with momentum, dampening, Nesterov and weight decay (PyTorch semantics). */
public final class Sgd implements Optimizer {
    private final List<Param> params;
    private final List<Tensor> momentumBufs = new ArrayList<>();
    private final float momentum, dampening, weightDecay;
    private final boolean nesterov;
    private float lr;
    private boolean first = true;

    public Sgd(List<Param> params, float lr, float momentum, float dampening, float weightDecay, boolean nesterov) {
        this.params = List.copyOf(params);
        this.lr = lr;
        this.momentum = momentum;
        this.dampening = dampening;
        this.weightDecay = weightDecay;
        this.nesterov = nesterov;
        if (momentum > 0)
            for (Param p : this.params) momentumBufs.add(Tensor.zeros(p.value().device(), p.value().shape()));
    }

    @Override
    public void step() {
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            Ops.sgdStep(p.value(), p.grad(), momentum > 0 ? momentumBufs.get(i) : null, lr, momentum, dampening, weightDecay, nesterov, first);
        }
        first = false;
        steps++;
    }

    private long steps;

    @Override
    public java.util.Map<String, Tensor> state() {
        java.util.Map<String, Tensor> s = new java.util.LinkedHashMap<>();
        for (int i = 0; i < momentumBufs.size(); i++) s.put("sgd.momentum." + params.get(i).name(), momentumBufs.get(i));
        return s;
    }

    @Override
    public long steps() {
        return steps;
    }

    @Override
    public void setSteps(long steps) {
        this.steps = steps;
        this.first = steps == 0;
    }

    @Override
    public void setLearningRate(float lr) {
        this.lr = lr;
    }

    @Override
    public void close() {
        for (Tensor t : momentumBufs) t.close();
    }
}
