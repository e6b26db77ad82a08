package dev.quarry.cli;

import static dev.quarry.cli.OptionSpec.DOUBLE;
import static dev.quarry.cli.OptionSpec.INT;
import static dev.quarry.cli.OptionSpec.LONG;
import static dev.quarry.cli.OptionSpec.MEGABYTES;
import static dev.quarry.cli.OptionSpec.STRING;
import static dev.quarry.cli.OptionSpec.flag;
import static dev.quarry.cli.OptionSpec.of;

import dev.quarry.acquire.Greedy;
import dev.quarry.al.Strategies;
import dev.quarry.data.Datasets;
import java.util.List;
import java.util.Locale;

/**
 * The options more than one command takes, each defined once, in groups. A command lists the groups (or single
 * specs) it takes and overrides a default where its protocol differs ({@code train}: 6 epochs), see
 * {@link CommandSpec#join}. Vocabulary: {@code --acquisition-size} is b, the points labelled per round;
 * {@code --batch-size} is a minibatch (of training images, inference images or contrastive pairs);
 * {@code --dropout} is the probability and {@code --dropout-placement} where dropout goes.
 */
final class Opts {
    private Opts() {}

    // data
    static final OptionSpec<String> DATASET = of("dataset", "NAME", STRING, "mnist-sample", "data set: " + Datasets.names());
    /** No value by default: {@link dev.quarry.data.DataHome} searches the data homes (the value stays null in run.json). */
    static final OptionSpec<String> DATA_DIR = of("data-dir", "DIR", STRING, null, "folder with the data set's files, or a data home holding its folder")
            .withDefault("none: the data home, searched in order $QUARRY_DATA, ${XDG_CACHE_HOME:-~/.cache}/quarry/datasets, the checkout's "
                    + "datasets/; mnist-sample is read from inside quarry.jar; quarry data list shows them", p -> null);
    static final OptionSpec<Integer> COPIES = of("copies", "N", INT, "3", "repeated-mnist copies");
    static final OptionSpec<Integer> TRAIN_LIMIT = of("train-limit", "N", INT, "0",
            "keep only N training images, seeded (repeated-mnist: N base images, each with all copies); 0 = all");
    static final List<OptionSpec<?>> DATA = List.of(DATASET, DATA_DIR, COPIES, TRAIN_LIMIT);

    // model
    static final OptionSpec<String> MODEL = of("model", "NAME", STRING, "convnet", "convnet, resnet18, resnet");
    static final OptionSpec<Double> DROPOUT = of("dropout", "P", DOUBLE, "0.5", "dropout probability");
    static final OptionSpec<String> DROPOUT_PLACEMENT = of("dropout-placement", "WHERE", STRING, "classifier",
            "where resnet models put dropout: classifier, blocks, none");
    static final List<OptionSpec<?>> MODEL_GROUP = List.of(MODEL, DROPOUT, DROPOUT_PLACEMENT);

    // evaluation during and after training
    static final OptionSpec<Integer> VAL = of("val", "N", INT, null, "validation split size for early stopping")
            .withDefault("1024; 500 for mnist-sample", p -> p.get(DATASET).equals("mnist-sample") ? "500" : "1024");
    static final OptionSpec<Integer> TEST_SAMPLES = of("test-samples", "K", INT, "10", "MC samples for test metrics, 0 = dropout off");
    static final List<OptionSpec<?>> EVAL = List.of(VAL, TEST_SAMPLES);

    // device
    static final OptionSpec<String> DEVICE = of("device", "auto|cpu|cuda", (name, v) -> {
        if (!v.toLowerCase(Locale.ROOT).matches("auto|cpu|cuda"))
            throw new Main.UsageException("unknown device '" + v + "': expected auto, cpu or cuda");
        return v;
    }, "auto", "backend: auto (CUDA when usable, else the CPU), cpu, cuda");
    static final List<OptionSpec<?>> DEVICE_GROUP = List.of(DEVICE);

    // output
    static final OptionSpec<String> OUT = of("out", "DIR", STRING, null, "result folder");
    static final OptionSpec<Boolean> QUIET = flag("quiet", "no progress bars or per-round lines");
    static final List<OptionSpec<?>> OUTPUT = List.of(OUT, QUIET);

    static final OptionSpec<Long> SEED = of("seed", "S", LONG, "0", "random seed");

