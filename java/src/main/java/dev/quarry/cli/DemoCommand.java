package dev.quarry.cli;

import dev.quarry.al.AlConfig;
import dev.quarry.al.Results;
import dev.quarry.al.RunState;
import dev.quarry.al.Sweep;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * {@code quarry demo [--out DIR]}: BatchBALD against random on the shipped MNIST sample, offline, in a few minutes
 * on two CPU cores: a reduced protocol (1,000-point pool subset per round, K = 10, short epochs), 20 to 100 labels.
 * Prints the learning curves as a table and writes a sweep folder (curves.png, curves.svg, per-run CSVs).
 */
final class DemoCommand {
    private DemoCommand() {}

    /** The reduced protocol as defaults; every one can be overridden with the al/sweep option of the same name. */
    static final List<OptionSpec<?>> PROTOCOL = CommandSpec.these(Opts.DATASET.withDefault("mnist-sample"), AlOptions.INITIAL.withDefault("20"),
            AlOptions.BUDGET.withDefault("100"), Opts.SAMPLES.withDefault("10"), Opts.TEST_SAMPLES.withDefault("0"), Opts.POOL_SUBSET.withDefault("1000"),
            Opts.MC_CONFIGS.withDefault("10000"), Opts.VAL.withDefault("300"), Opts.EPOCHS.withDefault("8"), Opts.EPOCH_SAMPLES.withDefault("640"),
            Opts.PATIENCE.withDefault("2"));

    static final CommandSpec SPEC = new CommandSpec("demo", "[options]",
            "BatchBALD against random on the shipped MNIST sample, offline, in minutes on a CPU: curves table and plot",
            CommandSpec.join(CommandSpec.these(SweepCommand.STRATEGIES.withDefault("batchbald,random"), SweepCommand.SEEDS,
                    Opts.OUT.withDefault("demo")), AlOptions.ALL, PROTOCOL),
            AlOptions.ALIASES);

    static int run(String[] args, PrintStream out, PrintStream err) {
        Parsed cl = Cli.parse(SPEC, args, err);
        Path dir = Path.of(cl.get(Opts.OUT));
        List<AlConfig> grid = new ArrayList<>();
        for (String s : cl.get(SweepCommand.STRATEGIES).split(","))
            for (long seed : cl.get(SweepCommand.SEEDS)) grid.add(AlOptions.config(cl, s.strip(), 10, seed));
        long t0 = System.nanoTime();
        int rc = SweepCommand.runGrid(grid, new double[] {0.8, 0.9}, dir, Cli.quiet(cl), out, err);
        List<Sweep.Run> runs = new ArrayList<>();
        try {
            for (AlConfig c : grid) {
                RunState st = Results.readState(SweepCommand.runDir(dir, c));
                runs.add(new Sweep.Run(c.strategy(), c.acquisitionSize(), c.seed(), st));
            }
        } catch (IOException e) {
            throw new Main.UsageException(e.getMessage());
        }
        List<Sweep.Curve> curves = Sweep.curves(runs);
        TreeMap<Integer, String[]> table = new TreeMap<>();
        for (int j = 0; j < curves.size(); j++)
            for (int i = 0; i < curves.get(j).labels().length; i++)
                table.computeIfAbsent((int) curves.get(j).labels()[i], k -> new String[curves.size()])[j] =
                        String.format(java.util.Locale.ROOT, "%.3f", curves.get(j).mean()[i]);
        out.printf("%ntest accuracy (mean over seeds) by labelled images:%n%8s", "labels");
        for (Sweep.Curve c : curves) out.printf(" %12s", c.strategy());
        out.println();
        table.forEach((labels, row) -> {
            out.printf("%8d", labels);
            for (String v : row) out.printf(" %12s", v == null ? "-" : v);
            out.println();
        });
        out.printf("demo: %.0f s; plot %s%n", (System.nanoTime() - t0) / 1e9, dir.resolve("curves.png"));
        return rc;
    }
}
