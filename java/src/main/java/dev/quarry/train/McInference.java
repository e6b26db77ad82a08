package dev.quarry.train;

import dev.quarry.data.ImageSet;
import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.Dropout;
import dev.quarry.nn.MaxPool2x2;
import dev.quarry.nn.Module;
import dev.quarry.nn.Relu;
import dev.quarry.nn.Sequential;
import dev.quarry.util.Progress;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;

/**
 * Consistent MC-dropout inference: sample k uses the same dropout masks for every input (mask index k), and the
 * layers before the first dropout run once per input, not K times. So do the layers right after the first dropout
 * that commute with it exactly: ReLU, and a 2x2 max pool after a per-channel (Dropout2d) mask. Each mask value is 0
 * or a positive scale s, and x -> fl(s * x) is non-decreasing and keeps the sign, so relu(fl(s * x)) =
 * fl(s * relu(x)) and max fl(s * x_i) = fl(s * max x_i) bit for bit (finite x; a zeroed unit is +0 either way). For
 * the MNIST ConvNet that moves pool and ReLU of the 24x24x32 map out of the K samples.
 *
 * <p>The K samples of a chunk of inputs then run as one stacked batch of K * n rows: the first dropout writes sample
 * k of every input straight from the prefix output into rows [k * n, (k + 1) * n) of its own buffer (no K copies of
 * the prefix output), the rest of the network runs once on the stacked rows in module buffers that are reused from
 * chunk to chunk, and the log-softmax outputs are swapped on the device into the acquisition layout [n][K][C],
 * written straight into the caller's tensor, which the acquisition engine reads in place.
 */
public final class McInference {
    /** Activation memory a chunk may use, roughly: the stacked suffix input times a few layers' buffers. */
    static final long CHUNK_BYTES = 256L << 20;

    /** Rows of one stacked suffix batch when the caller gives no memory budget (K copies of a slice of inputs). */
    static final int STACKED_ROWS = 4096;

    /** Runs once per input: the layers before the first dropout, then those hoisted over it. */
    private final Sequential prefix;
    /** The first dropout (null for a model without dropout). */
    private final Dropout first;
    /** Runs on the K stacked samples: the layers after the first dropout and the ones hoisted over it. */
    private final Sequential suffix;
    private final List<Dropout> later;
    /** Layers before the first dropout (the first layers of {@link #prefix}). */
    private final int beforeFirst;

    public McInference(Sequential model) {
        List<Module> layers = model.layers();
        int f = 0;
        while (f < layers.size() && !(layers.get(f) instanceof Dropout)) f++;
        this.beforeFirst = f;
        if (f == layers.size()) {
            this.prefix = model;
            this.first = null;
            this.suffix = new Sequential(List.of());
        } else {
            this.first = (Dropout) layers.get(f);
            int j = f + 1;
            while (j < layers.size() && commutesWith(first, layers.get(j))) j++;
            List<Module> once = new ArrayList<>(layers.subList(0, f));
            once.addAll(layers.subList(f + 1, j));
            this.prefix = new Sequential(once);
            this.suffix = new Sequential(layers.subList(j, layers.size()));
        }
        this.later = suffix.layers().stream().filter(m -> m instanceof Dropout).map(m -> (Dropout) m).toList();
    }

    /** Whether {@code layer}, right after {@code drop}, gives bit-identical results when it runs before it. */
    static boolean commutesWith(Dropout drop, Module layer) {
        return layer instanceof Relu || (layer instanceof MaxPool2x2 && drop.channelwise());
    }

    /** Layers that run once per input (before the first dropout, or hoisted over it): for tests. */
    int layersOnce() {
        return prefix.layers().size();
    }

    /** Writes log-softmax outputs of the inputs {@code x} [n][...] into {@code outNKC} [n][K][C] (same device). */
    public void logProbsInto(Tensor x, int samples, Tensor outNKC) {
        try (Scratch scratch = new Scratch()) {
            run(x, samples, c -> checkedOut(outNKC, x.dim(0), samples, c), scratch);
        }
    }

    private static Tensor checkedOut(Tensor outNKC, int n, int samples, int c) {
        if (outNKC.rank() != 3 || outNKC.dim(0) != n || outNKC.dim(1) != samples || outNKC.dim(2) != c)
            throw new IllegalArgumentException("MC output " + outNKC.describe() + " is not [" + n + "][" + samples + "][" + c + "]");
        return outNKC;
    }

    /**
     * Log-softmax outputs [n][k][c] (flattened, on the host) for the inputs {@code x} [n][...], in slices of at most
     * {@link #STACKED_ROWS} / k inputs so the stacked batch stays bounded.
     */
    public float[] logProbs(Tensor x, int samples) {
        return logProbs(x, samples, STACKED_ROWS);
    }

