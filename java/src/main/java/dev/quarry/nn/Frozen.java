package dev.quarry.nn;

import dev.quarry.engine.Tensor;
import java.util.List;

/**
 * A module run in inference mode (batch norm on running statistics, no dropout) whose parameters are not
 * trained: a pretrained encoder under a trainable head. It must be the first layer of its model, since no
 * gradient flows through it: {@link #backward} returns null.
 */
public final class Frozen implements Module {
    private final Module inner;

    public Frozen(Module inner) {
        this.inner = inner;
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        return inner.forward(x, false);
    }

    @Override
    public Tensor backward(Tensor dy) {
        return null;
    }

    @Override
    public List<Tensor> buffers() {
        return inner.buffers();
    }

    @Override
    public void close() {
        inner.close();
    }
}
