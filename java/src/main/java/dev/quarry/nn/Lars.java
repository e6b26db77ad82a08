package dev.quarry.nn;

import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * LARS (You, Gitman, Ginsburg 2017), the optimizer SimCLR trains with: per parameter tensor, trust = eta ||w|| /
 * (||g|| + wd ||w||) (1 when a norm is 0), v = momentum v + lr trust (g + wd w), w -= v. Tensors that do not adapt
 * (by default biases and batch-norm parameters, see {@link #adapts}) take plain momentum SGD without weight decay.
 * The norms stay on the device (quarry.h, qy_lars_step).
 */
public final class Lars implements Optimizer {
    /** SimCLR's trust coefficient. */
    public static final float SIMCLR_ETA = 1e-3f;

    private final List<Param> params;
    private final List<Tensor> velocity = new ArrayList<>();
    private final boolean[] adapt;
    private final float momentum, weightDecay, eta;
    private float lr;
    private long steps;

    public Lars(List<Param> params, float lr, float momentum, float weightDecay, float eta, Predicate<Param> adapt) {
        this.params = List.copyOf(params);
        this.lr = lr;
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.eta = eta;
        this.adapt = new boolean[this.params.size()];
        for (int i = 0; i < this.params.size(); i++) {
            Param p = this.params.get(i);
            this.adapt[i] = adapt.test(p);
            velocity.add(Tensor.zeros(p.value().device(), p.value().shape()));
        }
    }

    /** The default exclusion: biases and batch-norm scales and shifts are the vectors; weights have rank >= 2. */
    public static boolean adapts(Param p) {
        return p.value().rank() > 1;
    }

    @Override
    public void step() {
        for (int i = 0; i < params.size(); i++) {
            Param p = params.get(i);
            Ops.larsStep(p.value(), p.grad(), velocity.get(i), lr, momentum, weightDecay, eta, adapt[i]);
        }
        steps++;
    }

    @Override
    public Map<String, Tensor> state() {
        Map<String, Tensor> s = new LinkedHashMap<>();
        for (int i = 0; i < params.size(); i++) s.put("lars.momentum." + params.get(i).name(), velocity.get(i));
        return s;
    }

    @Override
    public long steps() {
        return steps;
    }

    @Override
    public void setSteps(long steps) {
        this.steps = steps;
    }

    @Override
    public void setLearningRate(float lr) {
        this.lr = lr;
    }

    @Override
    public void close() {
        for (Tensor t : velocity) t.close();
    }
}
