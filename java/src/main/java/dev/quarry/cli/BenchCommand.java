package dev.quarry.cli;

import dev.quarry.acquire.Acquirer;
import dev.quarry.acquire.Greedy;
import dev.quarry.acquire.LogProbs;
import dev.quarry.acquire.Selection;
import dev.quarry.acquire.Strategy;
import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * {@code quarry bench <workload>}: acquire (below), train and mc ({@link ModelBench}), ntxent and moco
 * ({@link ContrastiveBench}).
 *
 * {@code quarry bench acquire --pool N --samples K --classes C --acquisition-size B}: greedy BatchBALD on a synthetic pool,
 * time per stage with achieved GFLOP/s and GB/s, and each stage's memory floor on this device (bytes it must read
 * at the device-to-device copy bandwidth measured in the same run).
 */
final class BenchCommand {
    private BenchCommand() {}

    static final CommandSpec ACQUIRE = new CommandSpec("bench acquire", null,
            "greedy BatchBALD on a synthetic pool: seconds, GFLOP/s, GB/s and the memory floor per stage",
            CommandSpec.these(Opts.POOL.asRequired(), Opts.SAMPLES.describedAs("MC samples K per pool point").asRequired(),
                    Opts.CLASSES.asRequired(), Opts.ACQUISITION_SIZE.describedAs("points to pick, b").asRequired(), Opts.MC_CONFIGS, Opts.GREEDY,
                    Opts.SEED, Opts.DEVICE, Opts.CHUNK_MB.withDefault("2048")),
            List.of(CommandSpec.Alias.of("batch", Opts.ACQUISITION_SIZE)));

    /** Every workload, in the order the help lists them. */
    static final List<CommandSpec> SPECS = List.of(ACQUIRE, ModelBench.TRAIN, ModelBench.MC, ContrastiveBench.NTXENT, ContrastiveBench.MOCO);

    private static final String WORKLOADS = SPECS.stream().map(s -> s.name().substring("bench ".length())).collect(Collectors.joining(", "));

    static final String SUMMARY = "benchmarks: " + WORKLOADS;

    static int run(String[] args, java.io.PrintStream out, java.io.PrintStream err) {
        String[] rest = Arrays.copyOfRange(args, Math.min(1, args.length), args.length);
        return switch (args.length == 0 ? "" : args[0]) {
            case "acquire" -> acquire(rest, out, err);
            case "train", "mc" -> ModelBench.run(args[0].equals("mc"), rest, out, err);
            case "ntxent", "moco" -> ContrastiveBench.run(args[0].equals("moco"), rest, out, err);
            default -> throw new Main.UsageException("usage: quarry bench WORKLOAD [options], WORKLOAD one of " + WORKLOADS
                    + " ('quarry bench WORKLOAD --help' lists its options)");
        };
    }

