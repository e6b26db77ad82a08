package dev.quarry.nn;

import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;
import java.util.Arrays;

/**
 * An activation buffer owned by a module, reallocated only when the requested shape does not fit: a request with
 * the same trailing dimensions and at most as many rows as the memory held is served as a view of its leading rows.
 * So a chunk and a shorter tail, MC slices of different sizes, or training and evaluation batches do not free and
 * reallocate the buffer each time (host allocations of this size come fresh from mmap, and the kernel faults in and
 * zeroes every page of them on first touch).
 */
final class Buffer implements AutoCloseable {
    private Tensor storage, view;

    Tensor get(Device device, int... shape) {
        if (view != null && view.device() == device && Arrays.equals(view.shape(), shape)) return view;
        if (storage != null && storage.device() == device && fits(storage.shape(), shape)) {
            view = storage.slice(0, shape[0]);
            return view;
        }
        close();
        storage = Tensor.empty(device, shape);
        view = storage;
        return view;
    }

    /** The same rank and trailing dimensions, and at least one but no more rows than {@code held}. */
    private static boolean fits(int[] held, int[] shape) {
        if (held.length != shape.length || shape.length == 0 || shape[0] < 1 || shape[0] > held[0]) return false;
        for (int i = 1; i < shape.length; i++)
            if (held[i] != shape[i]) return false;
        return true;
    }

    @Override
    public void close() {
        if (storage != null) storage.close();
        storage = null;
        view = null;
    }
}
