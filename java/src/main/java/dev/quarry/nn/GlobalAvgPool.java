package dev.quarry.nn;

import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;

/** [n][h][w][c] to [n][c]. */
public final class GlobalAvgPool implements Module {
    private final Buffer out = new Buffer(), dx = new Buffer();
    private int[] inputShape;

    @Override
    public Tensor forward(Tensor x, boolean training) {
        inputShape = x.shape();
        Tensor y = out.get(x.device(), x.dim(0), x.dim(3));
        Ops.globalAvgPoolForward(x, y);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        Tensor g = dx.get(dy.device(), inputShape);
        Ops.globalAvgPoolBackward(dy, g);
        return g;
    }

    @Override
    public void close() {
        out.close();
        dx.close();
    }
}
