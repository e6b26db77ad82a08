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
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code quarry probe --encoder CKPT|random --dataset D}: linear-probe accuracy of a frozen encoder: features of
 * every training and test image once, then a linear classifier trained on them with Adam. {@code random} probes a
 * randomly initialised encoder of the same architecture, the baseline a pretrained one must beat.
 */
final class ProbeCommand {
    private ProbeCommand() {}

    static final OptionSpec<String> ENCODER = AlOptions.ENCODER.describedAs("encoder checkpoint (quarry pretrain), or random").asRequired();

    static final CommandSpec SPEC = new CommandSpec("probe", null,
            "linear-probe accuracy of a frozen encoder (or of a random one, the baseline)",
            CommandSpec.join(CommandSpec.these(ENCODER, Opts.MODEL.describedAs("architecture for --encoder random (a checkpoint names its own)")
                            .withDefault("resnet")), Opts.DATA, CommandSpec.these(Opts.TRAIN_LIMIT.describedAs("probe with N labelled training images (seeded), 0 = all"),
                            Opts.EPOCHS.describedAs("linear head training epochs"), Opts.LR, Opts.SEED), Opts.DEVICE_GROUP,
                    CommandSpec.these(Opts.OUT.describedAs("write probe.json here"), Opts.QUIET)),
            List.of());

    static int run(String[] args, PrintStream out, PrintStream err) {
        Parsed cl = Cli.parse(SPEC, args, err);
        String enc = cl.get(ENCODER), dataset = cl.get(Opts.DATASET);
        long seed = cl.get(Opts.SEED);
        boolean quiet = Cli.quiet(cl);
        String model = enc.equals("random") ? cl.get(Opts.MODEL)
                : Cli.userInput(() -> dev.quarry.nn.Checkpoint.metadata(Path.of(enc)).getOrDefault("model", cl.get(Opts.MODEL)));
        Datasets.Split data = Cli.loadData(cl, seed);
        TrainConfig tc = Cli.userInput(() -> new TrainConfig("adam", cl.getFloat(Opts.LR), 0f, 0f, false, 0f, 256, cl.get(Opts.EPOCHS), 0,
                Schedule.constant(), 0, 0, -1));
        Cli.userCheck(() -> Models.check(model, 0f, "none", data.train()));
        Device device = Cli.device(cl, err);
        long t0 = System.nanoTime();
        Datasets.Split feats = Cli.userInput(() -> {
            try (Sequential m = Models.create(model, 0f, "none", data.train(), device, seed)) {
                if (!enc.equals("random")) Encoders.load(Path.of(enc), m, model);
                return Encoders.featureSplit(Encoders.trunk(m), data, device, ConsoleProgress.forFlags(quiet));
            }
        });
        ImageSet train = feats.train();
        Evaluation.Metrics test;
        try (Sequential head = Models.linearHead(train, 0f, device, seed); Optimizer opt = tc.newOptimizer(head.params())) {
            Trainer.fit(head, opt, tc, train, feats.trainIdx(), null, null, seed, device, ConsoleProgress.forFlags(quiet));
            test = Evaluation.deterministic(head, feats.test(), feats.testIdx(), device);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (cl.has(Opts.OUT)) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("encoder", enc);
            r.put("model", model);
            r.put("dataset", dataset);
            r.put("train_images", feats.trainIdx().length);
            r.put("feature_dim", train.pixels());
            r.put("test_accuracy", test.accuracy());
            r.put("test_nll", test.nll());
            r.put("seconds", seconds);
            Cli.write(Path.of(cl.get(Opts.OUT)), w -> dev.quarry.al.Results.JSON_WRITER.writeValue(w.stage("probe.json").toFile(), r));
        }
        out.printf("quarry probe: %s encoder (%s, %d features), linear probe on %d images: test accuracy %.4f, NLL %.4f (%.0f s)%n", enc, model,
                train.pixels(), feats.trainIdx().length, test.accuracy(), test.nll(), seconds);
        return 0;
    }
}
