package dev.quarry.ssl;

import dev.quarry.data.Datasets;
import dev.quarry.data.ImageSet;
import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.Linear;
import dev.quarry.nn.Module;
import dev.quarry.nn.Optimizer;
import dev.quarry.nn.Param;
import dev.quarry.nn.Relu;
import dev.quarry.nn.Sequential;
import dev.quarry.train.Schedule;
import dev.quarry.train.TrainConfig;
import dev.quarry.util.Progress;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.LongFunction;

/**
 * Self-supervised pretraining of a ResNet trunk. SimCLR (Chen et al. 2020): two augmented views per image, a
 * 2-layer projection head, NT-Xent over the 2N embeddings. MoCo v2 (He et al. 2020; Chen et al. 2020): a query
 * encoder trained by InfoNCE against a momentum key encoder and a queue of earlier keys. Both use the fused native
 * losses; augmentations run on the device, seeded by (seed, step, image, view).
 */
public final class Pretrainer {
    /**
     * @param method   simclr or moco
     * @param tau      temperature
     * @param projDim  output width of the projection head
     * @param queue    MoCo queue length (keys)
     * @param momentum MoCo key-encoder momentum m
     */
    public record Config(String method, TrainConfig train, float tau, int projDim, int queue, float momentum, SimclrAugment augment) {
        public Config {
            if (!method.matches("simclr|moco")) throw new IllegalArgumentException("unknown --method '" + method + "' (simclr, moco)");
            if (!(tau > 0) || Float.isInfinite(tau)) throw new IllegalArgumentException("--tau must be positive and finite, got " + tau);
            if (projDim < 1) throw new IllegalArgumentException("--proj-dim must be >= 1, got " + projDim);
            if (method.equals("moco") && queue < train.batch())
                throw new IllegalArgumentException("--queue " + queue + " must hold at least one batch of " + train.batch() + " keys");
            if (!(momentum >= 0 && momentum <= 1)) throw new IllegalArgumentException("--momentum must be in [0, 1], got " + momentum);
            if (train.batch() < 2) throw new IllegalArgumentException("contrastive losses need a batch of at least 2 images");
        }
    }

    /** What a pretraining run did: steps and the mean loss of each epoch. */
    public record Result(long steps, double[] epochLoss) {}

    private final Config cfg;
    private final Device device;
    private final Progress progress;

    public Pretrainer(Config cfg, Device device, Progress progress) {
        this.cfg = cfg;
        this.device = device;
        this.progress = progress;
    }

    /** The trunk of {@code model} with a projection head (Linear F->F, ReLU, Linear F->projDim). */
    static Sequential withHead(Sequential model, int projDim, Device device, long seed) {
        int f = Encoders.featureDim(model);
        List<Module> layers = new ArrayList<>(Encoders.trunk(model).layers());
        layers.add(new Linear(device, f, f, seed, 100));
        layers.add(new Relu());
        layers.add(new Linear(device, f, projDim, seed, 101));
        return new Sequential(layers);
    }

    /**
     * Pretrains a model made by {@code build(seed)} (a ResNet from al.Models) on {@code data.train()[data.trainIdx()]},
     * labels unused, then hands its trained trunk to {@code save} before everything is closed.
     */
    public Result run(LongFunction<Sequential> build, Datasets.Split data, long seed, Consumer<Sequential> save) {
        try (Sequential base = build.apply(seed); Sequential keyBase = cfg.method().equals("moco") ? build.apply(seed) : null) {
            Sequential q = withHead(base, cfg.projDim(), device, seed);
            Sequential k = keyBase == null ? null : withHead(keyBase, cfg.projDim(), device, seed);
            int headFrom = Encoders.trunkEnd(base);
            try (Optimizer opt = cfg.train().newOptimizer(q.params())) {
                Result r = loop(q, k, opt, data, seed);
                save.accept(Encoders.trunk(q));
                return r;
            } finally {
                for (Module m : q.layers().subList(headFrom, q.layers().size())) m.close();
                if (k != null) for (Module m : k.layers().subList(headFrom, k.layers().size())) m.close();
            }
        }
    }

