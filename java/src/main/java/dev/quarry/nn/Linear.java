package dev.quarry.nn;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import java.util.List;

/** Fully connected layer: y = x W^T + b, W [out][in]. Input of any rank is flattened to [n][in]. */
public final class Linear implements Module {
    private final Device device;
    private final Param weight, bias;
    private final Buffer out = new Buffer(), dx = new Buffer();
    private Tensor input, flat;

    public Linear(Device device, int in, int outFeatures, long seed, int id) {
        this.device = device;
        this.weight = new Param("linear" + id + ".weight", device, outFeatures, in);
        this.bias = new Param("linear" + id + ".bias", device, outFeatures);
        Init.he(weight.value(), in, seed, 1000 + 2 * id);
        Init.fanInUniform(bias.value(), in, seed, 1001 + 2 * id);
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        input = x;
        flat = x.rank() == 2 ? x : x.view(x.dim(0), (int) (x.numel() / x.dim(0)));
        Tensor y = out.get(device, x.dim(0), weight.value().dim(0));
        Ops.linearForward(flat, weight.value(), bias.value(), y);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        Ops.linearBackwardWeight(flat, dy, weight.grad(), bias.grad());
        Tensor g = dx.get(device, flat.shape());
        Ops.linearBackwardData(dy, weight.value(), g);
        return input.rank() == 2 ? g : g.view(input.shape());
    }

    /** Input features. */
    public int inFeatures() {
        return weight.value().dim(1);
    }

    /** [out][in]. */
    int[] weightShape() {
        return weight.value().shape();
    }

    @Override
    public List<Param> params() {
        return List.of(weight, bias);
    }

    @Override
    public void close() {
        weight.close();
        bias.close();
        out.close();
        dx.close();
    }
}
