package dev.quarry.cli;

import dev.quarry.al.Models;
import dev.quarry.data.Datasets;
import dev.quarry.engine.Device;
import dev.quarry.nn.Checkpoint;
import dev.quarry.ssl.Pretrainer;
import dev.quarry.ssl.SimclrAugment;
import dev.quarry.train.TrainConfig;
import dev.quarry.util.AtomicWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * {@code quarry pretrain --method simclr|moco --dataset D --model resnet --epochs E --out DIR}: self-supervised
 * pretraining of a ResNet trunk; writes DIR/encoder.safetensors (the trunk, loadable by probe and al --encoder) and
 * DIR/pretrain.json (settings, loss per epoch, images/s).
 */
final class PretrainCommand {
    private PretrainCommand() {}

    /** SimCLR's CIFAR recipe scaled to a CPU: batch 256, cosine schedule with a warm-up epoch; Adam (--optimizer lars for large batches). */
    static final String[] DEFAULTS = {"--model", "resnet", "--epochs", "10", "--epoch-samples", "0", "--patience", "0", "--batch-size", "256",
            "--optimizer", "adam", "--lr", "1e-3", "--weight-decay", "1e-6", "--schedule", "cosine", "--warmup-epochs", "1", "--val", "0"};

    static int run(String[] args, PrintStream out, PrintStream err) {
        Options options = AlOptions.addTraining(new Options())
                .addOption(Option.builder().longOpt("method").hasArg().desc("simclr (default) or moco").get())
                .addOption(Option.builder().longOpt("tau").hasArg().desc("temperature (default 0.5 SimCLR, 0.2 MoCo v2)").get())
                .addOption(Option.builder().longOpt("proj-dim").hasArg().desc("projection head output (default 128)").get())
                .addOption(Option.builder().longOpt("queue").hasArg().desc("MoCo queue length (default 4096)").get())
                .addOption(Option.builder().longOpt("momentum-key").hasArg().desc("MoCo key-encoder momentum (default 0.99)").get())
                .addOption(Option.builder().longOpt("crop-scale").hasArg().desc("smallest crop area fraction (default 0.08)").get())
                .addOption(Option.builder().longOpt("seed").hasArg().get())
                .addOption(Option.builder().longOpt("out").hasArg().required().get());
        List<String> merged = new ArrayList<>(List.of(args));
        merged.addAll(List.of(DEFAULTS));
        CommandLine cl = Args.parse(options, merged.toArray(String[]::new));
        String method = cl.getOptionValue("method", "simclr"), dataset = cl.getOptionValue("dataset", "mnist-sample");
        String model = cl.getOptionValue("model");
        long seed = Args.longOption(cl, "seed", 0);
        boolean quiet = cl.hasOption("quiet");
        Path outDir = Path.of(cl.getOptionValue("out"));
        Pretrainer.Config pc;
        Datasets.Split data;
        try {
            TrainConfig tc = AlOptions.trainConfig(cl, dataset);
            pc = new Pretrainer.Config(method, tc, (float) Args.doubleOption(cl, "tau", method.equals("moco") ? 0.2 : 0.5),
                    Args.intOption(cl, "proj-dim", 128), Args.intOption(cl, "queue", 4096), (float) Args.doubleOption(cl, "momentum-key", 0.99),
                    SimclrAugment.cifar().withScaleMin((float) Args.doubleOption(cl, "crop-scale", 0.08)));
            data = Datasets.load(dataset, Datasets.dir(cl.getOptionValue("data-dir")), seed,
                    Args.intOption(cl, "copies", 3), Args.intOption(cl, "train-limit", 0));
            Models.check(model, 0f, "none", data.train());
            if (model.equals("convnet")) throw new IllegalArgumentException("pretraining needs a ResNet encoder: --model resnet or resnet18");
        } catch (IOException | IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
        Device device = Device.select(cl.getOptionValue("device", "auto"), quiet ? null : err);
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
        try {
            dev.quarry.al.Results.JSON_WRITER.writeValue(w.stage("pretrain.json").toFile(), report);
            w.commit();
        } catch (IOException e) {
            w.abort();
            throw new Main.UsageException("cannot write results to " + outDir + ": " + e.getMessage());
        }
        if (!quiet)
            out.printf("quarry pretrain: %s, %d steps, loss %.4f -> %.4f, %.0f s; wrote %s%n", method, r.steps(), r.epochLoss()[0],
                    r.epochLoss()[r.epochLoss().length - 1], seconds, outDir.resolve("encoder.safetensors"));
        return 0;
    }
}
