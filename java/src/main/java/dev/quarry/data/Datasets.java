package dev.quarry.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Data sets by their command-line names. Every one yields a training set (the pool and the validation split are
 * drawn from it) and a test set with the indices to evaluate on.
 */
public final class Datasets {
    /** Images of the shipped MNIST sample held out for testing (the rest is the training set). */
    public static final int SAMPLE_TEST = 2000;

    private Datasets() {}

    /**
     * Training and test images with the indices to use, and the per-channel mean and std the pixels were
     * normalised with (augmentations that work in [0, 1] pixel space undo and redo it).
     */
    public record Split(ImageSet train, int[] trainIdx, ImageSet test, int[] testIdx, float[] mean, float[] std) {}

    private static final float[] MNIST_MEAN = {Mnist.MEAN}, MNIST_STD = {Mnist.STD};

    public static String names() {
        return "mnist-sample, mnist, repeated-mnist, fashion-mnist, cifar10, npy";
    }

    /** Throws IllegalArgumentException unless {@code name} is a known --dataset value. */
    public static void checkName(String name) {
        if (!List.of("mnist-sample", "mnist", "repeated-mnist", "fashion-mnist", "cifar10", "npy").contains(name))
            throw new IllegalArgumentException("unknown dataset '" + name + "' (known: " + names() + ")");
    }

    /** The --data-dir value as a folder, or null when none was given (the data home is searched: {@link DataHome}). */
    public static Path dir(String dataDirOption) {
        return dataDirOption == null || dataDirOption.isEmpty() ? null : Path.of(dataDirOption);
    }

    /**
     * The folder {@code name} is read from, given --data-dir {@code dir} (null: none) and the homes of {@code home};
     * null for the shipped sample read from inside the jar. Sets from the catalog are checked against their
     * checksums; a missing or corrupt set is an IOException that says where Quarry looked and what fixes it.
     */
    public static Path locate(String name, Path dir, DataHome home) throws IOException {
        switch (name) {
            case "npy":
                return dir == null ? Path.of(".") : dir;
            case "mnist-sample":
                if (dir == null && Mnist.hasShippedSample()) return null;
                return home.locate(name);
            case "mnist", "repeated-mnist", "fashion-mnist", "cifar10":
                return home.locate(name);
            default:
                throw new IllegalArgumentException("unknown dataset '" + name + "' (known: " + names() + ")");
        }
    }

    /**
     * Loads {@code name} from {@code dir} (null: from the data home, see {@link #locate}). mnist-sample is the shipped MNIST test set split by {@code seed} into
     * 8,000 training and 2,000 test images; repeated-mnist is {@code copies} noisy copies of the MNIST training set
     * (test set: the MNIST test set); npy reads train_images.npy, train_labels.npy, test_images.npy and
     * test_labels.npy from {@code dir} (images N x H x W x C u1 or f4, labels i8), normalised per channel with the
     * training images' statistics.
     */
    public static Split load(String name, Path dir, long seed, int copies) throws IOException {
        return load(name, dir, seed, copies, 0);
    }

    /**
     * As {@link #load(String, Path, long, int)}, keeping only {@code trainLimit} training images (a seeded choice;
     * 0 keeps all). For repeated-mnist the limit applies to the base set before it is repeated, so every kept image
     * still has all its noisy copies: the small-pool version of the experiment, for CPU runs.
     */
    public static Split load(String name, Path dir, long seed, int copies, int trainLimit) throws IOException {
        if (trainLimit < 0) throw new IllegalArgumentException("--train-limit must be >= 0, got " + trainLimit);
        dir = locate(name, dir, DataHome.fromEnvironment(dir == null ? null : dir.toString()));
        if (name.equals("repeated-mnist") && trainLimit > 0) {
            ImageSet[] s = Mnist.loadSplit(dir);
            int[] keep = Arrays.copyOf(permutation(s[0].n(), seed), Math.min(trainLimit, s[0].n()));
            Arrays.sort(keep);
            float[] x = new float[keep.length * s[0].pixels()];
            int[] y = new int[keep.length];
            s[0].gather(keep, 0, keep.length, x, y);
            ImageSet base = new ImageSet(x, y, keep.length, s[0].height(), s[0].width(), s[0].channels(), s[0].classes());
            ImageSet rep = RepeatedMnist.build(base, copies, 0.1f, seed);
            return new Split(rep, range(rep.n()), s[1], range(s[1].n()), MNIST_MEAN, MNIST_STD);
        }
        Split all = loadAll(name, dir, seed, copies);
        if (trainLimit == 0 || trainLimit >= all.trainIdx().length) return all;
        int[] perm = permutation(all.trainIdx().length, seed);
        int[] keep = new int[trainLimit];
        for (int i = 0; i < trainLimit; i++) keep[i] = all.trainIdx()[perm[i]];
        Arrays.sort(keep);
        return new Split(all.train(), keep, all.test(), all.testIdx(), all.mean(), all.std());
    }

