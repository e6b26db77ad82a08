package dev.quarry.nn;

import dev.quarry.engine.Tensor;
import java.util.List;

/**
 * A layer with its forward and backward pass side by side. {@link #forward} keeps what {@link #backward} needs;
 * both return tensors the module owns and reuses on the next call, so callers must not close them, and a
 * returned tensor stays valid until the module's next call.
 */
public interface Module extends AutoCloseable {
    Tensor forward(Tensor x, boolean training);

    /** Given dL/d(output), writes the parameters' gradients and returns dL/d(input). */
    Tensor backward(Tensor dy);

    default List<Param> params() {
        return List.of();
    }

    /** Non-trained state that a checkpoint must keep (batch norm running statistics). */
    default List<Tensor> buffers() {
        return List.of();
    }

    @Override
    void close();
}
