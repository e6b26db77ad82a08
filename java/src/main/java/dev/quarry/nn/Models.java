package dev.quarry.nn;

import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;
import java.util.List;

/** Reference architectures. */
public final class Models {
    private Models() {}

    /**
     * The BatchBALD paper's MNIST ConvNet (docs/protocols.md): conv 1->32 5x5, Dropout2d(p), maxpool 2, ReLU,
     * conv 32->64 5x5, Dropout2d(p), maxpool 2, ReLU, FC 1024->128, Dropout(p), ReLU, FC 128->10 (logits).
     */
    public static Sequential mnistConvNet(Device d, float p, long seed) {
        Sequential net = new Sequential(List.of(
                new Conv2d(d, 1, 32, 5, 1, 0, true, seed, 0),
                new Dropout(p, true, seed, 1),
                new MaxPool2x2(),
                new Relu(),
                new Conv2d(d, 32, 64, 5, 1, 0, true, seed, 1),
                new Dropout(p, true, seed, 2),
                new MaxPool2x2(),
                new Relu(),
                new Linear(d, 1024, 128, seed, 0),
                new Dropout(p, false, seed, 3),
                new Relu(),
                new Linear(d, 128, 10, seed, 1)));
        // PyTorch's default init for nn.Conv2d / nn.Linear (kaiming_uniform with a = sqrt(5)), as the paper's code
        // used: weights U(-1/sqrt(fan_in), 1/sqrt(fan_in)); biases already follow it.
        int stream = 5000;
        for (Param prm : net.params())
            if (prm.name().endsWith(".weight")) {
                Tensor w = prm.value();
                Init.fanInUniform(w, (int) (w.numel() / w.dim(0)), seed, stream++);
            }
        return net;
    }

    /** A basic-block ResNet (see {@link ResNetConfig}; dropout layers are top-level, as McInference needs). */
    public static Sequential resnet(Device d, ResNetConfig cfg, long seed) {
        return ResNet.build(d, cfg, seed);
    }

    /** ResNet-18, CIFAR variant (3x3 stem, no max-pool, 64-128-256-512, [2, 2, 2, 2]) for 32x32 RGB images. */
    public static Sequential resnet18Cifar(Device d, int classes, ResNetConfig.DropoutPlacement dropout, float p, long seed) {
        return ResNet.build(d, ResNetConfig.cifar18(classes, dropout, p), seed);
    }
}
