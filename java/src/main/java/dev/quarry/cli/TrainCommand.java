package dev.quarry.cli;

import dev.quarry.al.Models;
import dev.quarry.data.Datasets;
import dev.quarry.engine.Device;
import dev.quarry.nn.Checkpoint;
import dev.quarry.nn.Optimizer;
import dev.quarry.nn.Sequential;
import dev.quarry.train.Evaluation;
import dev.quarry.train.TrainConfig;
import dev.quarry.train.Trainer;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code quarry train --dataset D --model M --epochs E --out DIR}: supervised training with the shared training
 * options (optimizer, schedule, early stopping on --val images, augmentation), then DIR/metrics.json (test accuracy
 * and NLL, MC mean over --test-samples) and DIR/model.safetensors (parameters and optimizer state).
 */
final class TrainCommand {
    private TrainCommand() {}

    static final OptionSpec<Integer> TRAIN_SIZE = OptionSpec.of("train-size", "N", OptionSpec.INT, null, "use only N training images (seeded choice)")
            .withDefault("all but the --val split", p -> String.valueOf(Integer.MAX_VALUE));

    /** Plain supervised defaults: full shuffled passes, no early stopping unless --val and --patience are given. */
    static final List<OptionSpec<?>> DEFAULTS = CommandSpec.these(Opts.EPOCHS.withDefault("6"), Opts.EPOCH_SAMPLES.withDefault("0"),
            Opts.PATIENCE.withDefault("0"), Opts.VAL.withDefault("0"));

    static final CommandSpec SPEC = new CommandSpec("train", null,
            "supervised training, then DIR/metrics.json (test accuracy and NLL) and DIR/model.safetensors",
            CommandSpec.join(Opts.DATA, Opts.MODEL_GROUP, Opts.EVAL, Opts.DEVICE_GROUP, Opts.TRAINING,
                    CommandSpec.these(TRAIN_SIZE, Opts.SEED, Opts.OUT.asRequired(), Opts.QUIET), DEFAULTS),
            AlOptions.ALIASES);

    static int run(String[] args, PrintStream out, PrintStream err) {
        Parsed cl = Cli.parse(SPEC, args, err);
        String dataset = cl.get(Opts.DATASET), modelName = cl.get(Opts.MODEL);
        long seed = cl.get(Opts.SEED);
        int valSize = cl.get(Opts.VAL), testSamples = cl.get(Opts.TEST_SAMPLES);
        float dropout = cl.getFloat(Opts.DROPOUT);
        boolean quiet = Cli.quiet(cl);
        Path outDir = Path.of(cl.get(Opts.OUT));
        TrainConfig tc = Cli.userInput(() -> AlOptions.trainConfig(cl));
        Datasets.Split data = Cli.loadData(cl, seed);
        if (testSamples < 0 || valSize < 0) throw new Main.UsageException("need --test-samples >= 0 and --val >= 0");
        int[] perm = Datasets.permutation(data.trainIdx().length, seed);
        int trainSize = Math.min(cl.get(TRAIN_SIZE), data.trainIdx().length - valSize);
        if (trainSize < 1) throw new Main.UsageException("--val " + valSize + " leaves no training images");
        int[] val = Arrays.stream(perm, 0, valSize).map(i -> data.trainIdx()[i]).sorted().toArray();
        int[] train = Arrays.stream(perm, valSize, valSize + trainSize).map(i -> data.trainIdx()[i]).toArray();
        Device device = Cli.device(cl, err);

        long t0 = System.nanoTime();
        Map<String, Object> metrics = new LinkedHashMap<>();
        Sequential net = Cli.userInput(() -> Models.create(modelName, dropout, cl.get(Opts.DROPOUT_PLACEMENT), data.train(), device, seed));
        try (net; Optimizer opt = tc.newOptimizer(net.params())) {
            Trainer.FitResult fit = Trainer.fit(net, opt, tc, data.train(), train, data.train(), val, seed, device, ConsoleProgress.forFlags(quiet));
            double trainSeconds = (System.nanoTime() - t0) / 1e9;
            Evaluation.Metrics test = Evaluation.mc(net, data.test(), data.testIdx(), testSamples, device, ConsoleProgress.forFlags(quiet));
            metrics.put("dataset", dataset);
            metrics.put("model", modelName);
            metrics.put("device", device.toString());
            metrics.put("seed", seed);
            metrics.put("train_size", train.length);
            metrics.put("val_size", val.length);
            metrics.put("test_size", data.testIdx().length);
            metrics.put("training", tc);
            metrics.put("epochs_run", fit.epochs());
            metrics.put("best_epoch", fit.bestEpoch());
            metrics.put("best_val_accuracy", Double.isNaN(fit.bestValAccuracy()) ? null : fit.bestValAccuracy());
            metrics.put("epoch_train_loss", fit.epochLoss());
            metrics.put("test_samples", testSamples);
            metrics.put("test_accuracy", test.accuracy());
            metrics.put("test_nll", test.nll());
            metrics.put("train_seconds", trainSeconds);
            metrics.put("images_per_second", fit.steps() * (double) Math.min(tc.batch(), train.length) / trainSeconds);
            metrics.put("total_seconds", (System.nanoTime() - t0) / 1e9);
            Cli.write(outDir, w -> {
                Checkpoint.save(w.stage("model.safetensors"), net, opt, Map.of("model", modelName, "dataset", dataset));
                dev.quarry.al.Results.JSON_WRITER.writeValue(w.stage("metrics.json").toFile(), metrics);
            });
            if (!quiet)
                out.printf("quarry train: test accuracy %.4f, NLL %.4f (%s) after %d epochs on %d images; wrote %s%n", test.accuracy(), test.nll(),
                        testSamples == 0 ? "dropout off" : "MC mean of " + testSamples, fit.epochs(), train.length, outDir);
        }
        return 0;
    }
}
