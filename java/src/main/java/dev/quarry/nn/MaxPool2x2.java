package dev.quarry.nn;

import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;

public final class MaxPool2x2 implements Module {
    private final Buffer out = new Buffer(), dx = new Buffer();
    private Tensor input;

    @Override
    public Tensor forward(Tensor x, boolean training) {
        input = x;
        Tensor y = out.get(x.device(), x.dim(0), x.dim(1) / 2, x.dim(2) / 2, x.dim(3));
        Ops.maxPool2x2Forward(x, y);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        Tensor g = dx.get(dy.device(), input.shape());
        Ops.maxPool2x2Backward(input, dy, g);
        return g;
    }

    @Override
    public void close() {
        out.close();
        dx.close();
    }
}
