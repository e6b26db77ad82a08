package dev.quarry.nn;

import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;

/** A trainable tensor and its gradient (same shape, overwritten by each backward pass). */
public final class Param implements AutoCloseable {
    private final String name;
    private final Tensor value;
    private final Tensor grad;

    public Param(String name, Device device, int... shape) {
        this.name = name;
        this.value = Tensor.empty(device, shape);
        this.grad = Tensor.zeros(device, shape);
    }

    public String name() {
        return name;
    }

    public Tensor value() {
        return value;
    }

    public Tensor grad() {
        return grad;
    }

    @Override
    public void close() {
        value.close();
        grad.close();
    }
}
