package dev.quarry.al;

import dev.quarry.acquire.Acquirer;
import dev.quarry.acquire.ClassBalanced;
import dev.quarry.acquire.LogProbs;
import dev.quarry.acquire.Selection;
import dev.quarry.data.Datasets;
import dev.quarry.data.ImageSet;
import dev.quarry.engine.Device;
import dev.quarry.nn.Checkpoint;
import dev.quarry.nn.Optimizer;
import dev.quarry.nn.Sequential;
import dev.quarry.train.Evaluation;
import dev.quarry.train.McInference;
import dev.quarry.train.Trainer;
import dev.quarry.util.Progress;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The pool-based loop: train on the labelled set, evaluate on the test set, score the unlabelled pool with
 * consistent MC dropout, pick a batch, ask the oracle, repeat until the label budget or the target accuracy.
 * Every random choice of round r is a function of (seed, r), so a run resumed after round r ends with the same
 * files as one that was never interrupted (CPU backend; timing columns aside).
 */
public final class ActiveLearning {
    private final AlConfig cfg;
    private final Datasets.Split data;
    private final ImageSet train;
    private final int[] valIdx, poolIdx;
    private final Device device;
    private final Progress progress;
    private final PrintStream log;
    private final Results results;
    private final RunState state;
    private final Strategies.Spec strategy;
    /** Return after this many completed rounds, as if the process had been killed there (tests of --resume). */
    int roundLimit = Integer.MAX_VALUE;

    /**
     * Prepares a run: the validation split and the initial labelled set are drawn here (or taken from
     * {@code resumed}). {@code log} (may be null) gets one line per round.
     */
    public ActiveLearning(AlConfig cfg, Datasets.Split data, Device device, Path out, RunState resumed, Progress progress, PrintStream log)
            throws IOException {
        this.cfg = cfg;
        this.data = data;
        this.device = device;
        this.progress = progress;
        this.log = log;
        this.strategy = Strategies.parse(cfg.strategy());
        if (!"linear".equals(cfg.encoderMode())) Models.check(cfg.model(), cfg.dropout(), cfg.dropoutPlacement(), data.train());
        int[] perm = Datasets.permutation(data.trainIdx().length, mix(cfg.seed(), -1, 1));
        if (cfg.valSize() >= data.trainIdx().length)
            throw new IllegalArgumentException("--val " + cfg.valSize() + " leaves no pool out of " + data.trainIdx().length + " training images");
        valIdx = new int[cfg.valSize()];
        poolIdx = new int[perm.length - cfg.valSize()];
        for (int i = 0; i < perm.length; i++) {
            int idx = data.trainIdx()[perm[i]];
            if (i < valIdx.length) valIdx[i] = idx;
            else poolIdx[i - valIdx.length] = idx;
        }
        Arrays.sort(valIdx);
        Arrays.sort(poolIdx);
        // observed labels: the oracle's answers overwrite this copy, so label noise reaches training
        this.train = new ImageSet(data.train().images(), data.train().labels().clone(), data.train().n(), data.train().height(),
                data.train().width(), data.train().channels(), data.train().classes());
        this.results = new Results(out, cfg, data.train().classes());
        if (resumed != null) {
            this.state = resumed;
            for (int j = 0; j < state.initial.length; j++) train.labels()[state.initial[j]] = state.initialLabels[j];
            for (RunState.Pick p : state.picks) train.labels()[p.index()] = p.label();
        } else {
            this.state = new RunState();
            state.initial = initialSet();
            state.initialLabels = new int[state.initial.length];
            for (int j = 0; j < state.initial.length; j++) state.initialLabels[j] = oracle(state.initial[j]);
        }
        int budgetCheck = cfg.budget();
        if (budgetCheck < state.initial.length)
            throw new IllegalArgumentException("--budget " + budgetCheck + " is below the initial set of " + state.initial.length + " labels");
        if (cfg.acquisitionSize() > poolIdx.length - state.initial.length)
            throw new IllegalArgumentException("--acquisition-size " + cfg.acquisitionSize() + " is larger than the unlabelled pool of "
                    + (poolIdx.length - state.initial.length));
    }

    public RunState state() {
        return state;
    }