    private static Split loadAll(String name, Path dir, long seed, int copies) throws IOException {
        switch (name) {
            case "mnist-sample" -> {
                ImageSet all = dir == null ? Mnist.shippedSample()
                        : Mnist.load(Mnist.idx(dir, "t10k-images-idx3-ubyte"), Mnist.idx(dir, "t10k-labels-idx1-ubyte"));
                int[] perm = permutation(all.n(), seed);
                int[] test = Arrays.copyOfRange(perm, all.n() - SAMPLE_TEST, all.n()), train = Arrays.copyOf(perm, all.n() - SAMPLE_TEST);
                Arrays.sort(test);
                Arrays.sort(train);
                return new Split(all, train, all, test, MNIST_MEAN, MNIST_STD);
            }
            case "mnist", "fashion-mnist" -> {
                ImageSet[] s = Mnist.loadSplit(dir);
                return new Split(s[0], range(s[0].n()), s[1], range(s[1].n()), MNIST_MEAN, MNIST_STD);
            }
            case "repeated-mnist" -> {
                ImageSet[] s = Mnist.loadSplit(dir);
                ImageSet rep = RepeatedMnist.build(s[0], copies, 0.1f, seed);
                return new Split(rep, range(rep.n()), s[1], range(s[1].n()), MNIST_MEAN, MNIST_STD);
            }
            case "cifar10" -> {
                ImageSet[] s = Cifar10.loadSplit(dir);
                return new Split(s[0], range(s[0].n()), s[1], range(s[1].n()), Cifar10.MEAN.clone(), Cifar10.STD.clone());
            }
            case "npy" -> {
                ImageSet train = NpyImages.load(dir.resolve("train_images.npy"), dir.resolve("train_labels.npy"), NPY_MAX_CLASSES);
                ImageSet test = NpyImages.load(dir.resolve("test_images.npy"), dir.resolve("test_labels.npy"), NPY_MAX_CLASSES);
                int classes = Math.max(maxLabel(train), maxLabel(test)) + 1;
                NpyImages.ChannelStats stats = NpyImages.ChannelStats.of(train);
                train = withClasses(stats.normalizeInPlace(train), classes);
                test = withClasses(stats.normalizeInPlace(test), classes);
                if (test.height() != train.height() || test.width() != train.width() || test.channels() != train.channels())
                    throw new IOException(dir + ": test images are " + test.height() + " x " + test.width() + " x " + test.channels()
                            + ", training images " + train.height() + " x " + train.width() + " x " + train.channels());
                return new Split(train, range(train.n()), test, range(test.n()), stats.mean(), stats.std());
            }
            default -> throw new IllegalArgumentException("unknown dataset '" + name + "' (known: " + names() + ")");
        }
    }

    /** Labels of an npy data set must lie below this; the class count is the largest label seen plus one. */
    static final int NPY_MAX_CLASSES = 1 << 16;

    private static int maxLabel(ImageSet s) {
        return java.util.Arrays.stream(s.labels()).max().orElse(0);
    }

    private static ImageSet withClasses(ImageSet s, int classes) {
        return new ImageSet(s.images(), s.labels(), s.n(), s.height(), s.width(), s.channels(), classes);
    }

    public static int[] range(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) r[i] = i;
        return r;
    }

    /** A seeded uniform permutation of 0..n-1 (Fisher-Yates). */
    public static int[] permutation(int n, long seed) {
        int[] p = range(n);
        SplittableRandom rng = new SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1), t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }
}