    private static int acquire(String[] args, java.io.PrintStream out, java.io.PrintStream err) {
        Parsed p = Cli.parse(ACQUIRE, args, err);
        int n = p.get(Opts.POOL), k = p.get(Opts.SAMPLES);
        int c = p.get(Opts.CLASSES), b = p.get(Opts.ACQUISITION_SIZE);
        int configs = p.get(Opts.MC_CONFIGS);
        long seed = p.get(Opts.SEED);
        Greedy greedy = p.get(Opts.GREEDY);
        if (n < 1 || k < 1 || c < 2 || b < 1 || b > n)
            throw new Main.UsageException("need --pool >= --acquisition-size >= 1, --samples >= 1, --classes >= 2");
        if ((long) n * k * c > Integer.MAX_VALUE - 16) throw new Main.UsageException("pool x samples x classes must stay below 2^31 elements");
        AcquireCommand.checkRequest(new Acquirer.Request(Strategy.BATCHBALD, b, configs, 1.0, seed));
        Device device = Cli.device(p, err);
        long chunkBytes = p.get(Opts.CHUNK_MB) << 20;

        double bandwidth = copyBandwidth(device);
        out.printf("device %s; measured copy bandwidth %.1f GB/s (read + write)%n", device, bandwidth / 1e9);
        try (LogProbs pool = syntheticPool(n, k, c, seed)) {
            Selection sel = new Acquirer(device, chunkBytes, new ConsoleProgress())
                    .select(pool, new Acquirer.Request(Strategy.BATCHBALD, b, configs, 1.0, seed, greedy));
            out.printf("pool %d x %d x %d, batch %d, mc-configs %d, greedy %s%n", n, k, c, b, configs, greedy.cliName());
            out.printf("%-10s %10s %8s %10s %10s %10s %10s %6s %10s%n", "stage", "seconds", "configs", "GFLOP/s", "GB/s", "floor s",
                    "evaluated", "blocks", "slack");
            long evaluated = 0;
            double total = 0;
            for (Map.Entry<String, Double> e : sel.timings().entrySet()) {
                double sec = e.getValue();
                total += sec;
                long m = 0;
                double flops, bytes;
                String evals = "", blocks = "", slack = "";
                if (e.getKey().equals("entropies")) {
                    bytes = 2.0 * n * k * c * 4; // two passes over the f32 pool
                    flops = 2.0 * 4 * n * k * c;
                } else {
                    int step = Integer.parseInt(e.getKey().substring(5));
                    Map<String, Object> st = sel.steps().get(step - 1);
                    long cand = ((Number) st.get("evaluated")).longValue();
                    evaluated += cand;
                    evals = Long.toString(cand);
                    blocks = st.get("blocks").toString();
                    slack = String.format("%.2e", ((Number) st.get("slack")).doubleValue());
                    m = step == 1 ? 0 : (Math.pow(c, step - 1) <= configs ? (long) Math.pow(c, step - 1) : (long) Math.max(1, configs / k) * k);
                    bytes = step == 1 ? 8 : (double) cand * k * c * 8 + (double) m * k * 8;
                    flops = 2.0 * m * k * cand * c;
                }
                out.printf("%-10s %10.4f %8d %10.1f %10.1f %10.4f %10s %6s %10s%n", e.getKey(), sec, m, flops / sec / 1e9, bytes / sec / 1e9,
                        bytes / (bandwidth / 2), evals, blocks, slack);
            }
            out.printf("total %.3f s for %d picks, %d candidate evaluations (greedy %s; steps after the first are GEMM-bound: the memory"
                    + " floor is a lower bound only)%n", total, b, evaluated, greedy.cliName());
        }
        return 0;
    }

    /** Log-softmax of N(mu_n, 1.5^2) logits per point, mu_n itself random: a pool with mixed confidence, in float32. */
    static LogProbs syntheticPool(int n, int k, int c, long seed) {
        float[] lp = new float[Math.multiplyExact(Math.multiplyExact(n, k), c)];
        IntStream.range(0, n).parallel().forEach(i -> {
            SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + i);
            double[] mu = new double[c];
            for (int j = 0; j < c; j++) mu[j] = 3 * rng.nextDouble();
            double[] z = new double[c];
            for (int kk = 0; kk < k; kk++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int j = 0; j < c; j++) {
                    z[j] = mu[j] + 1.5 * gaussian(rng);
                    max = Math.max(max, z[j]);
                }
                for (int j = 0; j < c; j++) sum += Math.exp(z[j] - max);
                double lse = max + Math.log(sum);
                for (int j = 0; j < c; j++) lp[(i * k + kk) * c + j] = (float) (z[j] - lse);
            }
        });
        return LogProbs.ofFloats(lp, n, k, c);
    }

    private static double gaussian(SplittableRandom r) {
        double u1 = (r.nextLong() >>> 11) * 0x1.0p-53 + 0x1.0p-54, u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }

    /** Bytes moved per second (read + write) by a 256 MiB device-to-device copy, best of 5. */
    static double copyBandwidth(Device device) {
        int elems = 64 << 20;
        try (Tensor a = Tensor.empty(device, elems); Tensor b = Tensor.empty(device, elems)) {
            dev.quarry.engine.Ops.fill(a, 1f);
            double best = Double.MAX_VALUE;
            for (int i = 0; i < 5; i++) {
                long t0 = System.nanoTime();
                b.copyFrom(a);
                device.sync();
                best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            }
            return 2.0 * elems * 4 / best;
        }
    }
}
