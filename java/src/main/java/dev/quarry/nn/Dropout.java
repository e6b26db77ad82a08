package dev.quarry.nn;

import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;

/**
 * Dropout (per feature) or Dropout2d (per channel of an NHWC map) with Philox masks of (seed, layer, k, unit).
 * In training each row gets its own mask index k from a running counter. {@link #useMcSample} switches the layer
 * to consistent MC-dropout: every row of the next forward passes shares mask index k, whatever the data.
 */
public final class Dropout implements Module {
    private static final long MC_BASE = 1L << 62;

    private final float p;
    private final boolean channelwise;
    private final long seed;
    private final int layer;
    private final Buffer out = new Buffer(), dx = new Buffer();
    private long trainCounter;
    private long mcSample = -1, mcRows = 0;
    private long k0, rowsPerSample, spatial;
    private boolean active, stackedMc;

    public Dropout(float p, boolean channelwise, long seed, int layer) {
        if (!(p >= 0f && p < 1f)) throw new IllegalArgumentException("dropout p must be in [0, 1), got " + p);
        this.p = p;
        this.channelwise = channelwise;
        this.seed = seed;
        this.layer = layer;
    }

    /**
     * Where training masks continue from: each training row draws mask index counter, counter + 1, ... (below
     * the MC range). The trainer sets it per run so that a resumed run draws the same masks.
     */
    public void setTrainCounter(long counter) {
        if (counter < 0 || counter >= MC_BASE) throw new IllegalArgumentException("training mask counter out of range: " + counter);
        this.trainCounter = counter;
    }

    /**
     * MC inference over a stacked batch: rows [j * rowsPerSample, (j + 1) * rowsPerSample) use mask index
     * {@code kStart + j}, so K samples of n inputs run as one batch of K * n rows.
     */
    public void useMcSamples(long kStart, long rowsPerSample) {
        if (kStart < 0 || rowsPerSample < 1) throw new IllegalArgumentException("MC samples from " + kStart + ", " + rowsPerSample + " rows each");
        this.mcSample = kStart;
        this.mcRows = rowsPerSample;
    }

    /** Whether the mask is per channel of an NHWC map (Dropout2d) rather than per feature. */
    public boolean channelwise() {
        return channelwise;
    }

    /**
     * Consistent MC dropout of {@code samples} stacked samples of {@code x} [n][...], straight from {@code x}: rows
     * [k * n, (k + 1) * n) of the result [samples * n][...] are {@code x} with mask index k. The same values as
     * {@link #useMcSamples useMcSamples(0, n)} and a forward pass over K stacked copies of {@code x}, without making
     * the copies. The result is this layer's buffer; an inference-only pass (no backward).
     */
    public Tensor forwardMcStacked(Tensor x, int samples) {
        if (samples < 1) throw new IllegalArgumentException("MC samples must be >= 1, got " + samples);
        int n = x.dim(0);
        int[] shape = x.shape();
        shape[0] = Math.multiplyExact(samples, n);
        Tensor y = out.get(x.device(), shape);
        long sp = channelwise ? (long) x.dim(1) * x.dim(2) : 1;
        for (int k = 0; k < samples; k++) {
            Tensor yk = y.slice(k * n, n);
            if (p > 0f) Ops.dropout(x, yk, sp, p, seed, layer, MC_BASE + k, n);
            else yk.copyFrom(x);
        }
        active = false;
        stackedMc = true;
        return y;
    }

    /** Mask index for MC inference (k >= 0), or -1 to return to ordinary behaviour. */
    public void useMcSample(long k) {
        this.mcSample = k;
        this.mcRows = 0;
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        stackedMc = false;
        active = p > 0f && (training || mcSample >= 0);
        if (!active) return x;
        int rows = x.dim(0);
        spatial = channelwise ? (long) x.dim(1) * x.dim(2) : 1;
        if (mcSample >= 0) {
            k0 = MC_BASE + mcSample;
            rowsPerSample = mcRows > 0 ? mcRows : rows;
        } else {
            k0 = trainCounter;
            rowsPerSample = 1;
            trainCounter += rows;
        }
        Tensor y = out.get(x.device(), x.shape());
        Ops.dropout(x, y, spatial, p, seed, layer, k0, rowsPerSample);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        if (stackedMc) throw new IllegalStateException("no backward pass after forwardMcStacked (inference only)");
        if (!active) return dy;
        Tensor g = dx.get(dy.device(), dy.shape());
        Ops.dropout(dy, g, spatial, p, seed, layer, k0, rowsPerSample);
        return g;
    }

    @Override
    public void close() {
        out.close();
        dx.close();
    }
}
