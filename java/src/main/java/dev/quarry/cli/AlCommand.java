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

/**
 * {@code quarry al --strategy S --acquisition-size B --out DIR [options]}: one active learning run; {@code quarry al
 * --resume DIR} continues an interrupted one from its last completed round with the settings in DIR/run.json.
 */
final class AlCommand {
    private AlCommand() {}

    static final OptionSpec<String> RESUME = OptionSpec.of("resume", "DIR", OptionSpec.STRING, null,
            "continue the run in this folder with the settings in DIR/run.json (instead of --out)");

    static final CommandSpec SPEC = new CommandSpec("al", "--out DIR [options] | --resume DIR",
            "one active learning run into a result folder, or --resume an interrupted one",
            CommandSpec.join(CommandSpec.these(Opts.STRATEGY, Opts.ACQUISITION_SIZE, Opts.SEED, Opts.OUT.describedAs("result folder of a new run"),
                    RESUME), AlOptions.ALL),
            AlOptions.ALIASES);

    static int run(String[] args, PrintStream out, PrintStream err) {
        Parsed p = Cli.parse(SPEC, args, err);
        boolean quiet = Cli.quiet(p);
        if (p.has(RESUME) == p.has(Opts.OUT)) throw new Main.UsageException("give either --out DIR (a new run) or --resume DIR");
        Path dir;
        AlConfig cfg;
        if (p.has(RESUME)) {
            dir = Path.of(p.get(RESUME));
            cfg = Cli.userInput(() -> Results.readConfig(dir));
        } else {
            dir = Path.of(p.get(Opts.OUT));
            cfg = AlOptions.config(p, p.get(Opts.STRATEGY), p.get(Opts.ACQUISITION_SIZE), p.get(Opts.SEED));
        }
        RunState st = runOne(cfg, dir, !p.has(RESUME), quiet, out, err);
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
        Datasets.Split data = Cli.userInput(() -> Datasets.load(cfg.dataset(), Datasets.dir(cfg.dataDir()), cfg.seed(), cfg.copies(), cfg.trainLimit()));
        Device device = Device.select(cfg.device(), quiet ? null : err);
        if (cfg.encoder() != null) data = withEncoder(cfg, data, device, quiet);
        Datasets.Split input = data;
        ActiveLearning al = Cli.userInput(() -> new ActiveLearning(cfg, input, device, dir, resumed, ConsoleProgress.forFlags(quiet), quiet ? null : out));
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
