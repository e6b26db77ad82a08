package dev.quarry.cli;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.QuarryNative;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.Adam;
import dev.quarry.nn.CrossEntropyLoss;
import dev.quarry.nn.Dropout;
import dev.quarry.nn.Flops;
import dev.quarry.nn.Models;
import dev.quarry.nn.Module;
import dev.quarry.nn.ResNetConfig;
import dev.quarry.nn.ResNetConfig.DropoutPlacement;
import dev.quarry.nn.Sequential;
import dev.quarry.train.McInference;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * {@code quarry bench train --model M --batch-size B} and {@code quarry bench mc --model M --pool N --samples K}: images per second of a training step (forward, backward,
 * Adam) and of consistent MC-dropout inference (the layers before the first dropout once per image, the rest once
 * per MC sample), on synthetic N(0, 1) images and uniform labels. Reports the median over timed repetitions after
 * warm-up and the achieved share of the device's FP32 peak: model FLOPs from the layer shapes ({@link Flops}:
 * convs and linear layers, backward = 2 x forward) against OpenBLAS sgemm measured in the same run on the CPU, or
 * the datasheet peak of a known GPU. benchmarks/peers/torch_models.py does the same work in PyTorch.
 */
final class ModelBench {
    private ModelBench() {}

    static final OptionSpec<String> MODEL = Opts.MODEL.describedAs("convnet, resnet18, resnet").asRequired();
    static final OptionSpec<Integer> STEPS = OptionSpec.of("steps", "S", OptionSpec.INT, "5", "training steps per timed repetition");
    static final OptionSpec<Integer> REPS = OptionSpec.of("reps", "R", OptionSpec.INT, null, "timed repetitions (the median is reported)");
    static final OptionSpec<Integer> WIDTH = OptionSpec.of("width", "W", OptionSpec.INT, "16", "resnet: channels of the first stage");
    static final OptionSpec<String> BLOCKS = OptionSpec.of("blocks", "N,N,..", OptionSpec.STRING, "1,1,1", "resnet: residual blocks per stage");
    static final OptionSpec<String> IMAGE = OptionSpec.of("image", "HxWxC", OptionSpec.STRING, "28x28x1", "resnet: input image shape");
    /** The model options of both workloads; --width, --blocks and --image only for --model resnet. */
    private static final List<OptionSpec<?>> MODEL_OPTIONS = List.of(Opts.DROPOUT,
            Opts.DROPOUT_PLACEMENT.describedAs("resnet18 and resnet: where dropout goes: classifier, blocks, none"), Opts.CLASSES, WIDTH,
            BLOCKS, IMAGE);
    private static final Set<String> PLACEMENTS = Set.of("none", "classifier", "blocks");
    /** --batch was B (bench train) or the inference chunk (bench mc), --p the probability and --dropout the placement. */
    private static final List<CommandSpec.Alias> ALIASES = List.of(CommandSpec.Alias.of("batch", Opts.BATCH_SIZE), CommandSpec.Alias.of("p", Opts.DROPOUT),
            new CommandSpec.Alias("dropout", Opts.DROPOUT_PLACEMENT, PLACEMENTS::contains));

    static final CommandSpec TRAIN = new CommandSpec("bench train", null,
            "images per second of a training step (forward, backward, Adam) on synthetic images, and the share of FP32 peak",
            CommandSpec.join(CommandSpec.these(MODEL, Opts.BATCH_SIZE.describedAs("images per training step").asRequired(), STEPS,
                            REPS.withDefault("5"), Opts.WARMUP.describedAs("unmeasured warm-up steps").withDefault("2")),
                    Opts.DEVICE_GROUP, CommandSpec.these(Opts.SEED), MODEL_OPTIONS),
            ALIASES);

