package dev.quarry.ssl;

import dev.quarry.data.Datasets;
import dev.quarry.data.ImageSet;
import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.Checkpoint;
import dev.quarry.nn.GlobalAvgPool;
import dev.quarry.nn.Linear;
import dev.quarry.nn.Module;
import dev.quarry.nn.Sequential;
import dev.quarry.util.Progress;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The encoder of a ResNet built by {@link dev.quarry.al.Models}: every layer up to and including the global
 * average pool (the trunk). Encoder checkpoints hold the trunk's tensors by the same names the full model uses, so
 * a pretrained trunk loads into a fresh classifier model of the same architecture.
 */
public final class Encoders {
    private Encoders() {}

    /** One past the global average pool of {@code model}. */
    public static int trunkEnd(Sequential model) {
        List<Module> layers = model.layers();
        for (int i = 0; i < layers.size(); i++)
            if (layers.get(i) instanceof GlobalAvgPool) return i + 1;
        throw new IllegalArgumentException("the model has no global average pool: encoders need --model resnet or resnet18");
    }

    public static Sequential trunk(Sequential model) {
        return new Sequential(model.layers().subList(0, trunkEnd(model)));
    }

    /** Feature width of the trunk: the input width of the first linear layer after it. */
    public static int featureDim(Sequential model) {
        List<Module> layers = model.layers();
        for (int i = trunkEnd(model); i < layers.size(); i++)
            if (layers.get(i) instanceof Linear l) return l.inFeatures();
        throw new IllegalArgumentException("no linear layer after the encoder");
    }

    /** The layers of {@code model} after its trunk (dropout, classifier). */
    public static List<Module> rest(Sequential model) {
        return new ArrayList<>(model.layers().subList(trunkEnd(model), model.layers().size()));
    }

    /** Loads an encoder checkpoint into {@code model}'s trunk; refuses one made for another architecture. */
    public static Map<String, String> load(Path ckpt, Sequential model, String modelName) throws IOException {
        Map<String, String> meta = Checkpoint.load(ckpt, trunk(model), null);
        if (!modelName.equals(meta.get("model")))
            throw new IOException(ckpt + ": an encoder for --model " + meta.get("model") + ", not " + modelName);
        return meta;
    }

    /**
     * Trunk features (dropout off, batch norm on running statistics) of {@code data[idx]} as a new image set of
     * [n][1][1][F] with the labels, for linear probes and linear-mode active learning.
     */
    public static ImageSet features(Sequential trunk, ImageSet data, int[] idx, Device device, Progress progress) {
        int chunk = Math.min(256, idx.length), p = data.pixels();
        float[] xb = new float[chunk * p];
        int[] yb = new int[chunk];
        float[] feats = null;
        int[] labels = new int[idx.length];
        int f = 0;
        progress.begin("features", idx.length);
        try (Tensor x = Tensor.empty(device, chunk, data.height(), data.width(), data.channels())) {
            for (int start = 0; start < idx.length; start += chunk) {
                int m = Math.min(chunk, idx.length - start);
                data.gather(idx, start, m, xb, yb);
                Tensor xs = x.slice(0, m);
                xs.upload(m == chunk ? xb : java.util.Arrays.copyOf(xb, m * p));
                float[] h = trunk.forward(xs, false).toFloats();
                if (feats == null) {
                    f = h.length / m;
                    feats = new float[Math.multiplyExact(idx.length, f)];
                }
                System.arraycopy(h, 0, feats, start * f, h.length);
                System.arraycopy(yb, 0, labels, start, m);
                progress.advance(m);
            }
        } finally {
            progress.end();
        }
        return new ImageSet(feats, labels, idx.length, 1, 1, f, data.classes());
    }

    /**
     * The same split with every used image (training and test indices) replaced by the trunk's features,
     * standardised per feature with the training images' mean and std (a linear head on raw pooled features
     * trains slowly); indices are unchanged, so results name the same images.
     */
    public static Datasets.Split featureSplit(Sequential trunk, Datasets.Split data, Device device, Progress progress) {
        ImageSet train = scatter(features(trunk, data.train(), data.trainIdx(), device, progress), data.trainIdx(), data.train().n());
        ImageSet test = data.test() == data.train()
                ? train
                : scatter(features(trunk, data.test(), data.testIdx(), device, progress), data.testIdx(), data.test().n());
        if (data.test() == data.train()) {
            ImageSet t = features(trunk, data.test(), data.testIdx(), device, progress);
            int f = t.pixels();
            for (int j = 0; j < data.testIdx().length; j++) {
                System.arraycopy(t.images(), j * f, train.images(), data.testIdx()[j] * f, f);
                train.labels()[data.testIdx()[j]] = t.labels()[j];
            }
        }
        int f = train.pixels();
        double[] mean = new double[f], sq = new double[f];
        for (int i : data.trainIdx())
            for (int k = 0; k < f; k++) {
                double v = train.images()[i * f + k];
                mean[k] += v;
                sq[k] += v * v;
            }
        float[] mu = new float[f], sd = new float[f];
        for (int k = 0; k < f; k++) {
            mean[k] /= data.trainIdx().length;
            mu[k] = (float) mean[k];
            sd[k] = (float) Math.sqrt(Math.max(sq[k] / data.trainIdx().length - mean[k] * mean[k], 0) + 1e-10);
        }
        for (ImageSet s : test == train ? java.util.List.of(train) : java.util.List.of(train, test))
            for (int i = 0; i < s.images().length; i++) s.images()[i] = (s.images()[i] - mu[i % f]) / sd[i % f];
        return new Datasets.Split(train, data.trainIdx(), test, data.testIdx(), new float[0], new float[0]);
    }

    /** Features of data[idx] placed at their original indices of a set of n (rows not in idx stay zero). */
    private static ImageSet scatter(ImageSet compact, int[] idx, int n) {
        int f = compact.pixels();
        float[] x = new float[Math.multiplyExact(n, f)];
        int[] y = new int[n];
        for (int j = 0; j < idx.length; j++) {
            System.arraycopy(compact.images(), j * f, x, idx[j] * f, f);
            y[idx[j]] = compact.labels()[j];
        }
        return new ImageSet(x, y, n, 1, 1, f, compact.classes());
    }
}