    /** As {@link #logProbs(Tensor, int)} with slices of at most {@code stackedRows} / k inputs. */
    float[] logProbs(Tensor x, int samples, int stackedRows) {
        if (samples < 1) throw new IllegalArgumentException("MC samples must be >= 1, got " + samples);
        int n = x.dim(0), slice = Math.max(1, Math.min(n, stackedRows / samples));
        Tensor[] made = new Tensor[1];
        try (Scratch scratch = new Scratch()) {
            for (int start = 0; start < n; start += slice) {
                Tensor xs = x.slice(start, Math.min(slice, n - start));
                int from = start;
                run(xs, samples, c -> {
                    if (made[0] == null) made[0] = Tensor.empty(x.device(), n, samples, c);
                    return made[0].slice(from, xs.dim(0));
                }, scratch);
            }
            return made[0].toFloats();
        } finally {
            if (made[0] != null) made[0].close();
        }
    }

    /**
     * The prefix once, the first dropout's K samples stacked, the suffix once on them, log-softmax into scratch
     * [K][n][C], then the swap into the tensor {@code out(C)} gives.
     */
    private void run(Tensor x, int samples, IntFunction<Tensor> out, Scratch scratch) {
        if (samples < 1) throw new IllegalArgumentException("MC samples must be >= 1, got " + samples);
        int n = x.dim(0), rows = Math.multiplyExact(samples, n);
        Tensor h = prefix.forward(x, false);
        try {
            for (Dropout drop : later) drop.useMcSamples(0, n);
            Tensor logits = first == null ? h : suffix.forward(first.forwardMcStacked(h, samples), false);
            int c = logits.dim(1);
            Tensor outNKC = out.apply(c);
            Tensor lpKNC = scratch.get(x.device(), (long) rows * c).view(samples, n, c);
            if (first == null) {
                // no dropout: every sample is the same deterministic output
                Ops.logSoftmaxForward(logits, lpKNC.slice(0, 1).view(n, c));
                for (int k = 1; k < samples; k++) lpKNC.slice(k, 1).copyFrom(lpKNC.slice(0, 1));
            } else {
                Ops.logSoftmaxForward(logits, lpKNC.view(rows, c));
            }
            Ops.swap01(lpKNC, outNKC);
        } finally {
            for (Dropout drop : later) drop.useMcSample(-1);
        }
    }

    /** One growing buffer for the log-softmax outputs of a call's chunks, freed when the call ends. */
    private static final class Scratch implements AutoCloseable {
        private Tensor t;

        Tensor get(Device d, long numel) {
            if (t == null || t.numel() < numel) {
                close();
                t = Tensor.empty(d, Math.toIntExact(numel));
            }
            return t.numel() == numel ? t : t.slice(0, (int) numel);
        }

        @Override
        public void close() {
            if (t != null) t.close();
            t = null;
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
            try (Tensor x = Tensor.empty(device, chunk, data.height(), data.width(), data.channels()); Scratch scratch = new Scratch()) {
                for (int start = 0; start < idx.length; start += chunk) {
                    int m = Math.min(chunk, idx.length - start);
                    data.gather(idx, start, m, xb, yb);
                    Tensor xs = x.slice(0, m);
                    xs.upload(m == chunk ? xb : Arrays.copyOf(xb, m * p));
                    Tensor dst = out.slice(start, m);
                    run(xs, samples, cc -> checkedOut(dst, xs.dim(0), samples, cc), scratch);
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

    /**
     * Inputs per chunk: K stacked copies of the first dropout's input (and a few suffix buffers of that size) fit the
     * budget. The layers hoisted over the first dropout make the stacked rows smaller than this rule assumes, but the
     * rule stays as it was so that chunk boundaries, and with them the results, stay bit-identical: OpenBLAS picks its
     * GEMM kernel by matrix size (a small-matrix kernel sums in another order), so a tail chunk's rows can differ in
     * the last bit between two chunkings.
     */
    private int chunkImages(ImageSet data, int[] idx, int samples, Device device) {
        if (idx.length == 0) throw new IllegalArgumentException("MC inference over an empty set");
        long rowFloats;
        float[] one = new float[data.pixels()];
        data.gather(idx, 0, 1, one, new int[1]);
        try (Tensor x1 = Tensor.of(device, one, 1, data.height(), data.width(), data.channels())) {
            Tensor h = x1;
            for (int i = 0; i < beforeFirst; i++) h = prefix.layers().get(i).forward(h, false);
            rowFloats = Math.max(h.numel(), data.pixels());
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
