package dev.quarry.nn;

import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;

public final class Relu implements Module {
    private final Buffer out = new Buffer(), dx = new Buffer();
    private Tensor y;

    @Override
    public Tensor forward(Tensor x, boolean training) {
        y = out.get(x.device(), x.shape());
        Ops.reluForward(x, y);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        Tensor g = dx.get(dy.device(), dy.shape());
        Ops.reluBackward(y, dy, g);
        return g;
    }

    @Override
    public void close() {
        out.close();
        dx.close();
    }
}
