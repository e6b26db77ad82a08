package dev.quarry.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.quarry.acquire.Acquirer;
import dev.quarry.acquire.Greedy;
import dev.quarry.acquire.LogProbs;
import dev.quarry.acquire.Selection;
import dev.quarry.acquire.Strategy;
import dev.quarry.engine.Device;
import dev.quarry.util.AtomicWriter;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;
import org.jetbrains.bio.npy.NpyFile;

/**
 * {@code quarry acquire --logprobs IN.npy --strategy NAME --batch B --out DIR}: picks a batch from MC
 * log-probabilities and writes DIR/indices.npy (int64, selection order), DIR/scores.npy (float64) and
 * DIR/timing.json, all atomically and only when the whole selection succeeded.
 */
final class AcquireCommand {
    private AcquireCommand() {}

    static Options options() {
        return new Options()
                .addOption(Option.builder().longOpt("logprobs").hasArg().argName("IN.npy").required().desc("N x K x C log-softmax MC outputs (f4 or f8)").get())
                .addOption(Option.builder().longOpt("strategy").hasArg().argName("NAME").required().desc("one of: " + Strategy.names()).get())
                .addOption(Option.builder().longOpt("batch").hasArg().argName("B").required().desc("acquisition batch size").get())
                .addOption(Option.builder().longOpt("mc-configs").hasArg().argName("M").desc("BatchBALD joint configurations (default 40000)").get())
                .addOption(Option.builder().longOpt("greedy").hasArg().argName("lazy|full").desc("BatchBALD greedy search (default full)").get())
                .addOption(Option.builder().longOpt("beta").hasArg().argName("X").desc("coldness of stochastic strategies (default 1)").get())
                .addOption(Option.builder().longOpt("seed").hasArg().argName("S").desc("random seed (default 0)").get())
                .addOption(Option.builder().longOpt("device").hasArg().argName("auto|cpu|cuda").desc("backend (default auto)").get())
                .addOption(Option.builder().longOpt("chunk-mb").hasArg().argName("MB").desc("device memory per pool chunk (default 512)").get())
                .addOption(Option.builder().longOpt("quiet").desc("no progress output").get())
                .addOption(Option.builder().longOpt("out").hasArg().argName("DIR").required().desc("output folder").get());
    }

    /** --mc-configs and --beta, checked before any input is read. */
    static void checkRequest(Acquirer.Request r) {
        if (r.mcConfigs() < 1) throw new Main.UsageException("--mc-configs must be at least 1, got " + r.mcConfigs());
        if (!(r.beta() > 0) || Double.isInfinite(r.beta())) throw new Main.UsageException("--beta must be positive and finite, got " + r.beta());
    }

    /** --greedy lazy|full (default {@link Greedy#DEFAULT}). */
    static Greedy greedy(CommandLine cl) {
        try {
            return cl.hasOption("greedy") ? Greedy.parse(cl.getOptionValue("greedy")) : Greedy.DEFAULT;
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    static Strategy strategy(String name) {
        try {
            return Strategy.parse(name);
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    static int run(String[] args, java.io.PrintStream out, java.io.PrintStream err) {
        CommandLine cl = Args.parse(options(), args);
        Strategy strategy = strategy(cl.getOptionValue("strategy"));
        int batch = Args.intOption(cl, "batch", 0);
        Acquirer.Request request = new Acquirer.Request(strategy, batch, Args.intOption(cl, "mc-configs", 40_000),
                Args.doubleOption(cl, "beta", 1.0), Args.longOption(cl, "seed", 0), greedy(cl));
        if (batch < 1) throw new Main.UsageException("--batch must be at least 1, got " + batch);
        checkRequest(request);
        long chunkBytes = Args.megabytes(cl, "chunk-mb", 512);
        boolean quiet = cl.hasOption("quiet");
        Path outDir = Path.of(cl.getOptionValue("out"));
        String deviceSpec = cl.getOptionValue("device", "auto");
        if (!deviceSpec.matches("auto|cpu|cuda")) throw new Main.UsageException("unknown device '" + deviceSpec + "': expected auto, cpu or cuda");

        long t0 = System.nanoTime();
        Selection sel;
        Device device;
        int n, k, c;
        // the input is checked before the device is chosen, so a bad file gives exactly one line
        try (LogProbs pool = Npy.readLogProbs(Path.of(cl.getOptionValue("logprobs")))) {
            n = pool.n();
            k = pool.k();
            c = pool.c();
            if (batch > n) throw new Main.UsageException("--batch " + batch + " is larger than the pool (" + n + " points)");
            double readSeconds = (System.nanoTime() - t0) / 1e9;
            device = Device.select(deviceSpec, quiet ? null : err);
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
        AtomicWriter w = new AtomicWriter(out);
        try {
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
            w.commit();
        } catch (IOException | RuntimeException e) {
            w.abort();
            throw new Main.UsageException("cannot write results to " + out + ": " + e.getMessage());
        }
    }
}
