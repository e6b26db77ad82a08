package dev.quarry.nn;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * ResNet basic block: relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x)); the shortcut is the identity, or a
 * strided 1x1 conv + bn when the shape changes.
 */
public final class BasicBlock implements Module {
    private final Device device;
    private final Sequential main;
    private final Sequential shortcut;
    private final Relu outRelu = new Relu();
    private final Buffer sum = new Buffer(), dx = new Buffer();

    public BasicBlock(Device device, int cin, int cout, int stride, long seed, int id) {
        this.device = device;
        int base = 10 * id;
        this.main = new Sequential(List.of(
                new Conv2d(device, cin, cout, 3, stride, 1, false, seed, base),
                new BatchNorm2d(device, cout, base),
                new Relu(),
                new Conv2d(device, cout, cout, 3, 1, 1, false, seed, base + 1),
                new BatchNorm2d(device, cout, base + 1)));
        this.shortcut = stride == 1 && cin == cout ? null : new Sequential(List.of(
                new Conv2d(device, cin, cout, 1, stride, 0, false, seed, base + 2),
                new BatchNorm2d(device, cout, base + 2)));
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        Tensor m = main.forward(x, training);
        Tensor s = shortcut == null ? x : shortcut.forward(x, training);
        Tensor z = sum.get(device, m.shape());
        Ops.add(m, s, z);
        return outRelu.forward(z, training);
    }

    @Override
    public Tensor backward(Tensor dy) {
        Tensor dz = outRelu.backward(dy);
        Tensor dMain = main.backward(dz);
        Tensor dShort = shortcut == null ? dz : shortcut.backward(dz);
        Tensor g = dx.get(device, dMain.shape());
        Ops.add(dMain, dShort, g);
        return g;
    }

    /** The conv-bn-relu-conv-bn branch, then the projection shortcut (null for the identity). */
    List<Sequential> branches() {
        return java.util.Arrays.asList(main, shortcut);
    }

    @Override
    public List<Param> params() {
        List<Param> ps = new ArrayList<>(main.params());
        if (shortcut != null) ps.addAll(shortcut.params());
        return ps;
    }

    @Override
    public List<Tensor> buffers() {
        List<Tensor> bs = new ArrayList<>(main.buffers());
        if (shortcut != null) bs.addAll(shortcut.buffers());
        return bs;
    }

    @Override
    public void close() {
        main.close();
        if (shortcut != null) shortcut.close();
        outRelu.close();
        sum.close();
        dx.close();
    }
}
