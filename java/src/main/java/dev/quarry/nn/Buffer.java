package dev.quarry.nn;

import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;
import java.util.Arrays;

/** An activation buffer owned by a module: reallocated only when the requested shape changes. */
final class Buffer implements AutoCloseable {
    private Tensor tensor;

    Tensor get(Device device, int... shape) {
        if (tensor == null || tensor.device() != device || !Arrays.equals(tensor.shape(), shape)) {
            close();
            tensor = Tensor.empty(device, shape);
        }
        return tensor;
    }

    @Override
    public void close() {
        if (tensor != null) tensor.close();
        tensor = null;
    }
}
