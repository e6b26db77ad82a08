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
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * {@code quarry demo [--out DIR]}: BatchBALD against random on the shipped MNIST sample, offline, in a few minutes
 * on two CPU cores: a reduced protocol (1,000-point pool subset per round, K = 10, short epochs), 20 to 100 labels.
 * Prints the learning curves as a table and writes a sweep folder (curves.png, curves.svg, per-run CSVs).
 */
final class DemoCommand {
    private DemoCommand() {}

    /** The reduced protocol; every value can be overridden with the al/sweep options of the same name. */
    static final String[] PROTOCOL = {"--dataset", "mnist-sample", "--initial", "20", "--budget", "100", "--samples", "10",
            "--test-samples", "0", "--pool-subset", "1000", "--mc-configs", "10000", "--val", "300", "--epochs", "8",
            "--epoch-samples", "640", "--patience", "2"};

    static int run(String[] args, PrintStream out, PrintStream err) {
        Options options = AlOptions.add(new Options())
                .addOption(Option.builder().longOpt("strategies").hasArg().desc("default batchbald,random").get())
                .addOption(Option.builder().longOpt("seeds").hasArg().desc("default 0").get())
                .addOption(Option.builder().longOpt("out").hasArg().desc("result folder (default demo)").get());
        // Commons CLI returns an option's first value: the user's options go before the protocol's.
        List<String> merged = new ArrayList<>(List.of(args));
        merged.addAll(List.of(PROTOCOL));
        CommandLine cl = Args.parse(options, merged.toArray(String[]::new));
        Path dir = Path.of(cl.getOptionValue("out", "demo"));
        List<AlConfig> grid = new ArrayList<>();
        for (String s : cl.getOptionValue("strategies", "batchbald,random").split(","))
            for (long seed : SweepCommand.seeds(cl.getOptionValue("seeds", "0"))) grid.add(AlOptions.config(cl, s.strip(), 10, seed));
        long t0 = System.nanoTime();
        int rc = SweepCommand.runGrid(grid, new double[] {0.8, 0.9}, dir, cl.hasOption("quiet"), out, err);
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