    static final CommandSpec MC = new CommandSpec("bench mc", null,
            "images per second of consistent MC-dropout inference on a synthetic pool, and the share of FP32 peak",
            CommandSpec.join(CommandSpec.these(MODEL, Opts.POOL.asRequired(), Opts.SAMPLES.describedAs("MC samples K per image").asRequired(),
                            Opts.BATCH_SIZE.describedAs("images per inference chunk (at most --pool)").withDefault("500"), REPS.withDefault("3"),
                            Opts.WARMUP.describedAs("unmeasured warm-up chunks").withDefault("2")),
                    Opts.DEVICE_GROUP, CommandSpec.these(Opts.SEED), MODEL_OPTIONS),
            ALIASES);

    /** A model to build and the shape of one input image [h][w][c]. */
    private record Spec(String label, int[] image, boolean dropout, java.util.function.Function<Device, Sequential> build) {}

    static int run(boolean mc, String[] args, PrintStream out, PrintStream err) {
        Parsed cl = Cli.parse(mc ? MC : TRAIN, args, err);
        long seed = cl.get(Opts.SEED);
        Spec spec = spec(cl, seed);
        if (mc && !spec.dropout()) throw new Main.UsageException("MC inference needs dropout: --dropout > 0 and a --dropout-placement other than none");
        int reps = cl.get(REPS), warmup = cl.get(Opts.WARMUP);
        if (reps < 1 || warmup < 0) throw new Main.UsageException("--reps must be >= 1 and --warmup >= 0");
        int batch = cl.get(Opts.BATCH_SIZE), steps = mc ? 1 : cl.get(STEPS);
        int pool = mc ? cl.get(Opts.POOL) : 0, samples = mc ? cl.get(Opts.SAMPLES) : 0;
        if (batch < 1 || steps < 1) throw new Main.UsageException("--batch-size and --steps must be >= 1");
        if (mc && (pool < 1 || samples < 1)) throw new Main.UsageException("--pool and --samples must be >= 1");
        Device device = Cli.device(cl, err);

        double peak = peakFlops(device, out);
        try (Sequential net = spec.build().apply(device)) {
            long params = net.params().stream().mapToLong(p -> p.value().numel()).sum();
            Flops.Trace fwd = Flops.forward(net, spec.image());
            out.printf(Locale.ROOT, "model %s, input %s, %,d parameters, %.4f GFLOP forward per image%n", spec.label(),
                    shape(spec.image()), params, fwd.flops() / 1e9);
            if (mc) mcBench(net, spec, device, pool, samples, Math.min(pool, batch), reps, warmup, peak, seed, out);
            else trainBench(net, spec, fwd.flops(), device, batch, steps, reps, warmup, peak, seed, out);
        }
        return 0;
    }

