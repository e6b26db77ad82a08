package dev.quarry.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.quarry.acquire.Acquirer;
import dev.quarry.acquire.Greedy;
import dev.quarry.acquire.LogProbs;
import dev.quarry.acquire.Selection;
import dev.quarry.acquire.Strategy;
import dev.quarry.engine.Device;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;
import org.jetbrains.bio.npy.NpyFile;

/**
 * {@code quarry acquire --logprobs IN.npy --strategy NAME --acquisition-size B --out DIR}: picks b points from MC
 * log-probabilities and writes DIR/indices.npy (int64, selection order), DIR/scores.npy (float64) and
 * DIR/timing.json, all atomically and only when the whole selection succeeded.
 */
final class AcquireCommand {
    private AcquireCommand() {}

    static final OptionSpec<String> LOGPROBS = OptionSpec.of("logprobs", "IN.npy", OptionSpec.STRING, null,
            "N x K x C log-softmax MC outputs (f4 or f8)").asRequired();

    static final CommandSpec SPEC = new CommandSpec("acquire", null,
            "picks b points from MC log-probabilities: DIR/indices.npy, DIR/scores.npy, DIR/timing.json",
            CommandSpec.join(CommandSpec.these(LOGPROBS, Opts.STRATEGY.describedAs("one of: " + Strategy.names()).asRequired(),
                            Opts.ACQUISITION_SIZE.describedAs("points to pick, b").asRequired(), Opts.MC_CONFIGS, Opts.GREEDY,
                            Opts.BETA, Opts.SEED),
                    Opts.DEVICE_GROUP, CommandSpec.these(Opts.CHUNK_MB), Opts.OUTPUT, CommandSpec.these(Opts.OUT.asRequired())),
            List.of(CommandSpec.Alias.of("batch", Opts.ACQUISITION_SIZE)));

    /** --mc-configs and --beta, checked before any input is read. */
    static void checkRequest(Acquirer.Request r) {
        if (r.mcConfigs() < 1) throw new Main.UsageException("--mc-configs must be at least 1, got " + r.mcConfigs());
        if (!(r.beta() > 0) || Double.isInfinite(r.beta())) throw new Main.UsageException("--beta must be positive and finite, got " + r.beta());
    }

    static Strategy strategy(String name) {
        try {
            return Strategy.parse(name);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    static int run(String[] args, java.io.PrintStream out, java.io.PrintStream err) {
        Parsed p = Cli.parse(SPEC, args, err);
        Strategy strategy = strategy(p.get(Opts.STRATEGY));
        int batch = p.get(Opts.ACQUISITION_SIZE);
        Acquirer.Request request = new Acquirer.Request(strategy, batch, p.get(Opts.MC_CONFIGS), p.get(Opts.BETA), p.get(Opts.SEED),
                p.get(Opts.GREEDY));
        if (batch < 1) throw new Main.UsageException("--acquisition-size must be at least 1, got " + batch);
        checkRequest(request);
        long chunkBytes = p.get(Opts.CHUNK_MB) << 20;
        boolean quiet = Cli.quiet(p);
        Path outDir = Path.of(p.get(Opts.OUT));
        p.get(Opts.DEVICE); // checked before the input is read

        long t0 = System.nanoTime();
        Selection sel;
        Device device;
        int n, k, c;
        // the input is checked before the device is chosen, so a bad file gives exactly one line
        try (LogProbs pool = Npy.readLogProbs(Path.of(p.get(LOGPROBS)))) {
            n = pool.n();
            k = pool.k();
            c = pool.c();
            if (batch > n) throw new Main.UsageException("--acquisition-size " + batch + " is larger than the pool (" + n + " points)");
            double readSeconds = (System.nanoTime() - t0) / 1e9;
            device = Cli.device(p, err);
            try {
                sel = new Acquirer(device, chunkBytes, ConsoleProgress.forFlags(quiet)).select(pool, request);
            } catch (IllegalArgumentException e) {
                throw new Main.UsageException(e.getMessage());
            }
            sel.timings().put("read", readSeconds);
        }
        write(outDir, sel, strategy, request, device, n, k, c, (System.nanoTime() - t0) / 1e9);
        if (!quiet)
            out.printf("quarry acquire: %s picked %d of %d points in %.3f s; wrote %s%n", strategy.cliName, batch, n,
                    (System.nanoTime() - t0) / 1e9, outDir);
        return 0;
    }

    private static void write(Path out, Selection sel, Strategy strategy, Acquirer.Request r, Device device, int n, int k, int c,
                              double totalSeconds) {
        Cli.write(out, w -> {
            NpyFile.write(w.stage("indices.npy"), sel.indices(), new int[] {sel.indices().length});
            NpyFile.write(w.stage("scores.npy"), sel.scores(), new int[] {sel.scores().length});
            Map<String, Object> timing = new LinkedHashMap<>();
            timing.put("strategy", strategy.cliName);
            timing.put("pool", Map.of("n", n, "k", k, "c", c));
            timing.put("batch", r.batch());
            if (strategy == Strategy.BATCHBALD) {
                timing.put("mc_configs", r.mcConfigs());
                timing.put("greedy", r.greedy().cliName());
            }
            timing.put("seed", r.seed());
            timing.put("device", device.toString());
            timing.put("stage_seconds", sel.timings());
            if (!sel.steps().isEmpty()) timing.put("steps", sel.steps()); // per greedy step: evaluated, blocks, slack
            timing.put("total_seconds", totalSeconds);
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(w.stage("timing.json").toFile(), timing);
        });
    }
}