    private Result loop(Sequential q, Sequential k, Optimizer opt, Datasets.Split data, long seed) {
        ImageSet set = data.train();
        int[] order = data.trainIdx().clone();
        int n = cfg.train().batch(), p = set.pixels();
        if (order.length < n) throw new IllegalArgumentException("a batch of " + n + " needs at least that many images, the set has " + order.length);
        int stepsPerEpoch = order.length / n;
        long total = (long) stepsPerEpoch * cfg.train().maxEpochs();
        Schedule schedule = cfg.train().schedule().withWarmup(cfg.train().warmupEpochs() * stepsPerEpoch);
        SplittableRandom rng = new SplittableRandom(seed);
        float[] xb = new float[n * p];
        int[] yb = new int[n];
        double[] losses = new double[cfg.train().maxEpochs()];
        boolean moco = k != null;
        List<Param> qp = q.params(), kp = moco ? k.params() : List.of();
        long step = 0;
        long ptr = 0;
        try (Tensor x = Tensor.empty(device, n, set.height(), set.width(), set.channels());
             Tensor views = Tensor.empty(device, 2 * n, set.height(), set.width(), set.channels());
             Tensor loss = Tensor.empty(device, 1);
             Tensor lse = Tensor.empty(device, moco ? n : 2 * n);
             Tensor inv = Tensor.empty(device, 2 * n);
             Tensor queue = moco ? Tensor.empty(device, cfg.queue(), cfg.projDim()) : null;
             Tensor qn = moco ? Tensor.empty(device, n, cfg.projDim()) : null;
             Tensor kn = moco ? Tensor.empty(device, n, cfg.projDim()) : null;
             Tensor g1 = Tensor.empty(device, moco ? n : 2 * n, cfg.projDim());
             Tensor g2 = moco ? Tensor.empty(device, n, cfg.projDim()) : null) {
            if (moco) {
                // the queue starts as random unit vectors, as in MoCo's reference code
                Ops.fillNormal(queue, seed, 77, 0f, 1f);
                try (Tensor raw = Tensor.empty(device, cfg.queue(), cfg.projDim()); Tensor qinv = Tensor.empty(device, cfg.queue())) {
                    raw.copyFrom(queue);
                    Ops.l2NormRowsForward(raw, queue, qinv);
                }
                for (int i = 0; i < qp.size(); i++) kp.get(i).value().copyFrom(qp.get(i).value());
            }
            for (int epoch = 0; epoch < cfg.train().maxEpochs(); epoch++) {
                shuffle(order, rng);
                double sum = 0;
                progress.begin(cfg.method() + " epoch " + (epoch + 1), stepsPerEpoch);
                for (int s = 0; s < stepsPerEpoch; s++, step++) {
                    set.gather(order, s * n, n, xb, yb);
                    x.upload(xb);
                    Tensor v1 = views.slice(0, n), v2 = views.slice(n, n);
                    cfg.augment().apply(x, v1, data.mean(), data.std(), seed, step, 0);
                    cfg.augment().apply(x, v2, data.mean(), data.std(), seed, step, 1);
                    opt.setLearningRate(schedule.at(cfg.train().lr(), step, total));
                    if (!moco) {
                        Tensor z = q.forward(views, true);
                        Ops.ntxentForward(z, loss, lse, inv, cfg.tau());
                        Ops.ntxentBackward(z, lse, inv, g1, cfg.tau(), 1f);
                        q.backward(g1);
                    } else {
                        Tensor zk = k.forward(v2, true);
                        Ops.l2NormRowsForward(zk, kn, inv.slice(n, n));
                        Tensor zq = q.forward(v1, true);
                        Ops.l2NormRowsForward(zq, qn, inv.slice(0, n));
                        Ops.infoNceQueueForward(qn, kn, queue, loss, lse, cfg.tau());
                        Ops.infoNceQueueBackward(qn, kn, queue, lse, g2, cfg.tau(), 1f);
                        Ops.l2NormRowsBackward(qn, inv.slice(0, n), g2, g1);
                        q.backward(g1);
                    }
                    opt.step();
                    if (moco) {
                        for (int i = 0; i < qp.size(); i++) Ops.momentumUpdate(kp.get(i).value(), qp.get(i).value(), cfg.momentum());
                        ptr = Ops.enqueue(queue, kn, ptr);
                    }
                    double l = loss.toFloats()[0];
                    if (!Double.isFinite(l)) throw new IllegalStateException("pretraining diverged: loss " + l + " at step " + step + " (lower --lr)");
                    sum += l;
                    progress.advance(1);
                }
                progress.end();
                losses[epoch] = sum / stepsPerEpoch;
            }
        }
        return new Result(step, losses);
    }

    private static void shuffle(int[] a, SplittableRandom rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1), t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
