package dev.quarry.train;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.Dropout;
import dev.quarry.nn.Module;
import dev.quarry.nn.Sequential;
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
