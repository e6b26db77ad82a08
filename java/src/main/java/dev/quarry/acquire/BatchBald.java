package dev.quarry.acquire;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import dev.quarry.util.Progress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Greedy BatchBALD (Kirsch, van Amersfoort, Gal 2019): a(A) = H(y_A) - sum_{i in A} H_c(i), grown one point at a
 * time. The joint entropy is exact while c^|A| <= mcConfigs (all configurations, built by row-wise Kronecker
 * updates) and importance-sampled beyond (mcConfigs / k configurations per MC sample, re-drawn every step and
 * shared by all candidates of that step). The pool's probabilities live on the device in float64 chunks: kept
 * resident when they fit the budget, re-streamed every step otherwise.
 *
 * <p>Each step is either full (every candidate re-scored, one joint-entropy pass over the pool) or lazy (Minoux's
 * lazy greedy: see {@link #lazyStep}); {@link Greedy} picks which.
 */
final class BatchBald {
    /** Candidates per joint-entropy call in a lazy step. */
    static final int DEFAULT_BLOCK = 512;
    /** Standard errors of slack on sampled bounds in a lazy step. */
    static final double DEFAULT_SLACK_SIGMAS = 3.0;
    /** Relative slack for rounding when the joint is exact. */
    static final double EXACT_TOL = 1e-9;

    private final Device device;
    private final int chunkRows;
    private final Progress progress;
    private final int blockSize;
    private final double slackSigmas;

    BatchBald(Device device, int chunkRows, Progress progress) {
        this(device, chunkRows, progress, DEFAULT_BLOCK, DEFAULT_SLACK_SIGMAS);
    }

    BatchBald(Device device, int chunkRows, Progress progress, int blockSize, double slackSigmas) {
        if (blockSize < 1 || !(slackSigmas >= 0)) throw new IllegalArgumentException("block size >= 1 and slack >= 0");
        this.device = device;
        this.chunkRows = chunkRows;
        this.progress = progress;
        this.blockSize = blockSize;
        this.slackSigmas = slackSigmas;
    }

    Selection run(LogProbs pool, Acquirer.Request r, LinkedHashMap<String, Double> times) {
        final int n = pool.n(), k = pool.k(), c = pool.c(), b = r.batch();
        final boolean lazy = r.greedy() == Greedy.LAZY;
        long t0 = System.nanoTime();
        Acquirer scorer = new Acquirer(device, (long) chunkRows * k * c * 8, Progress.NONE);
        double[] condEntropy = scorer.scores(pool, dev.quarry.engine.QuarryNative.QY_SCORE_COND_ENTROPY);
        double[] bald = scorer.scores(pool, dev.quarry.engine.QuarryNative.QY_SCORE_BALD);
        times.put("entropies", (System.nanoTime() - t0) / 1e9);

        boolean[] chosen = new boolean[n];
        long[] indices = new long[b];
        double[] scores = new double[b];
        // lazy: each candidate's last computed marginal gain a(A + x) - a(A), an upper bound on its gain now
        // (submodularity); before step 2 that is its BALD score, a({x}) - a(empty)
        double[] bound = lazy ? bald.clone() : null;
        List<Map<String, Object>> stats = new ArrayList<>();
        List<Tensor> owned = new ArrayList<>();
        Tensor exact = null;
        try (Chunks chunks = new Chunks(pool)) {
            Tensor chosenProbs = track(owned, Tensor.empty(device, Tensor.DType.F64, b, k, c));
            // configurations of the sampled steps: one buffer reused by every step
            final long draws = Math.max(1, r.mcConfigs() / k);
            Tensor sampledP = null, sampledW = null;
            double sumCond = 0;
            double[] joint = lazy ? null : new double[n];
            progress.begin("batchbald", (long) b * n);
            for (int step = 0; step < b; step++) {
                long ts = System.nanoTime();
                Map<String, Object> st = new LinkedHashMap<>();
                st.put("step", step + 1);
                int best;
                double bestScore;
                if (step == 0) {
                    best = TopB.argmax(bald, chosen);
                    bestScore = best < 0 ? Double.NaN : bald[best];
                    st.put("evaluated", n); // the BALD pass
                    st.put("blocks", 0);
                    st.put("joint", "none");
                    st.put("slack", 0.0);
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
                    st.put("joint", w == null ? "exact" : "sampled");
                    if (lazy) {
                        LazyStep ls = lazyStep(chunks, p, w, (int) draws, bound, chosen, condEntropy, sumCond, scores[step - 1]);
                        best = ls.best;
                        bestScore = ls.bestScore;
                        st.put("evaluated", ls.evaluated);
                        st.put("blocks", ls.blocks);
                        st.put("slack", ls.slack);
                        if (w != null) st.put("std_error", ls.stdError);
                    } else {
                        int calls = chunks.jointEntropy(p, w, joint);
                        double[] objective = new double[n];
                        for (int x = 0; x < n; x++) objective[x] = joint[x] - sumCond - condEntropy[x];
                        best = TopB.argmax(objective, chosen);
                        bestScore = best < 0 ? Double.NaN : objective[best];
                        st.put("evaluated", n);
                        st.put("blocks", calls);
                        st.put("slack", 0.0);
                    }
                }
                if (best < 0) throw new IllegalStateException("no candidate left with a finite BatchBALD score at step " + (step + 1));
                chosen[best] = true;
                indices[step] = best;
                scores[step] = bestScore;
                sumCond += condEntropy[best];
                Tensor bestProbs = chunks.probsOf(best);
                chosenProbs.slice(step, 1).copyFrom(bestProbs);
                if (step + 1 < b) {
                    Tensor next = nextExact(exact, bestProbs, c, k, step + 1, r.mcConfigs());
                    if (exact != null) exact.close(); // replaced (or no longer needed once sampling starts)
                    exact = next;
                }
                double sec = (System.nanoTime() - ts) / 1e9;
                times.put("step " + (step + 1), sec);
                st.put("seconds", sec);
                stats.add(st);
                progress.advance(n);
            }
        } finally {
            progress.end();
            for (int i = owned.size() - 1; i >= 0; i--) owned.get(i).close();
            if (exact != null) exact.close();
        }
        return new Selection(indices, scores, times, stats);
    }

    /** Result of one lazy greedy step. */
    private record LazyStep(int best, double bestScore, int evaluated, int blocks, double slack, double stdError) {}

    /**
     * One lazy greedy step. Candidates are visited in order of their bound (largest first, lower index first on
     * equal bounds) and re-scored in blocks of up to {@code blockSize} (one joint-entropy call each); the step
     * stops once no unvisited candidate's a(A) + bound + slack reaches the best fresh objective. Fresh objectives
     * are computed exactly as the full step computes them (joint - sum of H_c - H_c(x)), and the winner is the
     * largest fresh objective, lower index on ties, so the pick equals the full step's whenever every skipped
     * candidate's true gain is below its bound + slack. Exact joint: slack = EXACT_TOL (1 + |a(A)| + sum H_c),
     * covering rounding only. Sampled joint: slack = slackSigmas standard errors of the best candidate's joint
     * entropy estimate (stratified over the K proposal components), at least the exact slack.
     */
    private LazyStep lazyStep(Chunks chunks, Tensor p, Tensor w, int draws, double[] bound, boolean[] chosen, double[] condEntropy,
                              double sumCond, double aPrev) {
        final int n = bound.length;
        int[] order = byBound(bound, chosen);
        double tol = EXACT_TOL * (1 + Math.abs(aPrev) + Math.abs(sumCond));
        double slack = tol, se = Double.NaN;
        int bestIdx = -1, evaluated = 0, blocks = 0, pos = 0;
        double bestObj = Double.NEGATIVE_INFINITY;
        int cap = Math.min(blockSize, n);
        int[] blk = new int[cap];
        double[] h = new double[cap];
        while (pos < order.length) {
            if (bestIdx >= 0 && !(aPrev + bound[order[pos]] + slack >= bestObj)) break;
            int m = 0;
            while (pos < order.length && m < cap && (bestIdx < 0 || aPrev + bound[order[pos]] + slack >= bestObj)) blk[m++] = order[pos++];
            int[] sorted = java.util.Arrays.copyOf(blk, m);
            java.util.Arrays.sort(sorted);
            chunks.jointEntropyOf(sorted, p, w, h);
            blocks++;
            evaluated += m;
            for (int i = 0; i < m; i++) {
                int x = sorted[i];
                double obj = h[i] - sumCond - condEntropy[x];
                bound[x] = obj - aPrev;
                if (obj > bestObj || (obj == bestObj && x < bestIdx)) {
                    bestObj = obj;
                    bestIdx = x;
                }
            }
            if (w != null && blocks == 1 && bestIdx >= 0) {
                se = stdError(p, w, draws, chunks.probsOf(bestIdx));
                slack = Math.max(tol, slackSigmas * se);
            }
        }
        return new LazyStep(bestIdx, bestIdx < 0 ? Double.NaN : bestObj, evaluated, blocks, slack, se);
    }

    /** Candidates not yet chosen, by bound (largest first), lower index first on equal bounds; NaN bounds last. */
    private static int[] byBound(double[] bound, boolean[] chosen) {
        Integer[] idx = new Integer[bound.length];
        int m = 0;
        for (int x = 0; x < bound.length; x++)
            if (!chosen[x]) idx[m++] = x;
        java.util.Arrays.sort(idx, 0, m, (x, y) -> {
            double a = bound[x], bb = bound[y];
            boolean na = Double.isNaN(a), nb = Double.isNaN(bb);
            if (na != nb) return na ? 1 : -1;
            if (!na && a != bb) return a > bb ? -1 : 1;
            return Integer.compare(x, y);
        });
        int[] out = new int[m];
        for (int i = 0; i < m; i++) out[i] = idx[i];
        return out;
    }

    /**
     * Standard error of the sampled joint-entropy estimate for one candidate (probs [1][k][c]): the estimate is
     * (1/K) sum_kk (1/S) sum_j t_{kk,j} with t_r = -(1/q_r) sum_c J[r][c] log J[r][c] = M' w_r (-sum_c J log J),
     * rows r = kk S + j drawn from proposal component kk, so SE^2 = (1/K^2) sum_kk s_kk^2 / S with s_kk^2 the
     * sample variance of t within component kk (S = 1: the plain variance over all rows / M'). Computed on the
     * host from a download of P and w: O(M' K C) work, once per sampled step.
     */
    static double stdError(Tensor p, Tensor w, int draws, Tensor candidate) {
        int rows = p.dim(0), k = p.dim(1), c = candidate.dim(2);
        double[] pp = p.toDoubles(), ww = w.toDoubles(), px = candidate.toDoubles();
        double[] t = new double[rows];
        double[] jr = new double[c];
        for (int r = 0; r < rows; r++) {
            if (ww[r] == 0) continue;
            java.util.Arrays.fill(jr, 0);
            for (int kk = 0; kk < k; kk++) {
                double prk = pp[r * k + kk];
                for (int j = 0; j < c; j++) jr[j] += prk * px[kk * c + j];
            }
            double e = 0;
            for (int j = 0; j < c; j++) {
                double v = jr[j] / k;
                if (v > 0) e -= v * Math.log(v);
            }
            t[r] = (double) rows * ww[r] * e;
        }
        if (draws < 2 || rows != (long) draws * k) {
            double mean = 0, var = 0;
            for (double v : t) mean += v;
            mean /= rows;
            for (double v : t) var += (v - mean) * (v - mean);
            return rows < 2 ? 0 : Math.sqrt(var / (rows - 1) / rows);
        }
        double sum = 0;
        for (int kk = 0; kk < k; kk++) {
            double mean = 0, var = 0;
            for (int j = 0; j < draws; j++) mean += t[kk * draws + j];
            mean /= draws;
            for (int j = 0; j < draws; j++) {
                double d = t[kk * draws + j] - mean;
                var += d * d;
            }
            sum += var / (draws - 1) / draws;
        }
        return Math.sqrt(sum) / k;
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
        private Tensor staging, gathered, gatheredH;
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

        /** out[x] = joint entropy with candidate x, for every pool point; returns the number of op calls. */
        int jointEntropy(Tensor p, Tensor w, double[] out) {
            int calls = 0;
            try (Tensor h = Tensor.empty(device, Tensor.DType.F64, chunkRows)) {
                for (int start = 0; start < pool.n(); start += chunkRows) {
                    int m = Math.min(chunkRows, pool.n() - start);
                    Tensor probs = fits ? resident.get(0).slice(start, m) : load(start, m, streamed);
                    Tensor hs = h.slice(0, m);
                    Ops.jointEntropy(p, w, probs, hs);
                    System.arraycopy(hs.toDoubles(), 0, out, start, m);
                    calls++;
                }
            }
            return calls;
        }

        /**
         * out[i] = joint entropy with candidate idx[i] (idx ascending, at most the block size): the candidates'
         * probabilities are gathered into one block (runs of consecutive indices copied at once) and scored by
         * one joint-entropy call.
         */
        void jointEntropyOf(int[] idx, Tensor p, Tensor w, double[] out) {
            int m = idx.length;
            if (gathered == null || gathered.dim(0) < m) {
                if (gathered != null) gathered.close();
                if (gatheredH != null) gatheredH.close();
                gathered = null;
                gatheredH = null;
                gathered = Tensor.empty(device, Tensor.DType.F64, Math.max(m, Math.min(blockSize, pool.n())), pool.k(), pool.c());
                gatheredH = Tensor.empty(device, Tensor.DType.F64, gathered.dim(0));
            }
            Tensor g = gathered.slice(0, m);
            for (int i = 0; i < m; ) {
                int j = i + 1;
                while (j < m && idx[j] == idx[j - 1] + 1 && (fits || j - i < chunkRows)) j++;
                int run = j - i;
                if (fits) {
                    g.slice(i, run).copyFrom(resident.get(0).slice(idx[i], run));
                } else {
                    pool.uploadRows(idx[i], run, staging);
                    Ops.logpToProbs(staging.slice(0, run), g.slice(i, run));
                }
                i = j;
            }
            Tensor hs = gatheredH.slice(0, m);
            Ops.jointEntropy(p, w, g, hs);
            System.arraycopy(hs.toDoubles(), 0, out, 0, m);
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
            for (Tensor t : new Tensor[] {staging, single, streamed, gathered, gatheredH})
                if (t != null) t.close();
        }
    }
}
