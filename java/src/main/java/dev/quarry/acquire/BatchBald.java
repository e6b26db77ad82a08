package dev.quarry.acquire;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import dev.quarry.util.Progress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

/**
 * Greedy BatchBALD (Kirsch, van Amersfoort, Gal 2019): a(A) = H(y_A) - sum_{i in A} H_c(i), grown one point at a
 * time. The joint entropy is exact while c^|A| <= mcConfigs (all configurations, built by row-wise Kronecker
 * updates) and importance-sampled beyond (mcConfigs / k configurations per MC sample, re-drawn every step and
 * shared by all candidates of that step). The pool's probabilities live on the device in float64 chunks: kept
 * resident when they fit the budget, re-streamed every step otherwise.
 */
final class BatchBald {
    private final Device device;
    private final int chunkRows;
    private final Progress progress;

    BatchBald(Device device, int chunkRows, Progress progress) {
        this.device = device;
        this.chunkRows = chunkRows;
        this.progress = progress;
    }

    Selection run(LogProbs pool, Acquirer.Request r, LinkedHashMap<String, Double> times) {
        final int n = pool.n(), k = pool.k(), c = pool.c(), b = r.batch();
        long t0 = System.nanoTime();
        Acquirer scorer = new Acquirer(device, (long) chunkRows * k * c * 8, Progress.NONE);
        double[] condEntropy = scorer.scores(pool, dev.quarry.engine.QuarryNative.QY_SCORE_COND_ENTROPY);
        double[] bald = scorer.scores(pool, dev.quarry.engine.QuarryNative.QY_SCORE_BALD);
        times.put("entropies", (System.nanoTime() - t0) / 1e9);

        boolean[] chosen = new boolean[n];
        long[] indices = new long[b];
        double[] scores = new double[b];
        List<Tensor> owned = new ArrayList<>();
        Tensor exact = null;
        try (Chunks chunks = new Chunks(pool)) {
            Tensor chosenProbs = track(owned, Tensor.empty(device, Tensor.DType.F64, b, k, c));
            // configurations of the sampled steps: one buffer reused by every step
            final long draws = Math.max(1, r.mcConfigs() / k);
            Tensor sampledP = null, sampledW = null;
            double sumCond = 0;
            double[] joint = new double[n];
            progress.begin("batchbald", (long) b * n);
            for (int step = 0; step < b; step++) {
                long ts = System.nanoTime();
                double[] objective;
                if (step == 0) {
                    objective = bald;
                } else {
                    Tensor p, w = null;
                    if (exact != null) {
                        p = exact;
                    } else {
                        if (sampledP == null) {
                            sampledP = track(owned, Tensor.empty(device, Tensor.DType.F64, (int) (draws * k), k));
                            sampledW = track(owned, Tensor.empty(device, Tensor.DType.F64, (int) (draws * k)));
                        }
                        p = sampledP;
                        w = sampledW;
                        Ops.jointSample(chosenProbs.slice(0, step), draws, r.seed(), step, p, w);
                    }
                    chunks.jointEntropy(p, w, joint);
                    objective = new double[n];
                    for (int x = 0; x < n; x++) objective[x] = joint[x] - sumCond - condEntropy[x];
                }
                int best = TopB.argmax(objective, chosen);
                if (best < 0) throw new IllegalStateException("no candidate left with a finite BatchBALD score at step " + (step + 1));
                chosen[best] = true;
                indices[step] = best;
                scores[step] = objective[best];
                sumCond += condEntropy[best];
                Tensor bestProbs = chunks.probsOf(best);
                chosenProbs.slice(step, 1).copyFrom(bestProbs);
                if (step + 1 < b) {
                    Tensor next = nextExact(exact, bestProbs, c, k, step + 1, r.mcConfigs());
                    if (exact != null) exact.close(); // replaced (or no longer needed once sampling starts)
                    exact = next;
                }
                times.put("step " + (step + 1), (System.nanoTime() - ts) / 1e9);
                progress.advance(n);
            }
        } finally {
            progress.end();
            for (int i = owned.size() - 1; i >= 0; i--) owned.get(i).close();
            if (exact != null) exact.close();
        }
        return new Selection(indices, scores, times);
    }

    /**
     * The exact configuration matrix [c^size][k] for the chosen set of size {@code size}, extending {@code prev}
     * (the matrix of the first size - 1 points, or null for size 1) by the newest point; null once c^size
     * exceeds the configuration budget. The caller owns the result.
     */
    private Tensor nextExact(Tensor prev, Tensor probsA, int c, int k, int size, int mcConfigs) {
        double rows = Math.pow(c, size);
        if (rows > mcConfigs || (prev == null && size > 1)) return null;
        Tensor base = prev != null ? prev : Tensor.empty(device, Tensor.DType.F64, 1, k);
        try {
            if (prev == null) fillOnes(base);
            Tensor next = Tensor.empty(device, Tensor.DType.F64, (int) rows, k);
            Ops.jointExtend(base, probsA.view(k, c), next);
            return next;
        } finally {
            if (prev == null) base.close();
        }
    }

    private static void fillOnes(Tensor t) {
        double[] ones = new double[(int) t.numel()];
        java.util.Arrays.fill(ones, 1.0);
        t.upload(ones);
    }

    private static Tensor track(List<Tensor> owned, Tensor t) {
        owned.add(t);
        return t;
    }

    /** The pool's float64 probabilities on the device, chunk by chunk. */
    private final class Chunks implements AutoCloseable {
        private final LogProbs pool;
        private final List<Tensor> resident = new ArrayList<>();
        private final Tensor streamed, single;
        private Tensor staging;
        private final boolean fits;

        Chunks(LogProbs pool) {
            this.pool = pool;
            int k = pool.k(), c = pool.c();
            this.fits = chunkRows >= pool.n();
            try {
                this.staging = Tensor.empty(device, pool.dtype(), chunkRows, k, c);
                this.single = Tensor.empty(device, Tensor.DType.F64, 1, k, c);
                if (fits) {
                    pool.uploadRows(0, pool.n(), staging);
                    resident.add(Tensor.empty(device, Tensor.DType.F64, pool.n(), k, c));
                    Ops.logpToProbs(staging.slice(0, pool.n()), resident.get(0));
                    staging.close(); // the resident float64 copy is all later steps read
                    staging = null;
                    streamed = null;
                } else {
                    streamed = Tensor.empty(device, Tensor.DType.F64, chunkRows, k, c);
                }
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        /** out[x] = joint entropy with candidate x, for every pool point. */
        void jointEntropy(Tensor p, Tensor w, double[] out) {
            try (Tensor h = Tensor.empty(device, Tensor.DType.F64, chunkRows)) {
                for (int start = 0; start < pool.n(); start += chunkRows) {
                    int m = Math.min(chunkRows, pool.n() - start);
                    Tensor probs = fits ? resident.get(0).slice(start, m) : load(start, m, streamed);
                    Tensor hs = h.slice(0, m);
                    Ops.jointEntropy(p, w, probs, hs);
                    System.arraycopy(hs.toDoubles(), 0, out, start, m);
                }
            }
        }

        Tensor probsOf(int x) {
            return fits ? resident.get(0).slice(x, 1) : load(x, 1, single);
        }

        private Tensor load(int start, int m, Tensor dst) {
            pool.uploadRows(start, m, staging);
            Tensor out = dst.slice(0, m);
            Ops.logpToProbs(staging.slice(0, m), out);
            return out;
        }

        @Override
        public void close() {
            for (Tensor t : resident) t.close();
            for (Tensor t : new Tensor[] {staging, single, streamed})
                if (t != null) t.close();
        }
    }
}