    /** Runs rounds until a stop condition; each completed round is on disk before the next starts. */
    public RunState run() throws IOException {
        Sequential carried = null;
        try {
            while (!state.finished && state.rounds.size() < roundLimit) {
                int r = state.rounds.size();
                int[] labelled = labelled();
                long t0 = System.nanoTime();
                Sequential model = carried;
                if (model == null) {
                    model = Models.create(cfg, train, device, cfg.warmStart() ? mix(cfg.seed(), 0, 2) : mix(cfg.seed(), r, 2));
                    if (cfg.warmStart() && state.checkpoint != null) Checkpoint.load(results.dir().resolve(state.checkpoint), model, null);
                } else if (!cfg.warmStart()) {
                    model.close();
                    model = Models.create(cfg, train, device, mix(cfg.seed(), r, 2));
                }
                carried = model;
                Trainer.FitResult fit;
                try (Optimizer opt = cfg.train().newOptimizer(model.params())) {
                    fit = Trainer.fit(model, opt, cfg.train(), train, labelled, train, valIdx, mix(cfg.seed(), r, 3), device, progress);
                }
                double trainS = seconds(t0);
                t0 = System.nanoTime();
                Evaluation.Metrics test = Evaluation.mc(model, data.test(), data.testIdx(), cfg.testSamples(), device, progress);
                double testS = seconds(t0);
                int[] counts = new int[train.classes()];
                for (int i : labelled) counts[train.labels()[i]]++;

                String stop = stopReason(labelled.length, test.accuracy());
                double inferS = 0, acquireS = 0;
                List<RunState.Pick> picks = new ArrayList<>();
                if (stop == null) {
                    int[] candidates = candidates(labelled, r);
                    Selection sel;
                    if (strategy.base() == dev.quarry.acquire.Strategy.RANDOM) {
                        t0 = System.nanoTime();
                        long[] idx = Acquirer.randomSubset(candidates.length, cfg.acquisitionSize(), mix(cfg.seed(), r, 4));
                        double[] sc = new double[idx.length];
                        Arrays.fill(sc, Double.NaN);
                        sel = new Selection(idx, sc, new java.util.LinkedHashMap<>());
                        acquireS = seconds(t0);
                    } else {
                        t0 = System.nanoTime();
                        LogProbs pool = LogProbs.ofTensor(new McInference(model).logProbsTensor(train, candidates, cfg.mcSamples(), device, progress));
                        inferS = seconds(t0);
                        t0 = System.nanoTime();
                        try (pool) {
                            Acquirer acq = new Acquirer(device, cfg.chunkMb() << 20, progress);
                            if (strategy.balanced()) {
                                double[] s = acq.scores(pool, strategy.base().scoreKind());
                                sel = ClassBalanced.select(s, pool.predictedClasses(), cfg.acquisitionSize(), counts);
                            } else {
                                sel = acq.select(pool, new Acquirer.Request(strategy.base(), cfg.acquisitionSize(), cfg.mcConfigs(), cfg.beta(),
                                        mix(cfg.seed(), r, 4), dev.quarry.acquire.Greedy.parse(cfg.greedy())));
                            }
                        }
                        acquireS = seconds(t0);
                    }
                    for (int j = 0; j < sel.indices().length; j++) {
                        int idx = candidates[(int) sel.indices()[j]];
                        int label = oracle(idx);
                        train.labels()[idx] = label;
                        picks.add(new RunState.Pick(r, idx, sel.scores()[j], label, data.train().labels()[idx]));
                    }
                }
                RunState.Round row = new RunState.Round(r, labelled.length, test.accuracy(), test.nll(), fit.bestValAccuracy(), fit.epochs(), fit.bestEpoch(),
                        counts, trainS, testS, inferS, acquireS);
                state.rounds.add(row);
                state.picks.addAll(picks);
                if (stop != null) {
                    state.finished = true;
                    state.stopReason = stop;
                }
                results.commit(state, cfg.warmStart() || state.finished ? model : null);
                if (log != null)
                    log.printf("round %d: %d labels, test accuracy %.4f, NLL %.4f (%d epochs; train %.1f s, test %.1f s, infer %.1f s, acquire %.1f s)%s%n",
                            r, labelled.length, test.accuracy(), test.nll(), fit.epochs(), trainS, testS, inferS, acquireS,
                            stop == null ? "" : "; stop: " + stop);
            }
        } finally {
            if (carried != null) carried.close();
        }
        return state;
    }

