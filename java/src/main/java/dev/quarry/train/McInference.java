package dev.quarry.train;

import dev.quarry.data.ImageSet;
import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.Dropout;
import dev.quarry.nn.Module;
import dev.quarry.nn.Sequential;
import dev.quarry.util.Progress;
import java.util.List;

/**
 * Consistent MC-dropout inference: sample k uses the same dropout masks for every input (mask index k), and the
 * layers before the first dropout run once per input, not k times.
 */
public final class McInference {
    private final Sequential prefix, suffix;
    private final List<Dropout> dropouts;

    public McInference(Sequential model) {
        List<Module> layers = model.layers();
        int first = 0;
        while (first < layers.size() && !(layers.get(first) instanceof Dropout)) first++;
        this.prefix = new Sequential(layers.subList(0, first));
        this.suffix = new Sequential(layers.subList(first, layers.size()));
        this.dropouts = layers.stream().filter(m -> m instanceof Dropout).map(m -> (Dropout) m).toList();
    }

    /**
     * Log-softmax outputs [n][k][c] (flattened) for the inputs {@code x} [n][...]: the prefix once, then the
     * suffix once per MC sample.
     */
    public float[] logProbs(Tensor x, int samples) {
        Device d = x.device();
        Tensor h = prefix.forward(x, false);
        float[] out = null;
        int n = x.dim(0);
        Tensor lp = null;
        try {
            for (int k = 0; k < samples; k++) {
                for (Dropout drop : dropouts) drop.useMcSample(k);
                Tensor logits = suffix.forward(h, false);
                int c = logits.dim(1);
                if (lp == null) {
                    lp = Tensor.empty(d, n, c);
                    out = new float[n * samples * c];
                }
                Ops.logSoftmaxForward(logits, lp);
                float[] s = lp.toFloats();
                for (int i = 0; i < n; i++) System.arraycopy(s, i * c, out, (i * samples + k) * c, c);
            }
        } finally {
            for (Dropout drop : dropouts) drop.useMcSample(-1);
            if (lp != null) lp.close();
        }
        return out;
    }

    /**
     * Log-softmax outputs [idx.length][k][c] for {@code data[idx]}, computed in chunks of pool points so memory
     * stays bounded; the masks depend only on k, so chunking does not change the result.
     */
    public float[] logProbs(ImageSet data, int[] idx, int samples, Device device, Progress progress) {
        int chunk = Math.min(Evaluation.CHUNK, idx.length), p = data.pixels(), c = data.classes();
        float[] out = new float[Math.multiplyExact(Math.multiplyExact(idx.length, samples), c)];
        float[] xb = new float[chunk * p];
        int[] yb = new int[chunk];
        progress.begin("MC inference", idx.length);
        try (Tensor x = Tensor.empty(device, chunk, data.height(), data.width(), data.channels())) {
            for (int start = 0; start < idx.length; start += chunk) {
                int m = Math.min(chunk, idx.length - start);
                data.gather(idx, start, m, xb, yb);
                Tensor xs = x.slice(0, m);
                xs.upload(m == chunk ? xb : java.util.Arrays.copyOf(xb, m * p));
                float[] part = logProbs(xs, samples);
                System.arraycopy(part, 0, out, start * samples * c, part.length);
                progress.advance(m);
            }
        } finally {
            progress.end();
        }
        return out;
    }

    /** Accuracy of the MC-mean prediction (argmax of the mean probability over samples). */
    public static double accuracy(float[] logProbs, int[] labels, int samples, int classes) {
        int correct = 0;
        for (int i = 0; i < labels.length; i++) {
            int best = 0;
            double bestP = -1;
            for (int j = 0; j < classes; j++) {
                double p = 0;
                for (int k = 0; k < samples; k++) p += Math.exp(logProbs[(i * samples + k) * classes + j]);
                if (p > bestP) {
                    bestP = p;
                    best = j;
                }
            }
            if (best == labels[i]) correct++;
        }
        return correct / (double) labels.length;
    }
}
