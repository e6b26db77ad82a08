package dev.quarry.al;

import dev.quarry.data.ImageSet;
import dev.quarry.engine.Device;
import dev.quarry.nn.Sequential;

/** Models by their --model names, built fresh from a seed for the image shape of a data set. */
public final class Models {
    private Models() {}

    public static String names() {
        return "convnet";
    }

    static Sequential create(AlConfig cfg, ImageSet data, Device device, long seed) {
        return create(cfg.model(), cfg.dropout(), data, device, seed);
    }

    /** A fresh model named {@code name} for images shaped like {@code data}'s. */
    public static Sequential create(String name, float dropout, ImageSet data, Device device, long seed) {
        return switch (name) {
            case "convnet" -> {
                if (data.height() != 28 || data.width() != 28 || data.channels() != 1)
                    throw new IllegalArgumentException("--model convnet expects 28 x 28 x 1 images, the data set has "
                            + data.height() + " x " + data.width() + " x " + data.channels());
                yield dev.quarry.nn.Models.mnistConvNet(device, dropout, seed);
            }
            default -> throw new IllegalArgumentException("unknown model '" + name + "' (known: " + names() + ")");
        };
    }
}
