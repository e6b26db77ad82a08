package dev.quarry.nn;

import dev.quarry.engine.Device;
import dev.quarry.nn.ResNetConfig.DropoutPlacement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * ResNet with basic blocks for small images: a 3x3 stem (no max-pool), stages of blocks whose first block
 * strides by 2 after the first stage, global average pooling and a linear classifier. ResNet-18 (CIFAR) is
 * widths 64-128-256-512 with 2 blocks each. Convs are He-initialised (Conv2d), batch norms start as the identity.
 */
public final class ResNet {
    private ResNet() {}

    /** The network of {@code cfg} as one flat Sequential: stem layers, blocks, dropouts, pool and classifier. */
    public static Sequential build(Device device, ResNetConfig cfg, long seed) {
        int[] widths = new int[cfg.blocksPerStage().length];
        for (int s = 0; s < widths.length; s++) widths[s] = cfg.width(s);
        return build(device, cfg.inChannels(), cfg.classes(), widths, cfg.blocksPerStage(), cfg.dropout(), cfg.dropoutP(), seed);
    }

    /** A network without dropout with explicit stage widths. */
    public static Sequential build(Device device, int inChannels, int classes, int[] widths, int[] blocks, long seed) {
        return build(device, inChannels, classes, widths, blocks, DropoutPlacement.NONE, 0f, seed);
    }

    public static Sequential resnet18(Device device, int inChannels, int classes, long seed) {
        return build(device, inChannels, classes, new int[] {64, 128, 256, 512}, new int[] {2, 2, 2, 2}, seed);
    }

    private static Sequential build(Device device, int inChannels, int classes, int[] widths, int[] blocks, DropoutPlacement dropout,
                                    float p, long seed) {
        if (widths.length != blocks.length || Arrays.stream(blocks).sum() > ResNetConfig.MAX_BLOCKS)
            throw new IllegalArgumentException("ResNet: widths " + Arrays.toString(widths) + " and blocks " + Arrays.toString(blocks)
                    + " must have one entry per stage and at most " + ResNetConfig.MAX_BLOCKS + " blocks");
        List<Module> layers = new ArrayList<>();
        layers.add(new Conv2d(device, inChannels, widths[0], 3, 1, 1, false, seed, 0));
        layers.add(new BatchNorm2d(device, widths[0], 0));
        layers.add(new Relu());
        int cin = widths[0], id = 1;
        for (int s = 0; s < widths.length; s++)
            for (int b = 0; b < blocks[s]; b++, id++) {
                int stride = s > 0 && b == 0 ? 2 : 1;
                layers.add(new BasicBlock(device, cin, widths[s], stride, seed, id));
                if (dropout == DropoutPlacement.EVERY_BLOCK) layers.add(new Dropout(p, true, seed, id));
                cin = widths[s];
            }
        layers.add(new GlobalAvgPool());
        if (dropout == DropoutPlacement.CLASSIFIER) layers.add(new Dropout(p, false, seed, id));
        layers.add(new Linear(device, cin, classes, seed, 0));
        return new Sequential(layers);
    }
}
