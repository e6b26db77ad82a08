package dev.quarry.nn;

import dev.quarry.engine.Device;
import java.util.ArrayList;
import java.util.List;

/**
 * ResNet with basic blocks for small images: a 3x3 stem (no max-pool), stages of blocks whose first block
 * strides by 2 after the first stage, global average pooling and a linear classifier. ResNet-18 (CIFAR) is
 * widths 64-128-256-512 with 2 blocks each.
 */
public final class ResNet {
    private ResNet() {}

    public static Sequential build(Device device, int inChannels, int classes, int[] widths, int[] blocks, long seed) {
        List<Module> layers = new ArrayList<>();
        layers.add(new Conv2d(device, inChannels, widths[0], 3, 1, 1, false, seed, 0));
        layers.add(new BatchNorm2d(device, widths[0], 0));
        layers.add(new Relu());
        int cin = widths[0], id = 1;
        for (int s = 0; s < widths.length; s++)
            for (int b = 0; b < blocks[s]; b++) {
                int stride = s > 0 && b == 0 ? 2 : 1;
                layers.add(new BasicBlock(device, cin, widths[s], stride, seed, id++));
                cin = widths[s];
            }
        layers.add(new GlobalAvgPool());
        layers.add(new Linear(device, cin, classes, seed, 0));
        return new Sequential(layers);
    }

    public static Sequential resnet18(Device device, int inChannels, int classes, long seed) {
        return build(device, inChannels, classes, new int[] {64, 128, 256, 512}, new int[] {2, 2, 2, 2}, seed);
    }
}
