package dev.quarry.acquire;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import dev.quarry.util.Progress;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.SplittableRandom;

/**
 * Picks a batch from a pool of MC log-probabilities with one strategy. The pool streams to the device in
 * chunks of at most {@code chunkBytes}, so pools larger than device memory score in bounded memory.
 */
public final class Acquirer {
    private final Device device;
    private final long chunkBytes;
    private final Progress progress;

    public Acquirer(Device device, long chunkBytes, Progress progress) {
        this.device = device;
        this.chunkBytes = chunkBytes;
        this.progress = progress;
    }

    /**
     * Parameters of one acquisition; {@code mcConfigs} and {@code greedy} apply to BatchBALD, {@code beta} to the
     * stochastic strategies.
     */
    public record Request(Strategy strategy, int batch, int mcConfigs, double beta, long seed, Greedy greedy) {
        public Request {
            if (greedy == null) greedy = Greedy.DEFAULT;
        }

        /** A request with the default greedy search ({@link Greedy#DEFAULT}). */
        public Request(Strategy strategy, int batch, int mcConfigs, double beta, long seed) {
            this(strategy, batch, mcConfigs, beta, seed, Greedy.DEFAULT);
        }
    }

    public Selection select(LogProbs pool, Request r) {
        if (r.batch() < 1 || r.batch() > pool.n())
            throw new IllegalArgumentException("batch size " + r.batch() + " must be between 1 and the pool size " + pool.n());
        if (r.mcConfigs() < 1) throw new IllegalArgumentException("--mc-configs must be positive, got " + r.mcConfigs());
        if (!(r.beta() > 0) || Double.isInfinite(r.beta())) throw new IllegalArgumentException("--beta must be positive and finite, got " + r.beta());
        LinkedHashMap<String, Double> times = new LinkedHashMap<>();
        if (r.strategy() == Strategy.BATCHBALD) return new BatchBald(device, chunkRows(pool, 8), progress).run(pool, r, times);
        if (r.strategy() == Strategy.RANDOM) {
            long t0 = System.nanoTime();
            long[] idx = randomSubset(pool.n(), r.batch(), r.seed());
            double[] scores = new double[idx.length];
            Arrays.fill(scores, Double.NaN);
            times.put("select", (System.nanoTime() - t0) / 1e9);
            return new Selection(idx, scores, times);
        }
        long t0 = System.nanoTime();
        double[] s = scores(pool, r.strategy().scoreKind);
        times.put("scores", (System.nanoTime() - t0) / 1e9);
        t0 = System.nanoTime();
        double[] keys = perturb(s, r);
        int[] top = TopB.select(keys, r.batch(), null);
        long[] idx = new long[top.length];
        double[] picked = new double[top.length];
        for (int j = 0; j < top.length; j++) {
            idx[j] = top[j];
            picked[j] = s[top[j]];
        }
        times.put("select", (System.nanoTime() - t0) / 1e9);
        return new Selection(idx, picked, times);
    }

    /** Rows per chunk so one chunk of [rows][k][c] elements of {@code elementBytes} stays within the budget. */
    int chunkRows(LogProbs pool, int elementBytes) {
        long perRow = (long) pool.k() * pool.c() * elementBytes;
        return (int) Math.max(1, Math.min(pool.n(), chunkBytes / perRow));
    }

    /** One score per pool point (a QY_SCORE_* kind), computed chunk by chunk on the device. */
    public double[] scores(LogProbs pool, int kind) {
        int rows = chunkRows(pool, pool.dtype() == Tensor.DType.F32 ? 4 : 8);
        double[] out = new double[pool.n()];
        progress.begin("scoring", pool.n());
        try (Tensor chunk = Tensor.empty(device, pool.dtype(), rows, pool.k(), pool.c());
             Tensor scores = Tensor.empty(device, Tensor.DType.F64, rows)) {
            for (int start = 0; start < pool.n(); start += rows) {
                int m = Math.min(rows, pool.n() - start);
                pool.uploadRows(start, m, chunk);
                Tensor s = scores.slice(0, m);
                Ops.acqScore(chunk.slice(0, m), s, kind);
                System.arraycopy(s.toDoubles(), 0, out, start, m);
                progress.advance(m);
            }
        } finally {
            progress.end();
        }
        return out;
    }

    /** Gumbel-perturbed keys for stochastic batch acquisition; the plain scores otherwise. */
    static double[] perturb(double[] s, Request r) {
        Strategy.Noise noise = r.strategy().noise;
        if (noise == Strategy.Noise.NONE) return s;
        SplittableRandom rng = new SplittableRandom(r.seed());
        double[] base = new double[s.length];
        if (noise == Strategy.Noise.SOFTRANK) {
            int[] order = TopB.select(s, s.length, null);
            for (int rank = 0; rank < order.length; rank++) base[order[rank]] = -Math.log(rank + 1.0);
        } else {
            for (int i = 0; i < s.length; i++) base[i] = noise == Strategy.Noise.POWER ? Math.log(Math.max(s[i], 0.0)) : s[i];
        }
        double scale = 1.0 / r.beta();
        for (int i = 0; i < s.length; i++) {
            double u = ((rng.nextLong() >>> 11) + 0.5) * 0x1.0p-53;
            base[i] += scale * -Math.log(-Math.log(u));
        }
        return base;
    }

    /** {@code b} distinct indices of 0..n-1, uniformly at random by {@code seed}, in draw order. */
    public static long[] randomSubset(int n, int b, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) perm[i] = i;
        long[] out = new long[b];
        for (int j = 0; j < b; j++) {
            int pick = j + rng.nextInt(n - j);
            int t = perm[j];
            perm[j] = perm[pick];
            perm[pick] = t;
            out[j] = perm[j];
        }
        return out;
    }
}
