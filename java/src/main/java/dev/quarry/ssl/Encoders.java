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
     * The same split with every image replaced by the trunk's features (indices unchanged, so results name the
     * same images), for linear probes and linear-mode runs.
     */
    public static Datasets.Split featureSplit(Sequential trunk, Datasets.Split data, Device device, Progress progress) {
        ImageSet train = features(trunk, data.train(), Datasets.range(data.train().n()), device, progress);
        ImageSet test = data.test() == data.train() ? train : features(trunk, data.test(), Datasets.range(data.test().n()), device, progress);
        return new Datasets.Split(train, data.trainIdx(), test, data.testIdx(), new float[0], new float[0]);
    }
}