    // training
    static final OptionSpec<String> OPTIMIZER = of("optimizer", "NAME", STRING, "adam", "adam, adamw, sgd, lars");
    static final OptionSpec<Double> LR = of("lr", "X", DOUBLE, "1e-3", "learning rate");
    static final OptionSpec<Double> WEIGHT_DECAY = of("weight-decay", "X", DOUBLE, "0", "weight decay");
    static final OptionSpec<Double> MOMENTUM = of("momentum", "X", DOUBLE, "0.9", "SGD and LARS momentum");
    static final OptionSpec<Boolean> NESTEROV = flag("nesterov", "Nesterov momentum for SGD");
    static final OptionSpec<Double> LABEL_SMOOTHING = of("label-smoothing", "X", DOUBLE, "0", "label smoothing");
    static final OptionSpec<Integer> BATCH_SIZE = of("batch-size", "N", INT, "64", "training minibatch");
    static final OptionSpec<Integer> EPOCHS = of("epochs", "N", INT, "30", "maximum training epochs (al: per round)");
    static final OptionSpec<Integer> EPOCH_SAMPLES = of("epoch-samples", "N", INT, "5056", "samples drawn with replacement per epoch, 0 = one pass");
    static final OptionSpec<Integer> PATIENCE = of("patience", "N", INT, "3", "early-stopping patience in epochs, 0 = off");
    static final OptionSpec<String> SCHEDULE = of("schedule", "NAME", STRING, "constant", "learning-rate schedule: constant, step, cosine, onecycle");
    static final OptionSpec<Integer> WARMUP_EPOCHS = of("warmup-epochs", "N", INT, "0", "linear learning-rate warm-up epochs");
    static final OptionSpec<Integer> AUGMENT_PAD = of("augment-pad", "N", INT, null, "random crop padding with horizontal flip, -1 = off")
            .withDefault("4 for cifar10, else -1", p -> p.get(DATASET).equals("cifar10") ? "4" : "-1");
    static final List<OptionSpec<?>> TRAINING = List.of(OPTIMIZER, LR, WEIGHT_DECAY, MOMENTUM, NESTEROV, LABEL_SMOOTHING, BATCH_SIZE, EPOCHS,
            EPOCH_SAMPLES, PATIENCE, SCHEDULE, WARMUP_EPOCHS, AUGMENT_PAD);

    // MC dropout and acquisition
    static final OptionSpec<String> STRATEGY = of("strategy", "NAME", STRING, "batchbald", "acquisition strategy: " + Strategies.names());
    static final OptionSpec<Integer> ACQUISITION_SIZE = of("acquisition-size", "B", INT, "10", "points acquired (labelled) per round, b");
    static final OptionSpec<Integer> SAMPLES = of("samples", "K", INT, "100", "MC dropout samples K for acquisition");
    static final OptionSpec<Integer> MC_CONFIGS = of("mc-configs", "M", INT, "40000", "BatchBALD joint-entropy configurations M");
    static final OptionSpec<Greedy> GREEDY = of("greedy", "lazy|full", (name, v) -> {
        try {
            return Greedy.parse(v);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }, Greedy.DEFAULT.cliName(), "BatchBALD greedy search: full re-scores every pool point per step, lazy (Minoux) only those whose bound can still win");
    static final OptionSpec<Double> BETA = of("beta", "X", DOUBLE, "1", "coldness of stochastic strategies");
    static final OptionSpec<Long> CHUNK_MB = of("chunk-mb", "MB", MEGABYTES, "512", "device memory per pool chunk during acquisition, MiB");
    static final OptionSpec<Integer> POOL_SUBSET = of("pool-subset", "N", INT, "0",
            "score a seeded random subset of this many pool points per round, 0 = the whole pool");
    static final List<OptionSpec<?>> MC = List.of(SAMPLES, MC_CONFIGS, GREEDY, BETA, CHUNK_MB);

    // benchmarks
    static final OptionSpec<Integer> POOL = of("pool", "N", INT, null, "synthetic pool size N");
    static final OptionSpec<Integer> CLASSES = of("classes", "C", INT, "10", "number of classes C");
    static final OptionSpec<Integer> WARMUP = of("warmup", "W", INT, "3", "unmeasured warm-up runs");
    static final OptionSpec<Double> TAU = of("tau", "T", DOUBLE, null, "contrastive temperature");
    static final OptionSpec<Integer> QUEUE = of("queue", "K", INT, "4096", "MoCo queue length");
}
