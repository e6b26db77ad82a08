package dev.quarry.train;

import dev.quarry.nn.Adam;
import dev.quarry.nn.Lars;
import dev.quarry.nn.Optimizer;
import dev.quarry.nn.Param;
import dev.quarry.nn.Sgd;
import java.util.List;
import java.util.Locale;

/**
 * How a model is trained. An epoch is one shuffled pass over the training set when {@code samplesPerEpoch} is 0,
 * otherwise {@code samplesPerEpoch} samples drawn with replacement (the BatchBALD protocol: 5,056 per epoch, so
 * tiny labelled sets still get enough steps). {@code patience} > 0 stops after that many epochs without a better
 * validation accuracy and restores the best weights. {@code augmentPad} >= 0 turns on random crop (with that zero
 * padding) and horizontal flip.
 */
public record TrainConfig(String optimizer, float lr, float weightDecay, float momentum, boolean nesterov, float labelSmoothing,
                          int batch, int maxEpochs, int samplesPerEpoch, Schedule schedule, long warmupEpochs, int patience,
                          int augmentPad) {
    public TrainConfig {
        optimizer = optimizer.toLowerCase(Locale.ROOT);
        if (!optimizer.matches("adam|adamw|sgd|lars")) throw new IllegalArgumentException("unknown optimizer '" + optimizer + "' (known: adam, adamw, sgd, lars)");
        if (!(lr > 0) || Float.isInfinite(lr)) throw new IllegalArgumentException("learning rate must be positive and finite, got " + lr);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight decay must be >= 0, got " + weightDecay);
        if (!(labelSmoothing >= 0 && labelSmoothing < 1)) throw new IllegalArgumentException("label smoothing must be in [0, 1), got " + labelSmoothing);
        if (batch < 1 || maxEpochs < 1 || samplesPerEpoch < 0 || patience < 0 || warmupEpochs < 0)
            throw new IllegalArgumentException("need batch >= 1, epochs >= 1, samples per epoch >= 0, patience >= 0, warm-up >= 0");
    }

    /** The BatchBALD paper's MNIST protocol: Adam 1e-3, batch 64, epochs of 5,056 draws, at most 30, patience 3. */
    public static TrainConfig batchBaldMnist() {
        return new TrainConfig("adam", 1e-3f, 0f, 0f, false, 0f, 64, 30, 5056, Schedule.constant(), 0, 3, -1);
    }

    public TrainConfig withEpochs(int maxEpochs, int samplesPerEpoch, int patience) {
        return new TrainConfig(optimizer, lr, weightDecay, momentum, nesterov, labelSmoothing, batch, maxEpochs, samplesPerEpoch, schedule,
                warmupEpochs, patience, augmentPad);
    }

    public Optimizer newOptimizer(List<Param> params) {
        return switch (optimizer) {
            case "adam" -> new Adam(params, lr, 0.9f, 0.999f, 1e-8f, weightDecay, false);
            case "adamw" -> new Adam(params, lr, 0.9f, 0.999f, 1e-8f, weightDecay, true);
            case "lars" -> new Lars(params, lr, momentum, weightDecay, Lars.SIMCLR_ETA, Lars::adapts);
            default -> new Sgd(params, lr, momentum, 0f, weightDecay, nesterov);
        };
    }
}
