package dev.quarry.cli;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Scope;
import dev.quarry.engine.Tensor;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * {@code quarry bench ntxent --batch-size N --dim D [--tau T]} and {@code quarry bench moco --batch-size N --queue K --dim D
 * [--tau T]}: one forward + backward of the native contrastive loss per run (NT-Xent over 2N embeddings; MoCo
 * InfoNCE of N queries against a K-key queue), timed with a device sync after each run; prints the median, minimum
 * and maximum of {@code --repeats} runs after {@code --warmup} unmeasured ones, the loss, and the memory the op needs:
 * its tensors (inputs, gradient, saves), the scratch the native op allocates (from the shapes, as the op computes it),
 * the dense logit matrix it avoids, and on Linux the process's peak resident set (VmHWM, the JVM included).
 * benchmarks/peers/torch_contrastive.py prints the same lines for PyTorch.
 */
final class ContrastiveBench {
    private ContrastiveBench() {}

    static final OptionSpec<Integer> DIM = OptionSpec.of("dim", "D", OptionSpec.INT, null, "embedding dimension D").asRequired();
    static final OptionSpec<Integer> REPEATS = OptionSpec.of("repeats", "R", OptionSpec.INT, "10", "timed runs (median, min and max are reported)");
    private static final List<OptionSpec<?>> COMMON = List.of(Opts.DEVICE, REPEATS, Opts.WARMUP, Opts.SEED);
    /** --batch was N: the pairs of NT-Xent, the queries of MoCo. */
    private static final List<CommandSpec.Alias> ALIASES = List.of(CommandSpec.Alias.of("batch", Opts.BATCH_SIZE));

    static final CommandSpec NTXENT = new CommandSpec("bench ntxent", null,
            "one forward + backward of the native NT-Xent loss over 2N embeddings: milliseconds, loss, memory",
            CommandSpec.join(CommandSpec.these(Opts.BATCH_SIZE.describedAs("positive pairs N (2N embeddings)").asRequired(), DIM,
                    Opts.TAU.withDefault("0.5")), COMMON),
            ALIASES);

    static final CommandSpec MOCO = new CommandSpec("bench moco", null,
            "one forward + backward of the native MoCo InfoNCE loss, N queries against a K-key queue: milliseconds, loss, memory",
            CommandSpec.join(CommandSpec.these(Opts.BATCH_SIZE.describedAs("queries N").asRequired(), Opts.QUEUE.asRequired(), DIM,
                    Opts.TAU.withDefault("0.07")), COMMON),
            ALIASES);

    static int run(boolean moco, String[] args, PrintStream out, PrintStream err) {
        Parsed cl = Cli.parse(moco ? MOCO : NTXENT, args, err);
        int n = cl.get(Opts.BATCH_SIZE), d = cl.get(DIM);
        int kq = moco ? cl.get(Opts.QUEUE) : 0;
        double tau = cl.get(Opts.TAU);
        int repeats = cl.get(REPEATS), warmup = cl.get(Opts.WARMUP);
        long seed = cl.get(Opts.SEED);
        if (n < (moco ? 1 : 2) || d < 1 || (moco && kq < 1))
            throw new Main.UsageException(moco ? "need --batch-size >= 1, --queue >= 1 and --dim >= 1" : "need --batch-size >= 2 pairs and --dim >= 1");
        if ((long) (moco ? Math.max(n, kq) : 2L * n) * d > Integer.MAX_VALUE)
            throw new Main.UsageException("rows x dim must stay below 2^31 elements");
        if (!(tau > 0) || Double.isInfinite(tau)) throw new Main.UsageException("--tau must be positive and finite, got " + tau);
        if (repeats < 1 || warmup < 0) throw new Main.UsageException("need --repeats >= 1 and --warmup >= 0");
        Device device = Cli.device(cl, err);

        try (Scope sc = new Scope()) {
            Tensor loss = sc.empty(device, 1);
            Runnable step;
            long tensorBytes, scratch;
            double denseLogits;
            if (moco) {
                // Rows of N(0, 1/d) entries have norms close to 1: the unit rows MoCo feeds the op, without a normalise op.
                Tensor q = normal(sc, device, seed, 1, n, d), k = normal(sc, device, seed, 2, n, d), queue = normal(sc, device, seed, 3, kq, d);
                Tensor lse = sc.empty(device, n), dq = sc.empty(device, n, d);
                float t = (float) tau;
                step = () -> {
                    Ops.infoNceQueueForward(q, k, queue, loss, lse, t);
                    Ops.infoNceQueueBackward(q, k, queue, lse, dq, t, 1f);
                };
                tensorBytes = 4L * (3L * n * d + (long) kq * d + n + 1);
                scratch = Ops.infoNceQueueScratchBytes(device, n, kq, d);
                denseLogits = 4.0 * n * (kq + 1.0);
                out.printf("moco batch %d queue %d dim %d tau %s device %s%n", n, kq, d, tau, device);
            } else {
                Tensor z = sc.track(Tensor.empty(device, 2 * n, d));
                Ops.fillNormal(z, seed, 0, 0f, 1f);
                Tensor lse = sc.empty(device, 2 * n), inv = sc.empty(device, 2 * n), dz = sc.empty(device, 2 * n, d);
                float t = (float) tau;
                step = () -> {
                    Ops.ntxentForward(z, loss, lse, inv, t);
                    Ops.ntxentBackward(z, lse, inv, dz, t, 1f);
                };
                tensorBytes = 4L * (2L * 2 * n * d + 2L * 2 * n + 1);
                scratch = Ops.ntxentScratchBytes(device, n, d);
                denseLogits = 4.0 * (2.0 * n) * (2.0 * n);
                out.printf("ntxent batch %d dim %d tau %s device %s%n", n, d, tau, device);
            }
            for (int i = 0; i < warmup; i++) step.run();
            device.sync();
            double[] ms = new double[repeats];
            for (int i = 0; i < repeats; i++) {
                long t0 = System.nanoTime();
                step.run();
                device.sync();
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(ms);
            double median = repeats % 2 == 1 ? ms[repeats / 2] : 0.5 * (ms[repeats / 2 - 1] + ms[repeats / 2]);
            out.printf("forward+backward ms: median %.3f min %.3f max %.3f (%d runs after %d warm-up)%n", median, ms[0], ms[repeats - 1],
                    repeats, warmup);
            out.printf("loss %.6f%n", loss.toFloats()[0]);
            out.printf("memory MiB: tensors %.2f, op scratch %.2f, dense logits avoided %.2f%n", tensorBytes / MIB, scratch / MIB,
                    denseLogits / MIB);
            long hwm = peakRssBytes();
            if (hwm > 0) out.printf("peak RSS MiB (VmHWM, whole process): %.1f%n", hwm / MIB);
        }
        return 0;
    }

    private static final double MIB = 1 << 20;

    private static Tensor normal(Scope sc, Device device, long seed, int stream, int rows, int d) {
        Tensor t = sc.track(Tensor.empty(device, rows, d));
        Ops.fillNormal(t, seed, stream, 0f, (float) (1 / Math.sqrt(d)));
        return t;
    }

    /** The process's peak resident set from /proc/self/status (VmHWM), or -1 where there is none. */
    static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
