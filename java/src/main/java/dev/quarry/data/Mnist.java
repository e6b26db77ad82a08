package dev.quarry.data;

import dev.quarry.util.BadInputException;
import java.io.IOException;
import java.nio.file.Path;

/** MNIST-format IDX images (n x h x w u8) and labels, normalised the usual way: (x / 255 - 0.1307) / 0.3081. */
public final class Mnist {
    public static final float MEAN = 0.1307f, STD = 0.3081f;

    private Mnist() {}

    public static ImageSet load(Path imagesFile, Path labelsFile) throws IOException {
        Idx.Array img = Idx.read(imagesFile), lab = Idx.read(labelsFile);
        if (img.shape().length != 3) throw new BadInputException(imagesFile + ": expected n x h x w images, got rank " + img.shape().length);
        if (lab.shape().length != 1 || lab.shape()[0] != img.shape()[0])
            throw new BadInputException(labelsFile + ": " + lab.shape()[0] + " labels for " + img.shape()[0] + " images");
        int n = img.shape()[0], h = img.shape()[1], w = img.shape()[2];
        float[] x = new float[n * h * w];
        for (int i = 0; i < x.length; i++) x[i] = (img.at(i) / 255f - MEAN) / STD;
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = lab.at(i);
            if (y[i] > 9) throw new BadInputException(labelsFile + ": label " + y[i] + " at " + i + " is not a digit");
        }
        return new ImageSet(x, y, n, h, w, 1, 10);
    }

    /** The shipped MNIST test set under {@code datasets/mnist}. */
    public static ImageSet shippedTestSet(Path datasets) throws IOException {
        Path dir = datasets.resolve("mnist");
        return load(dir.resolve("t10k-images-idx3-ubyte.gz"), dir.resolve("t10k-labels-idx1-ubyte.gz"));
    }

    /** An IDX file with or without the .gz suffix, whichever exists. */
    static Path idx(Path dir, String name) {
        Path gz = dir.resolve(name + ".gz");
        return java.nio.file.Files.exists(gz) ? gz : dir.resolve(name);
    }

    /** The standard four files (train-*, t10k-*) of MNIST or Fashion-MNIST in {@code dir}: {train, test}. */
    public static ImageSet[] loadSplit(Path dir) throws IOException {
        Path trainImages = idx(dir, "train-images-idx3-ubyte");
        if (!java.nio.file.Files.exists(trainImages))
            throw new BadInputException(dir + ": no train-images-idx3-ubyte[.gz] (datasets/README.md says where to get it)");
        return new ImageSet[] {load(trainImages, idx(dir, "train-labels-idx1-ubyte")),
                load(idx(dir, "t10k-images-idx3-ubyte"), idx(dir, "t10k-labels-idx1-ubyte"))};
    }

}
