package dev.quarry.train;

import dev.quarry.data.ImageSet;
import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.Sequential;
import dev.quarry.util.Progress;

/**
 * Test and validation metrics. Deterministic evaluation runs the model with dropout off; MC evaluation uses the
 * mean over K consistent-dropout samples (the BatchBALD paper's test accuracy).
 */
public final class Evaluation {
    /** Images per forward pass: bounds activation memory (the ConvNet's first map is 74 KB per image). */
    static final int CHUNK = 512;

    private Evaluation() {}

    /** Accuracy and mean NLL of one evaluation. */
    public record Metrics(double accuracy, double nll) {}

    /** Accuracy with dropout off. */
    public static double accuracy(Sequential model, ImageSet data, int[] idx, Device device) {
        return deterministic(model, data, idx, device).accuracy();
    }

    public static Metrics deterministic(Sequential model, ImageSet data, int[] idx, Device device) {
        int chunk = Math.min(CHUNK, idx.length), p = data.pixels(), c = data.classes();
        float[] xb = new float[chunk * p];
        int[] yb = new int[chunk];
        int correct = 0;
        double nll = 0;
        try (Tensor x = Tensor.empty(device, chunk, data.height(), data.width(), data.channels()); Tensor lp = Tensor.empty(device, chunk, c)) {
            for (int start = 0; start < idx.length; start += chunk) {
                int m = Math.min(chunk, idx.length - start);
                data.gather(idx, start, m, xb, yb);
                Tensor xs = x.slice(0, m);
                xs.upload(m == chunk ? xb : java.util.Arrays.copyOf(xb, m * p));
                Tensor logits = model.forward(xs, false);
                Tensor l = lp.slice(0, m);
                Ops.logSoftmaxForward(logits, l);
                float[] v = l.toFloats();
                for (int i = 0; i < m; i++) {
                    int best = 0;
                    for (int j = 1; j < c; j++)
                        if (v[i * c + j] > v[i * c + best]) best = j;
                    if (best == yb[i]) correct++;
                    nll -= v[i * c + yb[i]];
                }
            }
        }
        return new Metrics(correct / (double) idx.length, nll / idx.length);
    }

    /** MC-mean accuracy and NLL over {@code samples} consistent-dropout samples ({@code samples} = 0: deterministic). */
    public static Metrics mc(Sequential model, ImageSet data, int[] idx, int samples, Device device, Progress progress) {
        if (samples == 0) return deterministic(model, data, idx, device);
        float[] lp = new McInference(model).logProbs(data, idx, samples, device, progress);
        int c = data.classes();
        int[] labels = new int[idx.length];
        for (int i = 0; i < idx.length; i++) labels[i] = data.labels()[idx[i]];
        double nll = 0;
        for (int i = 0; i < idx.length; i++) {
            double pr = 0;
            for (int k = 0; k < samples; k++) pr += Math.exp(lp[(i * samples + k) * c + labels[i]]) / samples;
            nll -= Math.log(Math.max(pr, 1e-300));
        }
        return new Metrics(McInference.accuracy(lp, labels, samples, c), nll / idx.length);
    }
}
