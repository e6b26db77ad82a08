package dev.quarry.cli;

import dev.quarry.al.Models;
import dev.quarry.data.Datasets;
import dev.quarry.data.ImageSet;
import dev.quarry.engine.Device;
import dev.quarry.nn.Optimizer;
import dev.quarry.nn.Sequential;
import dev.quarry.ssl.Encoders;
import dev.quarry.train.Evaluation;
import dev.quarry.train.Schedule;
import dev.quarry.train.TrainConfig;
import dev.quarry.train.Trainer;
import dev.quarry.util.AtomicWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * {@code quarry probe --encoder CKPT|random --dataset D}: linear-probe accuracy of a frozen encoder: features of
 * every training and test image once, then a linear classifier trained on them with Adam. {@code random} probes a
 * randomly initialised encoder of the same architecture, the baseline a pretrained one must beat.
 */
final class ProbeCommand {
    private ProbeCommand() {}

    static int run(String[] args, PrintStream out, PrintStream err) {
        Options options = new Options()
                .addOption(Option.builder().longOpt("encoder").hasArg().required().desc("encoder checkpoint, or random").get())
                .addOption(Option.builder().longOpt("model").hasArg().desc("architecture for --encoder random (default resnet)").get())
                .addOption(Option.builder().longOpt("dataset").hasArg().get())
                .addOption(Option.builder().longOpt("data-dir").hasArg().get())
                .addOption(Option.builder().longOpt("train-limit").hasArg().desc("probe with N labelled training images (seeded)").get())
                .addOption(Option.builder().longOpt("epochs").hasArg().desc("default 30").get())
                .addOption(Option.builder().longOpt("lr").hasArg().desc("default 1e-3").get())
                .addOption(Option.builder().longOpt("seed").hasArg().get())
                .addOption(Option.builder().longOpt("device").hasArg().get())
                .addOption(Option.builder().longOpt("out").hasArg().desc("write probe.json here").get())
                .addOption(Option.builder().longOpt("quiet").get());
        CommandLine cl = Args.parse(options, args);
        String enc = cl.getOptionValue("encoder"), dataset = cl.getOptionValue("dataset", "mnist-sample");
        long seed = Args.longOption(cl, "seed", 0);
        boolean quiet = cl.hasOption("quiet");
        String model = cl.getOptionValue("model", "resnet");
        Datasets.Split data;
        TrainConfig tc;
        try {
            if (!enc.equals("random")) model = dev.quarry.nn.Checkpoint.metadata(Path.of(enc)).getOrDefault("model", model);
            data = Datasets.load(dataset, Datasets.dir(cl.getOptionValue("data-dir")), seed, 3,
                    Args.intOption(cl, "train-limit", 0));
            tc = new TrainConfig("adam", (float) Args.doubleOption(cl, "lr", 1e-3), 0f, 0f, false, 0f, 256, Args.intOption(cl, "epochs", 30), 0,
                    Schedule.constant(), 0, 0, -1);
            Models.check(model, 0f, "none", data.train());
        } catch (IOException | IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
        Device device = Device.select(cl.getOptionValue("device", "auto"), quiet ? null : err);
        long t0 = System.nanoTime();
        Datasets.Split feats;
        try (Sequential m = Models.create(model, 0f, "none", data.train(), device, seed)) {
            if (!enc.equals("random")) Encoders.load(Path.of(enc), m, model);
            feats = Encoders.featureSplit(Encoders.trunk(m), data, device, ConsoleProgress.forFlags(quiet));
        } catch (IOException | IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
        ImageSet train = feats.train();
        Evaluation.Metrics test;
        try (Sequential head = Models.linearHead(train, 0f, device, seed); Optimizer opt = tc.newOptimizer(head.params())) {
            Trainer.fit(head, opt, tc, train, feats.trainIdx(), null, null, seed, device, ConsoleProgress.forFlags(quiet));
            test = Evaluation.deterministic(head, feats.test(), feats.testIdx(), device);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (cl.hasOption("out")) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("encoder", enc);
            r.put("model", model);
            r.put("dataset", dataset);
            r.put("train_images", feats.trainIdx().length);
            r.put("feature_dim", train.pixels());
            r.put("test_accuracy", test.accuracy());
            r.put("test_nll", test.nll());
            r.put("seconds", seconds);
            AtomicWriter w = new AtomicWriter(Path.of(cl.getOptionValue("out")));
            try {
                dev.quarry.al.Results.JSON_WRITER.writeValue(w.stage("probe.json").toFile(), r);
                w.commit();
            } catch (IOException e) {
                w.abort();
                throw new Main.UsageException("cannot write " + cl.getOptionValue("out") + ": " + e.getMessage());
            }
        }
        out.printf("quarry probe: %s encoder (%s, %d features), linear probe on %d images: test accuracy %.4f, NLL %.4f (%.0f s)%n", enc, model,
                train.pixels(), feats.trainIdx().length, test.accuracy(), test.nll(), seconds);
        return 0;
    }
}
