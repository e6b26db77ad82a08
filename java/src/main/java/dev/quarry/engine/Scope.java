package dev.quarry.engine;

import java.util.ArrayDeque;
import java.util.Deque;

/** Closes everything it tracks, last first: {@code try (Scope s = new Scope()) { Tensor t = s.track(...); }}. */
public final class Scope implements AutoCloseable {
    private final Deque<AutoCloseable> items = new ArrayDeque<>();

    public <T extends AutoCloseable> T track(T item) {
        items.push(item);
        return item;
    }

    public Tensor empty(Device device, int... shape) {
        return track(Tensor.empty(device, shape));
    }

    public Tensor of(Device device, float[] data, int... shape) {
        return track(Tensor.of(device, data, shape));
    }

    @Override
    public void close() {
        RuntimeException first = null;
        while (!items.isEmpty()) {
            try {
                items.pop().close();
            } catch (Exception e) {
                if (first == null) first = e instanceof RuntimeException r ? r : new RuntimeException(e);
            }
        }
        if (first != null) throw first;
    }
}
