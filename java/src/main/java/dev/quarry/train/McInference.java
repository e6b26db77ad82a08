package dev.quarry.train;

import dev.quarry.data.ImageSet;
import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.Dropout;
import dev.quarry.nn.Module;
import dev.quarry.nn.Sequential;
import dev.quarry.util.Progress;
import java.util.Arrays;
import java.util.List;

/**
 * Consistent MC-dropout inference: sample k uses the same dropout masks for every input (mask index k), and the
 * layers before the first dropout run once per input, not K times. The K samples of a chunk of inputs run as one
 * stacked batch of K * n rows; the log-softmax outputs are swapped on the device into the acquisition layout
 * [n][K][C] and written straight into a device tensor, which the acquisition engine reads in place.
 */
public final class McInference {
    /** Activation memory a chunk may use, roughly: the stacked suffix input times a few layers' buffers. */
    static final long CHUNK_BYTES = 256L << 20;

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

    /** Writes log-softmax outputs of the inputs {@code x} [n][...] into {@code outNKC} [n][K][C] (same device). */
    public void logProbsInto(Tensor x, int samples, Tensor outNKC) {
        run(x, samples, c -> {
            if (outNKC.rank() != 3 || outNKC.dim(0) != x.dim(0) || outNKC.dim(1) != samples || outNKC.dim(2) != c)
                throw new IllegalArgumentException("MC output " + outNKC.describe() + " is not [" + x.dim(0) + "][" + samples + "][" + c + "]");
            return outNKC;
        });
    }

    /**
     * Log-softmax outputs [n][k][c] (flattened, on the host) for the inputs {@code x} [n][...], in slices of at most
     * {@link #STACKED_ROWS} / k inputs so the stacked batch stays bounded.
     */
    public float[] logProbs(Tensor x, int samples) {
        int n = x.dim(0), slice = Math.max(1, Math.min(n, STACKED_ROWS / samples));
        Tensor[] made = new Tensor[1];
        try {
            for (int start = 0; start < n; start += slice) {
                Tensor xs = x.slice(start, Math.min(slice, n - start));
                int from = start;
                run(xs, samples, c -> {
                    if (made[0] == null) made[0] = Tensor.empty(x.device(), n, samples, c);
                    return made[0].slice(from, xs.dim(0));
                });
            }
            return made[0].toFloats();
        } finally {
            if (made[0] != null) made[0].close();
        }
    }

    /** Rows of one stacked suffix batch when the caller gives no memory budget (K copies of a slice of inputs). */
    static final int STACKED_ROWS = 4096;

    /** The prefix once, the suffix on K stacked copies, log-softmax, then the swap into the tensor {@code out(C)} gives. */
    private void run(Tensor x, int samples, java.util.function.IntFunction<Tensor> out) {
        Device d = x.device();
        int n = x.dim(0);
        Tensor h = prefix.forward(x, false);
        int[] shape = h.shape().clone();
        shape[0] = Math.multiplyExact(samples, n);
        try (Tensor stacked = Tensor.empty(d, shape)) {
            for (int k = 0; k < samples; k++) stacked.slice(k * n, n).copyFrom(h);
            for (Dropout drop : dropouts) drop.useMcSamples(0, n);
            Tensor logits = suffix.forward(stacked, false);
            int c = logits.dim(1);
            Tensor outNKC = out.apply(c);
            try (Tensor lpKNC = Tensor.empty(d, samples, n, c)) {
                Ops.logSoftmaxForward(logits, lpKNC.view(samples * n, c));
                Ops.swap01(lpKNC, outNKC);
            }
        } finally {
            for (Dropout drop : dropouts) drop.useMcSample(-1);
        }
    }

    /**
     * Log-softmax outputs [idx.length][k][c] for {@code data[idx]} as a device tensor the caller owns, computed in
     * chunks of inputs so that activation memory stays bounded; masks depend only on k, so chunking does not
     * change the result.
     */
    public Tensor logProbsTensor(ImageSet data, int[] idx, int samples, Device device, Progress progress) {
        int p = data.pixels(), c = data.classes();
        Tensor out = Tensor.empty(device, idx.length, samples, c);
        try {
            int chunk = chunkImages(data, idx, samples, device);
            float[] xb = new float[chunk * p];
            int[] yb = new int[chunk];
            progress.begin("MC inference", idx.length);
            try (Tensor x = Tensor.empty(device, chunk, data.height(), data.width(), data.channels())) {
                for (int start = 0; start < idx.length; start += chunk) {
                    int m = Math.min(chunk, idx.length - start);
                    data.gather(idx, start, m, xb, yb);
                    Tensor xs = x.slice(0, m);
                    xs.upload(m == chunk ? xb : Arrays.copyOf(xb, m * p));
                    logProbsInto(xs, samples, out.slice(start, m));
                    progress.advance(m);
                }
            } finally {
                progress.end();
            }
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** As {@link #logProbsTensor}, downloaded to the host. */
    public float[] logProbs(ImageSet data, int[] idx, int samples, Device device, Progress progress) {
        try (Tensor t = logProbsTensor(data, idx, samples, device, progress)) {
            return t.toFloats();
        }
    }

    /** Inputs per chunk: K stacked copies of the prefix output (and a few suffix buffers of that size) fit the budget. */
    private int chunkImages(ImageSet data, int[] idx, int samples, Device device) {
        if (idx.length == 0) throw new IllegalArgumentException("MC inference over an empty set");
        long rowFloats;
        float[] one = new float[data.pixels()];
        data.gather(idx, 0, 1, one, new int[1]);
        try (Tensor x1 = Tensor.of(device, one, 1, data.height(), data.width(), data.channels())) {
            rowFloats = Math.max(prefix.forward(x1, false).numel(), data.pixels());
        }
        long perImage = rowFloats * 4L * 4 * samples;
        return (int) Math.max(1, Math.min(Math.min(512, idx.length), CHUNK_BYTES / perImage));
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
