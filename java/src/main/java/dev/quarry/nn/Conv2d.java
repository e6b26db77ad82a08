package dev.quarry.nn;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/** 2-D convolution, NHWC, weights [cout][k][k][cin], He-initialised. */
public final class Conv2d implements Module {
    private final Device device;
    private final Ops.Conv geometry;
    private final Param weight;
    private final Param bias;
    private final Buffer out = new Buffer(), dx = new Buffer();
    private Tensor input;

    public Conv2d(Device device, int cin, int cout, int kernel, int stride, int pad, boolean withBias, long seed, int id) {
        this.device = device;
        this.geometry = Ops.Conv.square(kernel, stride, pad);
        this.weight = new Param("conv" + id + ".weight", device, cout, kernel, kernel, cin);
        Init.he(weight.value(), cin * kernel * kernel, seed, 2 * id);
        this.bias = withBias ? new Param("conv" + id + ".bias", device, cout) : null;
        if (bias != null) Init.fanInUniform(bias.value(), cin * kernel * kernel, seed, 2 * id + 1);
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        input = x;
        Tensor y = out.get(device, geometry.outShape(x.shape(), weight.value().dim(0)));
        Ops.conv2dForward(x, weight.value(), bias == null ? null : bias.value(), y, geometry);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        Ops.conv2dBackwardFilter(input, dy, weight.grad(), bias == null ? null : bias.grad(), geometry);
        Tensor g = dx.get(device, input.shape());
        Ops.conv2dBackwardData(dy, weight.value(), g, geometry);
        return g;
    }

    Ops.Conv geometry() {
        return geometry;
    }

    /** [cout][kh][kw][cin]. */
    int[] weightShape() {
        return weight.value().shape();
    }

    @Override
    public List<Param> params() {
        List<Param> ps = new ArrayList<>(List.of(weight));
        if (bias != null) ps.add(bias);
        return ps;
    }

    @Override
    public void close() {
        weight.close();
        if (bias != null) bias.close();
        out.close();
        dx.close();
    }
}
