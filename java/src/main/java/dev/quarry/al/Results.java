package dev.quarry.al;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.quarry.nn.Checkpoint;
import dev.quarry.nn.Sequential;
import dev.quarry.util.AtomicWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;

/**
 * The files of one run in its output folder: run.json (configuration, versions, device, git commit; written once),
 * rounds.csv, selected.csv, curve.png, curve.svg, the model checkpoint, and state.json, written last each round.
 * Each file is replaced by one atomic rename, so an interrupted run leaves the previous round's complete files.
 */
public final class Results {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    /** Indented JSON for result files. */
    public static final com.fasterxml.jackson.databind.ObjectWriter JSON_WRITER = JSON.writer();

    private final Path dir;
    private final AlConfig cfg;
    private final int classes;

    Results(Path dir, AlConfig cfg, int classes) {
        this.dir = dir;
        this.cfg = cfg;
        this.classes = classes;
    }

    public Path dir() {
        return dir;
    }

    /** Writes run.json unless it exists (a resumed run keeps the original). */
    public static void writeRunJson(Path dir, AlConfig cfg, String device) throws IOException {
        if (Files.exists(dir.resolve("run.json"))) return;
        Map<String, Object> run = new LinkedHashMap<>();
        run.put("config", cfg);
        run.put("device", device);
        run.put("versions", versions());
        run.put("git", gitInfo());
        run.put("created", java.time.Instant.now().toString());
        AtomicWriter w = new AtomicWriter(dir);
        JSON.writeValue(w.stage("run.json").toFile(), run);
        w.commitInPlace();
    }

    public static AlConfig readConfig(Path dir) throws IOException {
        Path p = dir.resolve("run.json");
        if (!Files.isRegularFile(p)) throw new IOException(dir + ": no run.json, nothing to resume");
        try {
            return JSON.treeToValue(JSON.readTree(p.toFile()).get("config"), AlConfig.class);
        } catch (IOException | IllegalArgumentException e) {
            throw new IOException(p + ": unreadable configuration (" + e.getMessage() + ")");
        }
    }

    /** The run's state, or null if the folder has none yet. */
    public static RunState readState(Path dir) throws IOException {
        Path p = dir.resolve("state.json");
        if (!Files.isRegularFile(p)) return null;
        try {
            return JSON.readValue(p.toFile(), RunState.class);
        } catch (IOException e) {
            throw new IOException(p + ": unreadable run state (" + e.getMessage() + ")");
        }
    }

    static Map<String, String> versions() {
        Map<String, String> v = new LinkedHashMap<>();
        v.put("quarry", dev.quarry.engine.QuarryNative.qy_version());
        v.put("java", System.getProperty("java.version"));
        v.put("blas", dev.quarry.engine.QuarryNative.qy_blas_info());
        return v;
    }

    static Map<String, String> gitInfo() {
        Map<String, String> g = new LinkedHashMap<>();
        try (InputStream in = Results.class.getResourceAsStream("/dev/quarry/git.properties")) {
            if (in != null) {
                Properties p = new Properties();
                p.load(in);
                g.put("commit", p.getProperty("git.commit.id.full", "unknown"));
                g.put("dirty", p.getProperty("git.dirty", "unknown"));
            }
        }  catch (IOException e) {
            g.put("error", e.getMessage());
        }
        if (g.isEmpty()) g.put("commit", "unknown");
        return g;
    }

    /** Writes every per-round file; {@code model} (if not null) as the round's checkpoint. state.json goes last. */
    void commit(RunState state, Sequential model) throws IOException {
        AtomicWriter w = new AtomicWriter(dir);
        String previous = state.checkpoint;
        try {
            writeRounds(w.stage("rounds.csv"), state.rounds);
            writeSelected(w.stage("selected.csv"), state.picks);
            RunState.Round last = state.rounds.get(state.rounds.size() - 1);
            Plots.write(Plots.chart(cfg.strategy() + ", b = " + cfg.acquisitionSize() + ", seed " + cfg.seed(), List.of(curve(cfg.strategy(), state))),
                    w.stage("curve.png"), w.stage("curve.svg"));
            if (model != null) {
                state.checkpoint = String.format("model-r%03d.safetensors", last.round());
                Checkpoint.save(w.stage(state.checkpoint), model, null,
                        Map.of("model", cfg.model(), "dataset", cfg.dataset(), "round", Integer.toString(last.round())));
            }
            JSON.writeValue(w.stage("state.json").toFile(), state);
            w.commitInPlace();
        } catch (IOException | RuntimeException e) {
            w.abort();
            state.checkpoint = previous;
            throw e;
        }
        if (previous != null && !previous.equals(state.checkpoint)) Files.deleteIfExists(dir.resolve(previous));
    }

    static Plots.Curve curve(String name, RunState state) {
        double[] x = new double[state.rounds.size()], y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = state.rounds.get(i).labelled();
            y[i] = state.rounds.get(i).testAccuracy();
        }
        return new Plots.Curve(name, x, y, null);
    }

    void writeRounds(Path p, List<RunState.Round> rounds) throws IOException {
        List<String> head = new ArrayList<>(List.of("round", "labelled", "test_accuracy", "test_nll", "val_accuracy", "epochs", "best_epoch"));
        for (int c = 0; c < classes; c++) head.add("count_" + c);
        head.addAll(List.of("train_s", "test_s", "infer_s", "acquire_s"));
        try (Writer out = Files.newBufferedWriter(p);
             CSVPrinter csv = new CSVPrinter(out, CSVFormat.DEFAULT.builder().setHeader(head.toArray(String[]::new)).build())) {
            for (RunState.Round r : rounds) {
                List<Object> row = new ArrayList<>(List.of(r.round(), r.labelled(), r.testAccuracy(), r.testNll(),
                        Double.isNaN(r.valAccuracy()) ? "" : r.valAccuracy(), r.epochs(), r.bestEpoch()));
                for (int c : r.classCounts()) row.add(c);
                row.addAll(List.of(secs(r.trainSeconds()), secs(r.testSeconds()), secs(r.inferSeconds()), secs(r.acquireSeconds())));
                csv.printRecord(row);
            }
        }
    }

    static void writeSelected(Path p, List<RunState.Pick> picks) throws IOException {
        try (Writer out = Files.newBufferedWriter(p);
             CSVPrinter csv = new CSVPrinter(out, CSVFormat.DEFAULT.builder().setHeader("round", "index", "score", "label", "true_label").build())) {
            for (RunState.Pick k : picks) csv.printRecord(k.round(), k.index(), Double.isNaN(k.score()) ? "" : k.score(), k.label(), k.trueLabel());
        }
    }

    private static String secs(double s) {
        return String.format(java.util.Locale.ROOT, "%.3f", s);
    }
}
