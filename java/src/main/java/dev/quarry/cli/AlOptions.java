package dev.quarry.cli;

import dev.quarry.al.AlConfig;
import dev.quarry.data.Datasets;
import dev.quarry.train.Schedule;
import dev.quarry.train.TrainConfig;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * The options shared by {@code al} and {@code sweep}: data, model, loop, acquisition and training settings, with
 * the BatchBALD paper's MNIST protocol as the defaults (docs/protocols.md).
 */
final class AlOptions {
    private AlOptions() {}

    /** Data, model and training options (shared with {@code train}). */
    static Options addTraining(Options o) {
        String[][] opts = {
                {"dataset", "mnist-sample (default), mnist, repeated-mnist, fashion-mnist, cifar10"},
                {"data-dir", "folder with the data set's files, or a data home holding its folder (default: the data home; quarry data list)"},
                {"copies", "repeated-mnist copies (default 3)"},
                {"train-limit", "keep only N training images, seeded (repeated-mnist: N base images, each with all copies)"},
                {"model", "convnet (default), resnet18, resnet"},
                {"dropout", "dropout probability (default 0.5)"},
                {"dropout-placement", "resnet models: classifier (default), blocks, none"},
                {"val", "validation split size for early stopping (default 1024; 500 for mnist-sample)"},
                {"test-samples", "MC samples for test metrics, 0 = dropout off (default 10)"},
                {"device", "auto (default), cpu, cuda"},
                {"optimizer", "adam (default), adamw, sgd, lars"},
                {"lr", "learning rate (default 1e-3)"},
                {"weight-decay", "default 0"},
                {"momentum", "SGD and LARS momentum (default 0.9)"},
                {"label-smoothing", "default 0"},
                {"batch-size", "training minibatch (default 64)"},
                {"epochs", "maximum epochs per round (default 30)"},
                {"epoch-samples", "samples drawn with replacement per epoch, 0 = one pass (default 5056)"},
                {"patience", "early-stopping patience in epochs, 0 = off (default 3)"},
                {"schedule", "constant (default), step, cosine, onecycle"},
                {"warmup-epochs", "linear warm-up (default 0)"},
                {"augment-pad", "random crop padding with horizontal flip, -1 = off (default: 4 for cifar10, else off)"},
        };
        for (String[] d : opts) o.addOption(Option.builder().longOpt(d[0]).hasArg().desc(d[1]).get());
        o.addOption(Option.builder().longOpt("nesterov").desc("Nesterov momentum for SGD").get());
        o.addOption(Option.builder().longOpt("quiet").desc("no progress bars or per-round lines").get());
        return o;
    }

    /** Everything {@code al} and {@code sweep} take besides strategy, acquisition size, seed and output. */
    static Options add(Options o) {
        addTraining(o);
        String[][] opts = {
                {"initial", "initial labelled set size (default 20)"},
                {"initial-mode", "balanced (default), random, file"},
                {"initial-file", "text file of training-set indices, one per line"},
                {"budget", "stop at this many labels (default 300)"},
                {"target-accuracy", "stop once test accuracy reaches this (default: none)"},
                {"samples", "MC dropout samples K for acquisition (default 100)"},
                {"pool-subset", "score a seeded random subset of this many pool points per round (default: whole pool)"},
                {"mc-configs", "BatchBALD joint-entropy configurations M (default 40000)"},
                {"beta", "coldness of stochastic strategies (default 1)"},
                {"label-noise", "probability of a wrong oracle label (default 0)"},
                {"chunk-mb", "pool chunk size for acquisition (default 512)"},
        };
        for (String[] d : opts) o.addOption(Option.builder().longOpt(d[0]).hasArg().desc(d[1]).get());
        o.addOption(Option.builder().longOpt("encoder").hasArg().desc("pretrained encoder checkpoint (quarry pretrain)").get());
        o.addOption(Option.builder().longOpt("finetune").desc("with --encoder: start every round's trunk from it and train it").get());
        o.addOption(Option.builder().longOpt("linear").desc("with --encoder: frozen encoder features, train a dropout + linear head").get());
        o.addOption(Option.builder().longOpt("warm-start").desc("keep training the previous round's model instead of re-initialising").get());
        return o;
    }

    static TrainConfig trainConfig(CommandLine cl, String dataset) {
        boolean cifar = dataset.equals("cifar10");
        return new TrainConfig(cl.getOptionValue("optimizer", "adam"), (float) Args.doubleOption(cl, "lr", 1e-3),
                (float) Args.doubleOption(cl, "weight-decay", 0), (float) Args.doubleOption(cl, "momentum", 0.9), cl.hasOption("nesterov"),
                (float) Args.doubleOption(cl, "label-smoothing", 0), Args.intOption(cl, "batch-size", 64), Args.intOption(cl, "epochs", 30),
                Args.intOption(cl, "epoch-samples", 5056), Schedule.parse(cl.getOptionValue("schedule", "constant")),
                Args.intOption(cl, "warmup-epochs", 0), Args.intOption(cl, "patience", 3), Args.intOption(cl, "augment-pad", cifar ? 4 : -1));
    }

    /** The configuration of one run (strategy, acquisition size and seed are given separately by sweep). */
    static AlConfig config(CommandLine cl, String strategy, int b, long seed) {
        String dataset = cl.getOptionValue("dataset", "mnist-sample");
        try {
            String dir = cl.getOptionValue("data-dir"); // null: the data home (DataHome), recorded as null in run.json
            Datasets.checkName(dataset);
            TrainConfig train = trainConfig(cl, dataset);
            return new AlConfig(dataset, dir, Args.intOption(cl, "copies", 3), Args.intOption(cl, "train-limit", 0), cl.getOptionValue("model", "convnet"),
                    (float) Args.doubleOption(cl, "dropout", 0.5), cl.getOptionValue("dropout-placement", "classifier"), strategy, b, Args.intOption(cl, "initial", 20),
                    cl.getOptionValue("initial-mode", "balanced"), cl.getOptionValue("initial-file"),
                    Args.intOption(cl, "val", dataset.equals("mnist-sample") ? 500 : 1024), Args.intOption(cl, "budget", 300),
                    Args.doubleOption(cl, "target-accuracy", 0), Args.intOption(cl, "samples", 100), Args.intOption(cl, "test-samples", 10),
                    Args.intOption(cl, "pool-subset", 0), Args.intOption(cl, "mc-configs", 40_000), Args.doubleOption(cl, "beta", 1),
                    Args.doubleOption(cl, "label-noise", 0), cl.hasOption("warm-start"), seed, cl.getOptionValue("device", "auto"),
                    Args.longOption(cl, "chunk-mb", 512), train, cl.getOptionValue("encoder"),
                    cl.hasOption("finetune") ? (cl.hasOption("linear") ? "both" : "finetune") : cl.hasOption("linear") ? "linear" : null);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }
}
