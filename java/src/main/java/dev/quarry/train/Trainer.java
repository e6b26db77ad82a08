package dev.quarry.train;

import dev.quarry.data.ImageSet;
import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.CrossEntropyLoss;
import dev.quarry.nn.Optimizer;
import dev.quarry.nn.Sequential;
import dev.quarry.util.Progress;
import java.util.SplittableRandom;

/** Minibatch training over a subset of an image data set, shuffled by seed every epoch. */
public final class Trainer {
    private Trainer() {}

    /** Trains {@code epochs} passes over {@code train} (indices into data); returns the last epoch's mean loss. */
    public static double fit(Sequential model, Optimizer opt, ImageSet data, int[] train, int epochs, int batch, long seed,
                             Device device, Progress progress) {
        int p = data.pixels();
        float[] xb = new float[batch * p];
        int[] yb = new int[batch];
        int[] order = train.clone();
        SplittableRandom rng = new SplittableRandom(seed);
        double lastLoss = Double.NaN;
        try (CrossEntropyLoss loss = new CrossEntropyLoss(0f);
             Tensor x = Tensor.empty(device, batch, data.height(), data.width(), data.channels());
             Tensor y = Tensor.empty(device, Tensor.DType.I32, batch)) {
            for (int epoch = 0; epoch < epochs; epoch++) {
                for (int i = order.length - 1; i > 0; i--) {
                    int j = rng.nextInt(i + 1), t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
                double sum = 0;
                int steps = 0;
                progress.begin("epoch " + (epoch + 1), order.length / batch);
                for (int start = 0; start + batch <= order.length; start += batch) {
                    data.gather(order, start, batch, xb, yb);
                    x.upload(xb);
                    y.upload(yb);
                    sum += loss.forward(model.forward(x, true), y);
                    model.backward(loss.backward());
                    opt.step();
                    steps++;
                    progress.advance(1);
                }
                progress.end();
                lastLoss = sum / steps;
            }
        }
        return lastLoss;
    }
}