    private static Spec spec(Parsed cl, long seed) {
        String model = cl.get(MODEL);
        float p = cl.getFloat(Opts.DROPOUT);
        int classes = cl.get(Opts.CLASSES);
        DropoutPlacement placement = placement(cl.get(Opts.DROPOUT_PLACEMENT));
        try {
            switch (model) {
                case "convnet" -> {
                    if (cl.has(Opts.DROPOUT_PLACEMENT) || cl.has(Opts.CLASSES) || cl.has(WIDTH) || cl.has(BLOCKS) || cl.has(IMAGE))
                        throw new Main.UsageException("the convnet is fixed (MNIST, 10 classes, Dropout2d/Dropout at --dropout): drop the ResNet options");
                    if (!(p >= 0 && p < 1)) throw new Main.UsageException("--dropout must be in [0, 1), got " + p);
                    return new Spec("convnet (BatchBALD MNIST, dropout " + p + ")", new int[] {28, 28, 1}, p > 0, d -> Models.mnistConvNet(d, p, seed));
                }
                case "resnet18" -> {
                    if (cl.has(WIDTH) || cl.has(BLOCKS) || cl.has(IMAGE))
                        throw new Main.UsageException("resnet18 is fixed (CIFAR variant, 32x32x3): use --model resnet for --width/--blocks/--image");
                    ResNetConfig cfg = ResNetConfig.cifar18(classes, placement, p);
                    return new Spec("resnet18 " + cfg, new int[] {32, 32, 3}, placement != DropoutPlacement.NONE, d -> Models.resnet(d, cfg, seed));
                }
                case "resnet" -> {
                    int[] image = image(cl.get(IMAGE));
                    ResNetConfig cfg = new ResNetConfig(image[2], classes, cl.get(WIDTH), blocks(cl.get(BLOCKS)),
                            placement, p);
                    return new Spec("resnet " + cfg, image, placement != DropoutPlacement.NONE, d -> Models.resnet(d, cfg, seed));
                }
                default -> throw new Main.UsageException("unknown --model '" + model + "' (convnet, resnet18, resnet)");
            }
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    private static DropoutPlacement placement(String s) {
        return switch (s) {
            case "none" -> DropoutPlacement.NONE;
            case "classifier" -> DropoutPlacement.CLASSIFIER;
            case "blocks" -> DropoutPlacement.EVERY_BLOCK;
            default -> throw new Main.UsageException("--dropout-placement must be none, classifier or blocks, got '" + s + "'");
        };
    }

    private static int[] image(String s) {
        String[] parts = s.split("x");
        try {
            int[] hwc = Arrays.stream(parts).mapToInt(t -> Integer.parseInt(t.trim())).toArray();
            if (hwc.length == 3 && Arrays.stream(hwc).allMatch(v -> v >= 1 && v <= 4096)) return hwc;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new Main.UsageException("--image must be HxWxC, e.g. 32x32x3, got '" + s + "'");
    }

    private static int[] blocks(String s) {
        try {
            return Arrays.stream(s.split(",")).mapToInt(t -> Integer.parseInt(t.trim())).toArray();
        } catch (NumberFormatException e) {
            throw new Main.UsageException("--blocks must be a comma-separated list of integers, e.g. 2,2,2,2, got '" + s + "'");
        }
    }

    private static String shape(int[] hwc) {
        return hwc[0] + "x" + hwc[1] + "x" + hwc[2];
    }

    private static int[] batchShape(int n, int[] hwc) {
        return new int[] {n, hwc[0], hwc[1], hwc[2]};
    }

    private static Tensor labels(Device d, int n, int classes, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] y = new int[n];
        for (int i = 0; i < n; i++) y[i] = r.nextInt(classes);
        return Tensor.ofInts(d, y, n);
    }

    private static void trainBench(Sequential net, Spec spec, long fwdFlops, Device device, int batch, int steps, int reps, int warmup,
                                   double peak, long seed, PrintStream out) {
        int classes = Flops.forward(net, spec.image()).outShape()[0];
        try (Tensor x = Tensor.empty(device, batchShape(batch, spec.image()));
             Tensor y = labels(device, batch, classes, seed);
             CrossEntropyLoss loss = new CrossEntropyLoss(0f);
             Adam opt = Adam.standard(net.params(), 1e-3f)) {
            Ops.fillNormal(x, seed, 1, 0f, 1f);
            Runnable step = () -> {
                loss.forward(net.forward(x, true), y);
                net.backward(loss.backward());
                opt.step();
            };
            for (int i = 0; i < warmup; i++) step.run();
            device.sync();
            double[] rates = new double[reps];
            for (int r = 0; r < reps; r++) {
                long t0 = System.nanoTime();
                for (int s = 0; s < steps; s++) step.run();
                device.sync();
                rates[r] = (double) batch * steps / ((System.nanoTime() - t0) / 1e9);
            }
            long perImage = 3 * fwdFlops;
            out.printf(Locale.ROOT, "train: batch %d, Adam, %d reps x %d steps after %d warm-up steps%n", batch, reps, steps, warmup);
            report(rates, perImage, "forward + backward (2x forward) per image", peak, out);
        }
    }

    private static void mcBench(Sequential net, Spec spec, Device device, int pool, int samples, int chunk, int reps, int warmup, double peak,
                                long seed, PrintStream out) {
        List<Module> layers = net.layers();
        int first = 0;
        while (first < layers.size() && !(layers.get(first) instanceof Dropout)) first++;
        Flops.Trace prefix = Flops.forward(layers.subList(0, first), spec.image());
        long suffix = Flops.forward(layers.subList(first, layers.size()), prefix.outShape()).flops();
        long perImage = prefix.flops() + (long) samples * suffix;
        int rest = pool % chunk;
        McInference mcInf = new McInference(net);
        try (Tensor x = Tensor.empty(device, batchShape(chunk, spec.image()));
             Tensor tail = rest == 0 ? null : Tensor.empty(device, batchShape(rest, spec.image()))) {
            Ops.fillNormal(x, seed, 1, 0f, 1f);
            if (tail != null) Ops.fillNormal(tail, seed, 2, 0f, 1f);
            for (int i = 0; i < warmup; i++) mcInf.logProbs(x, samples);
            double[] rates = new double[reps];
            for (int r = 0; r < reps; r++) {
                long t0 = System.nanoTime();
                for (int done = 0; done + chunk <= pool; done += chunk) mcInf.logProbs(x, samples);
                if (tail != null) mcInf.logProbs(tail, samples);
                device.sync();
                rates[r] = pool / ((System.nanoTime() - t0) / 1e9);
            }
            out.printf(Locale.ROOT, "mc: pool %d in chunks of %d, K = %d samples (%d layers before the first dropout run once), %d reps after %d warm-up chunks%n",
                    pool, chunk, samples, first, reps, warmup);
            report(rates, perImage, "prefix once + K x suffix per image", peak, out);
        }
    }

    private static void report(double[] rates, long flopsPerImage, String what, double peak, PrintStream out) {
        double[] s = rates.clone();
        Arrays.sort(s);
        double median = s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        out.printf(Locale.ROOT, "  images/s: median %.1f (min %.1f, max %.1f over %d reps)%n", median, s[0], s[s.length - 1], s.length);
        double achieved = median * flopsPerImage;
        out.printf(Locale.ROOT, "  achieved %.1f GFLOP/s (%.4f GFLOP %s)", achieved / 1e9, flopsPerImage / 1e9, what);
        if (Double.isNaN(peak)) out.printf(Locale.ROOT, ", peak unknown%n");
        else out.printf(Locale.ROOT, " = %.1f%% of peak%n", 100 * achieved / peak);
    }

    /** FP32 peak in FLOP/s: sgemm measured now on the CPU, the datasheet for known GPUs, else NaN. */
    private static double peakFlops(Device device, PrintStream out) {
        if (device.isCuda()) {
            String name = device.cudaInfo().name();
            double tflops = name.contains("H100 PCIe") ? 51.2 : name.contains("H100 NVL") ? 60.0 : name.contains("H100") || name.contains("H200") ? 67.0
                    : name.contains("A100") ? 19.5 : Double.NaN;
            if (Double.isNaN(tflops)) out.printf(Locale.ROOT, "device %s: peak unknown (no datasheet FP32 figure for it here)%n", device);
            else out.printf(Locale.ROOT, "device %s: datasheet FP32 (non-tensor) peak %.1f TFLOP/s%n", device, tflops);
            return tflops * 1e12;
        }
        int n = 2048;
        double best = 0;
        try (Tensor a = Tensor.empty(device, n, n); Tensor b = Tensor.empty(device, n, n); Tensor c = Tensor.empty(device, n, n)) {
            Ops.fillNormal(a, 1, 1, 0f, 1f);
            Ops.fillNormal(b, 1, 2, 0f, 1f);
            for (int i = 0; i < 4; i++) {
                long t0 = System.nanoTime();
                Ops.linearForward(a, b, null, c);
                double sec = (System.nanoTime() - t0) / 1e9;
                if (i > 0) best = Math.max(best, 2.0 * n * n * n / sec);
            }
        }
        out.printf(Locale.ROOT, "device cpu, %d threads, %s: peak = sgemm %d^3 measured now, %.1f GFLOP/s (best of 3)%n",
                QuarryNative.qy_cpu_threads(), QuarryNative.qy_blas_info(), n, best / 1e9);
        return best;
    }
}
