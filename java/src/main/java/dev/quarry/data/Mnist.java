package dev.quarry.data;

import dev.quarry.util.BadInputException;
import java.io.IOException;
import java.nio.file.Path;

/** MNIST-format IDX images (n x h x w u8) and labels, normalised the usual way: (x / 255 - 0.1307) / 0.3081. */
public final class Mnist {
    public static final float MEAN = 0.1307f, STD = 0.3081f;

    private Mnist() {}

    public static ImageSet load(Path imagesFile, Path labelsFile) throws IOException {
        return load(Idx.read(imagesFile), Idx.read(labelsFile), imagesFile, labelsFile);
    }

    private static ImageSet load(Idx.Array img, Idx.Array lab, Object imagesFile, Object labelsFile) throws IOException {
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

    /** Where the shipped sample lies inside the jar (copied there from datasets/mnist by the pom). */
    static final String SAMPLE_RESOURCE = "/dev/quarry/data/mnist-sample/";

    /** SHA-256 of the shipped sample's two files, exactly as they lie in datasets/mnist (datasets/README.md). */
    static final java.util.Map<String, String> SAMPLE_SHA256 = java.util.Map.of(
            "t10k-images-idx3-ubyte.gz", "1a1a05eab793c14bb050b398624a11b0ffd1a2953baed553b1b9bd079e2a20be",
            "t10k-labels-idx1-ubyte.gz", "b91679a0acfe4ba0e50a2437a903084cba1f5f92592b016a25a7dfd00455798b");

    /** Whether this build carries the sample inside it (a jar or classes built by Maven do). */
    public static boolean hasShippedSample() {
        return Mnist.class.getResource(SAMPLE_RESOURCE + "t10k-labels-idx1-ubyte.gz") != null;
    }

    /** The shipped MNIST test set read from inside the jar, each file checked against its SHA-256 first. */
    public static ImageSet shippedSample() throws IOException {
        Idx.Array img = sampleFile("t10k-images-idx3-ubyte.gz"), lab = sampleFile("t10k-labels-idx1-ubyte.gz");
        return load(img, lab, "jar:" + SAMPLE_RESOURCE + "t10k-images-idx3-ubyte.gz", "jar:" + SAMPLE_RESOURCE + "t10k-labels-idx1-ubyte.gz");
    }

    static Idx.Array sampleFile(String name) throws IOException {
        String where = "jar:" + SAMPLE_RESOURCE + name;
        byte[] bytes;
        try (java.io.InputStream in = Mnist.class.getResourceAsStream(SAMPLE_RESOURCE + name)) {
            if (in == null) throw new IOException(where + ": not in this build (mvn package copies datasets/mnist into the jar)");
            bytes = in.readAllBytes();
        }
        Checksum c = Checksum.sha256(SAMPLE_SHA256.get(name));
        String got = c.of(new java.io.ByteArrayInputStream(bytes));
        if (!c.matches(got))
            throw new BadInputException(where + ": checksum mismatch (sha256 " + got + ", want " + c.expected() + "); the jar is damaged, reinstall it");
        return Idx.read(where, new java.io.ByteArrayInputStream(bytes), bytes.length);
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
            throw new BadInputException(dir + ": no train-images-idx3-ubyte[.gz]; fix: quarry data fetch mnist (or fashion-mnist), or --data-dir DIR");
        return new ImageSet[] {load(trainImages, idx(dir, "train-labels-idx1-ubyte")),
                load(idx(dir, "t10k-images-idx3-ubyte"), idx(dir, "t10k-labels-idx1-ubyte"))};
    }

}
