package dev.quarry.cli;

import static dev.quarry.cli.OptionSpec.DOUBLE;
import static dev.quarry.cli.OptionSpec.INT;
import static dev.quarry.cli.OptionSpec.STRING;
import static dev.quarry.cli.OptionSpec.flag;
import static dev.quarry.cli.OptionSpec.of;

import dev.quarry.al.AlConfig;
import dev.quarry.data.Datasets;
import dev.quarry.train.Schedule;
import dev.quarry.train.TrainConfig;
import java.util.List;

/**
 * The options shared by {@code al}, {@code sweep} and {@code demo}: data, model, training, MC and loop settings,
 * with the BatchBALD paper's MNIST protocol as the defaults (docs/protocols.md); and the configurations built
 * from them.
 */
final class AlOptions {
    private AlOptions() {}

    static final OptionSpec<Integer> INITIAL = of("initial", "N", INT, "20", "initial labelled set size");
    static final OptionSpec<String> INITIAL_MODE = of("initial-mode", "MODE", STRING, "balanced", "initial set: balanced, random, file");
    static final OptionSpec<String> INITIAL_FILE = of("initial-file", "FILE", STRING, null,
            "text file of training-set indices, one per line (--initial-mode file)");
    static final OptionSpec<Integer> BUDGET = of("budget", "N", INT, "300", "stop at this many labels");
    static final OptionSpec<Double> TARGET_ACCURACY = of("target-accuracy", "X", DOUBLE, "0", "stop once test accuracy reaches this, 0 = no target");
    static final OptionSpec<Double> LABEL_NOISE = of("label-noise", "X", DOUBLE, "0", "probability of a wrong oracle label");
    static final OptionSpec<String> ENCODER = of("encoder", "CKPT", STRING, null, "pretrained encoder checkpoint (quarry pretrain)");
    static final OptionSpec<Boolean> FINETUNE = flag("finetune", "with --encoder: start every round's trunk from it and train it");
    static final OptionSpec<Boolean> LINEAR = flag("linear", "with --encoder: frozen encoder features, train a dropout + linear head");
    static final OptionSpec<Boolean> WARM_START = flag("warm-start", "keep training the previous round's model instead of re-initialising");

    /** The active learning loop. */
    static final List<OptionSpec<?>> LOOP = List.of(INITIAL, INITIAL_MODE, INITIAL_FILE, BUDGET, TARGET_ACCURACY, Opts.POOL_SUBSET, LABEL_NOISE,
            ENCODER, FINETUNE, LINEAR, WARM_START);

    /** Everything {@code al}, {@code sweep} and {@code demo} take besides strategy, acquisition size, seed and output. */
    static final List<OptionSpec<?>> ALL = CommandSpec.join(Opts.DATA, Opts.MODEL_GROUP, Opts.EVAL, Opts.DEVICE_GROUP, Opts.TRAINING, Opts.MC, LOOP,
            CommandSpec.these(Opts.QUIET));

    /** The minibatch was spelt --batch (a prefix of --batch-size, which Commons CLI accepted) before. */
    static final List<CommandSpec.Alias> ALIASES = List.of(CommandSpec.Alias.of("batch", Opts.BATCH_SIZE));

    /** The training group's settings (--dataset decides the default augmentation). */
    static TrainConfig trainConfig(Parsed p) {
        return new TrainConfig(p.get(Opts.OPTIMIZER), p.getFloat(Opts.LR), p.getFloat(Opts.WEIGHT_DECAY),
                p.getFloat(Opts.MOMENTUM), p.flag(Opts.NESTEROV), p.getFloat(Opts.LABEL_SMOOTHING), p.get(Opts.BATCH_SIZE),
                p.get(Opts.EPOCHS), p.get(Opts.EPOCH_SAMPLES), Schedule.parse(p.get(Opts.SCHEDULE)), p.get(Opts.WARMUP_EPOCHS), p.get(Opts.PATIENCE),
                p.get(Opts.AUGMENT_PAD));
    }

    /** The configuration of one run (strategy, acquisition size and seed are given separately by sweep). */
    static AlConfig config(Parsed p, String strategy, int b, long seed) {
        return Cli.userInput(() -> {
            String dataset = p.get(Opts.DATASET);
            String dir = p.get(Opts.DATA_DIR); // null: the data home (DataHome), recorded as null in run.json
            Datasets.checkName(dataset);
            TrainConfig train = trainConfig(p);
            return new AlConfig(dataset, dir, p.get(Opts.COPIES), p.get(Opts.TRAIN_LIMIT), p.get(Opts.MODEL), p.getFloat(Opts.DROPOUT),
                    p.get(Opts.DROPOUT_PLACEMENT), strategy, b, p.get(INITIAL), p.get(INITIAL_MODE), p.get(INITIAL_FILE), p.get(Opts.VAL),
                    p.get(BUDGET), p.get(TARGET_ACCURACY), p.get(Opts.SAMPLES), p.get(Opts.TEST_SAMPLES), p.get(Opts.POOL_SUBSET),
                    p.get(Opts.MC_CONFIGS), p.get(Opts.BETA), p.get(LABEL_NOISE), p.flag(WARM_START), seed, p.get(Opts.DEVICE), p.get(Opts.CHUNK_MB),
                    train, p.get(ENCODER),
                    p.flag(FINETUNE) ? (p.flag(LINEAR) ? "both" : "finetune") : p.flag(LINEAR) ? "linear" : null,
                    p.get(Opts.GREEDY).cliName());
        });
    }
}
