package dev.quarry.nn;

import dev.quarry.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

public final class Sequential implements Module {
    private final List<Module> layers;

    public Sequential(List<Module> layers) {
        this.layers = List.copyOf(layers);
    }

    public List<Module> layers() {
        return layers;
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        for (Module m : layers) x = m.forward(x, training);
        return x;
    }

    @Override
    public Tensor backward(Tensor dy) {
        for (int i = layers.size() - 1; i >= 0; i--) dy = layers.get(i).backward(dy);
        return dy;
    }

    @Override
    public List<Param> params() {
        List<Param> ps = new ArrayList<>();
        for (Module m : layers) ps.addAll(m.params());
        return ps;
    }

    @Override
    public List<Tensor> buffers() {
        List<Tensor> bs = new ArrayList<>();
        for (Module m : layers) bs.addAll(m.buffers());
        return bs;
    }

    @Override
    public void close() {
        for (Module m : layers) m.close();
    }
}
