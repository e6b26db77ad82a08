package dev.quarry.train;

import dev.quarry.data.ImageSet;
import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.CrossEntropyLoss;
import dev.quarry.nn.Dropout;
import dev.quarry.nn.Module;
import dev.quarry.nn.Optimizer;
import dev.quarry.nn.Param;
import dev.quarry.nn.Sequential;
import dev.quarry.util.Progress;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Minibatch training with a learning-rate schedule and early stopping on a validation split. Every random choice
 * (order, draws with replacement, dropout masks, augmentation) is a function of {@code seed}, so the same call on
 * the CPU backend gives bit-identical weights.
 */
public final class Trainer {
    private Trainer() {}

    /** What a fit did: epochs run, the epoch whose weights were kept (1-based), its validation accuracy, losses. */
    public record FitResult(int epochs, int bestEpoch, double bestValAccuracy, double[] epochLoss, long steps) {}

    /**
     * Trains {@code model} on {@code data[train]}; with {@code cfg.patience() > 0} and a non-empty {@code val},
     * evaluates validation accuracy (dropout off) after every epoch, stops after {@code patience} epochs without
     * improvement and restores the best weights.
     */
    public static FitResult fit(Sequential model, Optimizer opt, TrainConfig cfg, ImageSet data, int[] train, ImageSet valData, int[] val,
                                long seed, Device device, Progress progress) {
        if (train.length == 0) throw new IllegalArgumentException("cannot train on an empty training set");
        int batch = cfg.batch(), p = data.pixels();
        int stepsPerEpoch = cfg.samplesPerEpoch() > 0 ? Math.max(1, cfg.samplesPerEpoch() / batch) : Math.max(1, train.length / batch);
        int rowsPerStep = Math.min(batch, cfg.samplesPerEpoch() > 0 ? batch : train.length);
        long total = (long) stepsPerEpoch * cfg.maxEpochs();
        Schedule schedule = cfg.schedule().withWarmup(cfg.warmupEpochs() * stepsPerEpoch);
        boolean early = cfg.patience() > 0 && val != null && val.length > 0;
        SplittableRandom rng = new SplittableRandom(seed);
        long maskBase = (new SplittableRandom(seed ^ 0x5DEECE66DL).nextLong() >>> 26) << 24;
        for (Module m : model.layers())
            if (m instanceof Dropout d) d.setTrainCounter(maskBase);

        float[] xb = new float[rowsPerStep * p];
        int[] yb = new int[rowsPerStep];
        int[] order = train.clone();
        int[] drawn = new int[rowsPerStep];
        double[] losses = new double[cfg.maxEpochs()];
        float[][] best = null;
        double bestAcc = Double.NEGATIVE_INFINITY;
        int bestEpoch = 0, epoch = 0, since = 0;
        long step = 0;
        try (CrossEntropyLoss loss = new CrossEntropyLoss(cfg.labelSmoothing());
             Tensor x = Tensor.empty(device, rowsPerStep, data.height(), data.width(), data.channels());
             Tensor xa = cfg.augmentPad() >= 0 ? Tensor.empty(device, rowsPerStep, data.height(), data.width(), data.channels()) : null;
             Tensor y = Tensor.empty(device, Tensor.DType.I32, rowsPerStep)) {
            while (epoch < cfg.maxEpochs()) {
                if (cfg.samplesPerEpoch() == 0) shuffle(order, rng);
                double sum = 0;
                progress.begin("epoch " + (epoch + 1), stepsPerEpoch);
                for (int s = 0; s < stepsPerEpoch; s++) {
                    int[] src = order;
                    int from = s * rowsPerStep;
                    if (cfg.samplesPerEpoch() > 0) {
                        for (int j = 0; j < rowsPerStep; j++) drawn[j] = train[rng.nextInt(train.length)];
                        src = drawn;
                        from = 0;
                    }
                    data.gather(src, from, rowsPerStep, xb, yb);
                    x.upload(xb);
                    y.upload(yb);
                    Tensor in = x;
                    if (xa != null) {
                        dev.quarry.engine.Ops.cropFlip(x, xa, cfg.augmentPad(), seed, step);
                        in = xa;
                    }
                    opt.setLearningRate(schedule.at(cfg.lr(), step, total));
                    sum += loss.forward(model.forward(in, true), y);
                    model.backward(loss.backward());
                    opt.step();
                    step++;
                    progress.advance(1);
                }
                progress.end();
                losses[epoch] = sum / stepsPerEpoch;
                if (!Double.isFinite(losses[epoch]))
                    throw new IllegalStateException("training diverged: mean loss " + losses[epoch] + " in epoch " + (epoch + 1)
                            + " (lower the learning rate)");
                epoch++;
                if (!early) continue;
                double acc = Evaluation.accuracy(model, valData, val, device);
                if (acc > bestAcc) {
                    bestAcc = acc;
                    bestEpoch = epoch;
                    best = snapshot(model);
                    since = 0;
                } else if (++since >= cfg.patience()) {
                    break;
                }
            }
        }
        if (best != null) restore(model, best);
        else bestEpoch = epoch;
        return new FitResult(epoch, bestEpoch, early ? bestAcc : Double.NaN, java.util.Arrays.copyOf(losses, epoch), step);
    }

    static void shuffle(int[] a, SplittableRandom rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1), t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    /** Host copies of every parameter and buffer, in the model's order. */
    static float[][] snapshot(Module model) {
        List<Tensor> ts = state(model);
        float[][] out = new float[ts.size()][];
        for (int i = 0; i < out.length; i++) out[i] = ts.get(i).toFloats();
        return out;
    }

    static void restore(Module model, float[][] values) {
        List<Tensor> ts = state(model);
        for (int i = 0; i < values.length; i++) ts.get(i).upload(values[i]);
    }

    private static List<Tensor> state(Module model) {
        List<Tensor> ts = new ArrayList<>();
        for (Param prm : model.params()) ts.add(prm.value());
        ts.addAll(model.buffers());
        return ts;
    }
}
