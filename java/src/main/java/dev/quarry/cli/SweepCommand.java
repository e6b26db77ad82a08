package dev.quarry.cli;

import dev.quarry.al.AlConfig;
import dev.quarry.al.Results;
import dev.quarry.al.RunState;
import dev.quarry.al.Sweep;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@code quarry sweep --strategies a,b --seeds 0-5 --acquisition-sizes 10 --out DIR}: every (strategy, b, seed)
 * run one after another into DIR/STRATEGY-bB-seedS (finished runs are skipped, interrupted ones resumed), then
 * DIR/aggregate.csv, DIR/quartiles.csv and DIR/curves.png|svg.
 */
final class SweepCommand {
    private SweepCommand() {}

    /** Strategies of a grid, comma-separated (sweep and demo). */
    static final OptionSpec<String> STRATEGIES = OptionSpec.of("strategies", "A,B,..", OptionSpec.STRING, "batchbald,bald,random",
            "strategies, comma-separated");
    /** Seeds of a grid (sweep and demo), read by {@link #seeds}. */
    static final OptionSpec<long[]> SEEDS = OptionSpec.of("seeds", "S,..|A-B", (name, v) -> seeds(v), "0", "comma-separated seeds or a range A-B");
    static final OptionSpec<int[]> ACQUISITION_SIZES = OptionSpec.of("acquisition-sizes", "B,..",
            (name, v) -> Arrays.stream(v.split(",")).mapToInt(s -> parseInt(s, "--" + name)).toArray(), "10", "comma-separated b values");
    static final OptionSpec<double[]> THRESHOLDS = OptionSpec.of("thresholds", "X,..",
            (name, v) -> Arrays.stream(v.split(",")).mapToDouble(s -> parseDouble(s, "--" + name)).toArray(), "0.9,0.95",
            "accuracies for the labels-needed table");

    static final CommandSpec SPEC = new CommandSpec("sweep", null,
            "every (strategy, b, seed) run into DIR/STRATEGY-bB-seedS, then the aggregate table, quartiles and curves",
            CommandSpec.join(CommandSpec.these(STRATEGIES, SEEDS, ACQUISITION_SIZES, THRESHOLDS, Opts.OUT.asRequired()), AlOptions.ALL),
            AlOptions.ALIASES);

    static int run(String[] args, PrintStream out, PrintStream err) {
        Parsed cl = Cli.parse(SPEC, args, err);
        List<String> strategies = Arrays.asList(cl.get(STRATEGIES).split(","));
        long[] seeds = cl.get(SEEDS);
        int[] sizes = cl.get(ACQUISITION_SIZES);
        double[] thresholds = cl.get(THRESHOLDS);
        for (double t : thresholds)
            if (!(t > 0 && t <= 1)) throw new Main.UsageException("--thresholds must lie in (0, 1], got " + t);
        List<AlConfig> grid = new ArrayList<>();
        for (String s : strategies)
            for (int b : sizes)
                for (long seed : seeds) grid.add(AlOptions.config(cl, s.strip(), b, seed));
        return runGrid(grid, thresholds, Path.of(cl.get(Opts.OUT)), Cli.quiet(cl), out, err);
    }

    static int runGrid(List<AlConfig> grid, double[] thresholds, Path dir, boolean quiet, PrintStream out, PrintStream err) {
        for (AlConfig c : grid) checkExisting(c, runDir(dir, c));
        long t0 = System.nanoTime();
        List<Sweep.Run> runs = new ArrayList<>();
        for (int i = 0; i < grid.size(); i++) {
            AlConfig c = grid.get(i);
            Path rd = runDir(dir, c);
            if (!quiet) out.printf("[%d/%d] %s, b = %d, seed %d -> %s%n", i + 1, grid.size(), c.strategy(), c.acquisitionSize(), c.seed(), rd);
            RunState st = AlCommand.runOne(c, rd, false, quiet, out, err);
            runs.add(new Sweep.Run(c.strategy(), c.acquisitionSize(), c.seed(), st));
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        try {
            Sweep.write(dir, runs, thresholds, grid.get(0).dataset() + ": mean ± std over seeds");
        } catch (IOException e) {
            throw new Main.UsageException("cannot write the aggregate to " + dir + ": " + e.getMessage());
        }
        if (!quiet) {
            out.printf("%nlabels needed (quartiles 25/50/75%% over seeds; training-set size at the first model over the threshold, minus b):%n");
            out.printf("%-24s %9s %20s %8s%n", "strategy", "threshold", "labels 25/50/75%", "reached");
            for (Sweep.Quartiles q : Sweep.quartiles(runs, thresholds))
                out.printf("%-24s %9.3f %20s %5d/%d%n", Sweep.key(q.strategy(), q.acquisitionSize()), q.threshold(),
                        Sweep.fmt(q.q25()) + " / " + Sweep.fmt(q.q50()) + " / " + Sweep.fmt(q.q75()), q.reached(), q.runs());
            out.printf("sweep wall time (this invocation) %.1f s; aggregate.csv, quartiles.csv, curves.png, curves.svg in %s%n", wall, dir);
        }
        return 0;
    }

    static Path runDir(Path dir, AlConfig c) {
        return dir.resolve(c.strategy() + "-b" + c.acquisitionSize() + "-seed" + c.seed());
    }

    /** A run folder made with other settings is an error, not something to resume or skip. */
    private static void checkExisting(AlConfig c, Path rd) {
        if (!Files.exists(rd.resolve("run.json"))) return;
        try {
            AlConfig old = Results.readConfig(rd);
            if (!old.equals(c))
                throw new Main.UsageException(rd + " holds a run with other settings than this sweep asks for; use another --out");
        } catch (IOException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }

    static long[] seeds(String spec) {
        String s = spec.strip();
        if (s.matches("\\d+-\\d+")) {
            String[] ab = s.split("-");
            long a = Long.parseLong(ab[0]), b = Long.parseLong(ab[1]);
            if (b < a || b - a > 10_000) throw new Main.UsageException("--seeds range " + s + " is empty or too long");
            long[] out = new long[(int) (b - a + 1)];
            for (int i = 0; i < out.length; i++) out[i] = a + i;
            return out;
        }
        return Arrays.stream(s.split(",")).mapToLong(x -> parseLong(x, "--seeds")).toArray();
    }

    private static long parseLong(String s, String what) {
        try {
            return Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
            throw new Main.UsageException(what + ": '" + s + "' is not an integer");
        }
    }

    private static int parseInt(String s, String what) {
        try {
            return Integer.parseInt(s.strip());
        } catch (NumberFormatException e) {
            throw new Main.UsageException(what + ": '" + s + "' is not an integer");
        }
    }

    private static double parseDouble(String s, String what) {
        try {
            return Double.parseDouble(s.strip());
        } catch (NumberFormatException e) {
            throw new Main.UsageException(what + ": '" + s + "' is not a number");
        }
    }
}
