package dev.quarry.cli;

import dev.quarry.al.ActiveLearning;
import dev.quarry.al.AlConfig;
import dev.quarry.al.Results;
import dev.quarry.al.RunState;
import dev.quarry.data.Datasets;
import dev.quarry.engine.Device;
import dev.quarry.nn.Sequential;
import dev.quarry.ssl.Encoders;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.commons.cli.CommandLine;
import org.apache.commons.cli.Option;
import org.apache.commons.cli.Options;

/**
 * {@code quarry al --strategy S --acquisition-size B --out DIR [options]}: one active learning run; {@code quarry al
 * --resume DIR} continues an interrupted one from its last completed round with the settings in DIR/run.json.
 */
final class AlCommand {
    private AlCommand() {}

    static int run(String[] args, PrintStream out, PrintStream err) {
        Options options = AlOptions.add(new Options())
                .addOption(Option.builder().longOpt("strategy").hasArg().desc("acquisition strategy (default batchbald)").get())
                .addOption(Option.builder().longOpt("acquisition-size").hasArg().desc("points labelled per round (default 10)").get())
                .addOption(Option.builder().longOpt("seed").hasArg().get())
                .addOption(Option.builder().longOpt("out").hasArg().desc("result folder").get())
                .addOption(Option.builder().longOpt("resume").hasArg().desc("continue the run in this folder").get());
        CommandLine cl = Args.parse(options, args);
        boolean quiet = cl.hasOption("quiet");
        if (cl.hasOption("resume") == cl.hasOption("out")) throw new Main.UsageException("give either --out DIR (a new run) or --resume DIR");
        Path dir;
        AlConfig cfg;
        if (cl.hasOption("resume")) {
            dir = Path.of(cl.getOptionValue("resume"));
            try {
                cfg = Results.readConfig(dir);
            } catch (IOException e) {
                throw new Main.UsageException(e.getMessage());
            }
        } else {
            dir = Path.of(cl.getOptionValue("out"));
            cfg = AlOptions.config(cl, cl.getOptionValue("strategy", "batchbald"), Args.intOption(cl, "acquisition-size", 10), Args.longOption(cl, "seed", 0));
        }
        RunState st = runOne(cfg, dir, !cl.hasOption("resume"), quiet, out, err);
        if (!quiet) out.printf("quarry al: %s after %d rounds, %d labels: test accuracy %.4f; results in %s%n", st.stopReason, st.rounds.size(),
                st.rounds.get(st.rounds.size() - 1).labelled(), st.rounds.get(st.rounds.size() - 1).testAccuracy(), dir);
        return 0;
    }

    /**
     * Runs (or continues) one configuration in {@code dir}. A fresh run refuses a folder that already holds a run;
     * a finished run is returned as it is.
     */
    static RunState runOne(AlConfig cfg, Path dir, boolean fresh, boolean quiet, PrintStream out, PrintStream err) {
        RunState resumed;
        try {
            resumed = Results.readState(dir);
            if (fresh && (resumed != null || Files.exists(dir.resolve("run.json"))))
                throw new Main.UsageException(dir + " already holds a run (use --resume " + dir + " to continue it, or another --out)");
        } catch (IOException e) {
            throw new Main.UsageException(e.getMessage());
        }
        if (resumed != null && resumed.finished) return resumed;
        Datasets.Split data;
        try {
            data = Datasets.load(cfg.dataset(), Datasets.dir(cfg.dataDir()), cfg.seed(), cfg.copies(), cfg.trainLimit());
        } catch (IOException | IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
        Device device = Device.select(cfg.device(), quiet ? null : err);
        if (cfg.encoder() != null) data = withEncoder(cfg, data, device, quiet);
        ActiveLearning al;
        try {
            al = new ActiveLearning(cfg, data, device, dir, resumed, ConsoleProgress.forFlags(quiet), quiet ? null : out);
        } catch (IOException | IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
        try {
            Results.writeRunJson(dir, cfg, device.toString());
            if (!quiet && resumed != null) out.printf("resuming %s after round %d%n", dir, resumed.rounds.size() - 1);
            return al.run();
        } catch (IOException e) {
            throw new Main.UsageException("cannot write results to " + dir + ": " + e.getMessage());
        }
    }

    /**
     * Checks the encoder against the model before anything is written; in linear mode, replaces the images by the
     * frozen encoder's features (computed once; the head trains on them every round).
     */
    static Datasets.Split withEncoder(AlConfig cfg, Datasets.Split data, Device device, boolean quiet) {
        try (Sequential m = dev.quarry.al.Models.create(cfg.model(), 0f, "none", data.train(), device, 0)) {
            Encoders.load(Path.of(cfg.encoder()), m, cfg.model());
            return "linear".equals(cfg.encoderMode()) ? Encoders.featureSplit(Encoders.trunk(m), data, device, ConsoleProgress.forFlags(quiet)) : data;
        } catch (IOException | IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
    }
}
