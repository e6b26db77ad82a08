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
import dev.quarry.util.AtomicWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * {@code quarry train --dataset D --model M --epochs E --out DIR}: supervised training with the shared training
 * options (optimizer, schedule, early stopping on --val images, augmentation), then DIR/metrics.json (test accuracy
 * and NLL, MC mean over --test-samples) and DIR/model.safetensors (parameters and optimizer state).
 */
final class TrainCommand {
    private TrainCommand() {}

    /** Plain supervised defaults: full shuffled passes, no early stopping unless --val and --patience are given. */
    static final String[] DEFAULTS = {"--epochs", "6", "--epoch-samples", "0", "--patience", "0", "--val", "0"};

    static int run(String[] args, PrintStream out, PrintStream err) {
        Options options = AlOptions.addTraining(new Options())
                .addOption(Option.builder().longOpt("train-size").hasArg().desc("use only N training images (seeded choice)").get())
                .addOption(Option.builder().longOpt("seed").hasArg().get())
                .addOption(Option.builder().longOpt("out").hasArg().required().get());
        List<String> merged = new ArrayList<>(List.of(args));
        merged.addAll(List.of(DEFAULTS));
        CommandLine cl = Args.parse(options, merged.toArray(String[]::new));
        String dataset = cl.getOptionValue("dataset", "mnist-sample"), modelName = cl.getOptionValue("model", "convnet");
        long seed = Args.longOption(cl, "seed", 0);
        int valSize = Args.intOption(cl, "val", 0), testSamples = Args.intOption(cl, "test-samples", 10);
        float dropout = (float) Args.doubleOption(cl, "dropout", 0.5);
        boolean quiet = cl.hasOption("quiet");
        Path outDir = Path.of(cl.getOptionValue("out"));
        TrainConfig tc;
        Datasets.Split data;
        try {
            tc = AlOptions.trainConfig(cl, dataset);
            data = Datasets.load(dataset, Datasets.dir(cl.getOptionValue("data-dir")), seed,
                    Args.intOption(cl, "copies", 3), Args.intOption(cl, "train-limit", 0));
        } catch (IOException | IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
        if (testSamples < 0 || valSize < 0) throw new Main.UsageException("need --test-samples >= 0 and --val >= 0");
        int[] perm = Datasets.permutation(data.trainIdx().length, seed);
        int trainSize = Math.min(Args.intOption(cl, "train-size", Integer.MAX_VALUE), data.trainIdx().length - valSize);
        if (trainSize < 1) throw new Main.UsageException("--val " + valSize + " leaves no training images");
        int[] val = Arrays.stream(perm, 0, valSize).map(i -> data.trainIdx()[i]).sorted().toArray();
        int[] train = Arrays.stream(perm, valSize, valSize + trainSize).map(i -> data.trainIdx()[i]).toArray();
        Device device = Device.select(cl.getOptionValue("device", "auto"), quiet ? null : err);

        long t0 = System.nanoTime();
        Map<String, Object> metrics = new LinkedHashMap<>();
        Sequential net;
        try {
            net = Models.create(modelName, dropout, cl.getOptionValue("dropout-placement", "classifier"), data.train(), device, seed);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
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
            AtomicWriter w = new AtomicWriter(outDir);
            try {
                Checkpoint.save(w.stage("model.safetensors"), net, opt, Map.of("model", modelName, "dataset", dataset));
                dev.quarry.al.Results.JSON_WRITER.writeValue(w.stage("metrics.json").toFile(), metrics);
                w.commit();
            } catch (IOException | RuntimeException e) {
                w.abort();
                throw new Main.UsageException("cannot write results to " + outDir + ": " + e.getMessage());
            }
            if (!quiet)
                out.printf("quarry train: test accuracy %.4f, NLL %.4f (%s) after %d epochs on %d images; wrote %s%n", test.accuracy(), test.nll(),
                        testSamples == 0 ? "dropout off" : "MC mean of " + testSamples, fit.epochs(), train.length, outDir);
        }
        return 0;
    }
}