    private String stopReason(int labelled, double accuracy) {
        if (cfg.targetAccuracy() > 0 && accuracy >= cfg.targetAccuracy()) return "reached the target accuracy " + cfg.targetAccuracy();
        if (labelled >= cfg.budget()) return "reached the label budget " + cfg.budget();
        if (poolIdx.length - labelled < cfg.acquisitionSize()) return "the unlabelled pool is smaller than one batch";
        return null;
    }

    /** The labelled training indices: the initial set, then every pick in order. */
    int[] labelled() {
        int[] out = Arrays.copyOf(state.initial, state.initial.length + state.picks.size());
        for (int j = 0; j < state.picks.size(); j++) out[state.initial.length + j] = state.picks.get(j).index();
        return out;
    }

    /** Unlabelled pool points to score in round r: all of them, or a seeded subset of --pool-subset. */
    private int[] candidates(int[] labelled, int r) {
        boolean[] taken = new boolean[train.n()];
        for (int i : labelled) taken[i] = true;
        int[] rest = Arrays.stream(poolIdx).filter(i -> !taken[i]).toArray();
        if (cfg.poolSubset() == 0 || cfg.poolSubset() >= rest.length) return rest;
        long[] pick = Acquirer.randomSubset(rest.length, Math.max(cfg.poolSubset(), cfg.acquisitionSize()), mix(cfg.seed(), r, 5));
        int[] out = new int[pick.length];
        for (int j = 0; j < pick.length; j++) out[j] = rest[(int) pick[j]];
        Arrays.sort(out);
        return out;
    }

    private int[] initialSet() throws IOException {
        int c = train.classes();
        switch (cfg.initialMode()) {
            case "file" -> {
                int[] idx = IndexFile.read(Path.of(cfg.initialFile()));
                boolean[] inPool = new boolean[train.n()];
                for (int i : poolIdx) inPool[i] = true;
                boolean[] seen = new boolean[train.n()];
                for (int i : idx) {
                    if (i < 0 || i >= train.n()) throw new IllegalArgumentException(cfg.initialFile() + ": index " + i + " is outside the training set of " + train.n());
                    if (!inPool[i]) throw new IllegalArgumentException(cfg.initialFile() + ": index " + i + " is in the validation split");
                    if (seen[i]) throw new IllegalArgumentException(cfg.initialFile() + ": index " + i + " appears twice");
                    seen[i] = true;
                }
                return idx;
            }
            case "random" -> {
                long[] pick = Acquirer.randomSubset(poolIdx.length, cfg.initialSize(), mix(cfg.seed(), -1, 6));
                return Arrays.stream(pick).mapToInt(j -> poolIdx[(int) j]).toArray();
            }
            default -> {
                int[] perm = Datasets.permutation(poolIdx.length, mix(cfg.seed(), -1, 6));
                int[] want = new int[c];
                for (int j = 0; j < c; j++) want[j] = cfg.initialSize() / c + (j < cfg.initialSize() % c ? 1 : 0);
                int[] out = new int[cfg.initialSize()];
                int m = 0;
                for (int j : perm) {
                    int idx = poolIdx[j], y = data.train().labels()[idx];
                    if (want[y] > 0) {
                        want[y]--;
                        out[m++] = idx;
                        if (m == out.length) break;
                    }
                }
                if (m < out.length) throw new IllegalArgumentException("the pool has too few images of some class for a balanced initial set of " + out.length);
                return out;
            }
        }
    }

    /** The oracle: the true label, or with probability --label-noise a uniformly drawn wrong one (fixed per point). */
    private int oracle(int idx) {
        int y = data.train().labels()[idx];
        if (cfg.labelNoise() == 0) return y;
        SplittableRandom rng = new SplittableRandom(mix(cfg.seed(), idx, 7));
        if (rng.nextDouble() >= cfg.labelNoise()) return y;
        return (y + 1 + rng.nextInt(train.classes() - 1)) % train.classes();
    }

    /** A seed for one purpose in one round, from the run seed. */
    static long mix(long seed, long round, long purpose) {
        return new SplittableRandom(seed * 0x9E3779B97F4A7C15L + round * 0xBF58476D1CE4E5B9L + purpose * 0x94D049BB133111EBL).nextLong();
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
