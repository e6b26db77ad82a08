package dev.quarry.cli;

import dev.quarry.al.Models;
import dev.quarry.data.Datasets;
import dev.quarry.engine.Device;
import dev.quarry.nn.Checkpoint;
import dev.quarry.ssl.Pretrainer;
import dev.quarry.ssl.SimclrAugment;
import dev.quarry.util.AtomicWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code quarry pretrain --method simclr|moco --dataset D --model resnet --epochs E --out DIR}: self-supervised
 * pretraining of a ResNet trunk; writes DIR/encoder.safetensors (the trunk, loadable by probe and al --encoder) and
 * DIR/pretrain.json (settings, loss per epoch, images/s).
 */
final class PretrainCommand {
    private PretrainCommand() {}

    static final OptionSpec<String> METHOD = OptionSpec.of("method", "NAME", OptionSpec.STRING, "simclr", "simclr or moco");
    static final OptionSpec<Integer> PROJ_DIM = OptionSpec.of("proj-dim", "N", OptionSpec.INT, "128", "projection head output");
    static final OptionSpec<Double> MOMENTUM_KEY = OptionSpec.of("momentum-key", "X", OptionSpec.DOUBLE, "0.99", "MoCo key-encoder momentum");
    static final OptionSpec<Double> CROP_SCALE = OptionSpec.of("crop-scale", "X", OptionSpec.DOUBLE, "0.08", "smallest crop area fraction");

    /** SimCLR's CIFAR recipe scaled to a CPU: batch 256, cosine schedule with a warm-up epoch; Adam (--optimizer lars for large batches). */
    static final List<OptionSpec<?>> DEFAULTS = CommandSpec.these(Opts.MODEL.withDefault("resnet"), Opts.EPOCHS.withDefault("10"),
            Opts.EPOCH_SAMPLES.withDefault("0"), Opts.PATIENCE.withDefault("0"), Opts.BATCH_SIZE.withDefault("256"), Opts.OPTIMIZER.withDefault("adam"),
            Opts.LR.withDefault("1e-3"), Opts.WEIGHT_DECAY.withDefault("1e-6"), Opts.SCHEDULE.withDefault("cosine"), Opts.WARMUP_EPOCHS.withDefault("1"),
            unused(Opts.DROPOUT), unused(Opts.DROPOUT_PLACEMENT), unused(Opts.VAL.withDefault("0")), unused(Opts.TEST_SAMPLES));

    static final CommandSpec SPEC = new CommandSpec("pretrain", null,
            "self-supervised pretraining (SimCLR or MoCo v2) of a ResNet trunk: DIR/encoder.safetensors and DIR/pretrain.json",
            CommandSpec.join(CommandSpec.these(METHOD), Opts.DATA, Opts.MODEL_GROUP, Opts.EVAL, Opts.DEVICE_GROUP, Opts.TRAINING,
                    CommandSpec.these(Opts.TAU.withDefault("0.5 for simclr, 0.2 for moco", p -> p.get(METHOD).equals("moco") ? "0.2" : "0.5"), PROJ_DIM,
                            Opts.QUEUE, MOMENTUM_KEY, CROP_SCALE, Opts.SEED, Opts.OUT.asRequired(), Opts.QUIET), DEFAULTS),
            AlOptions.ALIASES);

    /** Accepted as before (the training options are shared with train and al), but pretraining does not read it. */
    private static <T> OptionSpec<T> unused(OptionSpec<T> o) {
        return o.describedAs(o.description() + "; accepted, not used by pretrain");
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        Parsed cl = Cli.parse(SPEC, args, err);
        String method = cl.get(METHOD), dataset = cl.get(Opts.DATASET);
        String model = cl.get(Opts.MODEL);
        long seed = cl.get(Opts.SEED);
        boolean quiet = Cli.quiet(cl);
        Path outDir = Path.of(cl.get(Opts.OUT));
        Pretrainer.Config pc = Cli.userInput(() -> new Pretrainer.Config(method, AlOptions.trainConfig(cl), cl.getFloat(Opts.TAU), cl.get(PROJ_DIM),
                cl.get(Opts.QUEUE), cl.getFloat(MOMENTUM_KEY), SimclrAugment.cifar().withScaleMin(cl.getFloat(CROP_SCALE))));
        Datasets.Split data = Cli.loadData(cl, seed);
        Cli.userCheck(() -> {
            Models.check(model, 0f, "none", data.train());
            if (model.equals("convnet")) throw new IllegalArgumentException("pretraining needs a ResNet encoder: --model resnet or resnet18");
        });
        Device device = Cli.device(cl, err);
        long t0 = System.nanoTime();
        AtomicWriter w = new AtomicWriter(outDir);
        Map<String, String> meta = new LinkedHashMap<>(Map.of("model", model, "dataset", dataset, "method", method,
                "image", data.train().height() + "x" + data.train().width() + "x" + data.train().channels()));
        Pretrainer.Result r;
        try {
            r = new Pretrainer(pc, device, ConsoleProgress.forFlags(quiet)).run(s -> Models.create(model, 0f, "none", data.train(), device, s), data, seed,
                    trunk -> {
                        try {
                            Checkpoint.save(w.stage("encoder.safetensors"), trunk, null, meta);
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    });
        } catch (IllegalArgumentException e) {
            w.abort();
            throw new Main.UsageException(e.getMessage());
        } catch (RuntimeException e) {
            w.abort();
            throw e;
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("method", method);
        report.put("model", model);
        report.put("dataset", dataset);
        report.put("images", data.trainIdx().length);
        report.put("device", device.toString());
        report.put("seed", seed);
        report.put("config", pc);
        report.put("steps", r.steps());
        report.put("epoch_loss", r.epochLoss());
        report.put("seconds", seconds);
        report.put("images_per_second", r.steps() * (double) pc.train().batch() / seconds);
        Cli.write(w, outDir, staged -> dev.quarry.al.Results.JSON_WRITER.writeValue(staged.stage("pretrain.json").toFile(), report));
        if (!quiet)
            out.printf("quarry pretrain: %s, %d steps, loss %.4f -> %.4f, %.0f s; wrote %s%n", method, r.steps(), r.epochLoss()[0],
                    r.epochLoss()[r.epochLoss().length - 1], seconds, outDir.resolve("encoder.safetensors"));
        return 0;
    }
}
