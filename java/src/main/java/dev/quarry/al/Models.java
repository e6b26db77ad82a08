package dev.quarry.al;

import dev.quarry.data.ImageSet;
import dev.quarry.engine.Device;
import dev.quarry.nn.ResNetConfig;
import dev.quarry.nn.Sequential;

/** Models by their --model names, built fresh from a seed for the image shape of a data set. */
public final class Models {
    private Models() {}

    public static String names() {
        return "convnet, resnet18 (CIFAR variant), resnet (width 16, [2, 2, 2] blocks, any image size)";
    }

    static Sequential create(AlConfig cfg, ImageSet data, Device device, long seed) {
        if ("linear".equals(cfg.encoderMode())) return linearHead(data, cfg.dropout(), device, seed);
        Sequential m = create(cfg.model(), cfg.dropout(), cfg.dropoutPlacement(), data, device, seed);
        if ("finetune".equals(cfg.encoderMode())) {
            try {
                dev.quarry.ssl.Encoders.load(java.nio.file.Path.of(cfg.encoder()), m, cfg.model());
            } catch (java.io.IOException e) {
                m.close();
                throw new java.io.UncheckedIOException(e);
            }
        }
        return m;
    }

    /** Dropout then a linear classifier over precomputed features [n][1][1][F] (linear-mode runs, probes). */
    public static Sequential linearHead(ImageSet features, float dropout, Device device, long seed) {
        java.util.List<dev.quarry.nn.Module> layers = new java.util.ArrayList<>();
        if (dropout > 0) layers.add(new dev.quarry.nn.Dropout(dropout, false, seed, 900));
        layers.add(new dev.quarry.nn.Linear(device, features.pixels(), features.classes(), seed, 900));
        return new Sequential(layers);
    }

    /** A fresh model named {@code name} for images shaped like {@code data}'s. */
    public static Sequential create(String name, float dropout, String placement, ImageSet data, Device device, long seed) {
        check(name, dropout, placement, data);
        return switch (name) {
            case "convnet" -> dev.quarry.nn.Models.mnistConvNet(device, dropout, seed);
            case "resnet18" -> dev.quarry.nn.Models.resnet18Cifar(device, data.classes(), placement(placement, dropout), dropout, seed);
            default -> dev.quarry.nn.Models.resnet(device, new ResNetConfig(data.channels(), data.classes(), 16, new int[] {2, 2, 2},
                    placement(placement, dropout), dropout), seed);
        };
    }

    /** Refuses a model name, dropout placement or image shape that cannot work, before anything is built or written. */
    public static void check(String name, float dropout, String placement, ImageSet data) {
        placement(placement, dropout);
        switch (name) {
            case "convnet" -> {
                if (data.height() != 28 || data.width() != 28 || data.channels() != 1)
                    throw new IllegalArgumentException("--model convnet expects 28 x 28 x 1 images, the data set has "
                            + data.height() + " x " + data.width() + " x " + data.channels());
                if (data.classes() != 10) throw new IllegalArgumentException("--model convnet has 10 outputs, the data set has " + data.classes() + " classes");
            }
            case "resnet18" -> {
                if (data.height() != 32 || data.width() != 32 || data.channels() != 3)
                    throw new IllegalArgumentException("--model resnet18 (CIFAR variant) expects 32 x 32 x 3 images, the data set has "
                            + data.height() + " x " + data.width() + " x " + data.channels() + " (use --model resnet)");
            }
            case "resnet" -> { }
            default -> throw new IllegalArgumentException("unknown model '" + name + "' (known: " + names() + ")");
        }
    }

    /** --dropout-placement: classifier (default), blocks, none; p = 0 means none. */
    static ResNetConfig.DropoutPlacement placement(String name, float p) {
        if (p == 0f) return ResNetConfig.DropoutPlacement.NONE;
        return switch (name) {
            case "classifier" -> ResNetConfig.DropoutPlacement.CLASSIFIER;
            case "blocks" -> ResNetConfig.DropoutPlacement.EVERY_BLOCK;
            case "none" -> ResNetConfig.DropoutPlacement.NONE;
            default -> throw new IllegalArgumentException("unknown --dropout-placement '" + name + "' (classifier, blocks, none)");
        };
    }
}
