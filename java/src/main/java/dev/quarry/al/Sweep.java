package dev.quarry.al;

import dev.quarry.util.AtomicWriter;
import java.io.IOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.commons.csv.CSVFormat;
import org.apache.commons.csv.CSVPrinter;

/**
 * Aggregates the runs of a grid: mean ± std test accuracy per label count for each (strategy, b), and the
 * BatchBALD paper's table of labels needed to reach an accuracy (25/50/75% quartiles over seeds; per run, the
 * training-set size of the first model at or over the threshold, minus b; a run that never gets there counts as
 * infinitely many).
 */
public final class Sweep {
    private Sweep() {}

    /** One finished (or partial) run of the grid. */
    public record Run(String strategy, int acquisitionSize, long seed, RunState state) {}

    /** One row of the quartile table; quartiles are +inf when fewer than that share of runs reached the threshold. */
    public record Quartiles(String strategy, int acquisitionSize, double threshold, double q25, double q50, double q75, int reached, int runs) {}

    /** Mean accuracy per label count of one (strategy, b) group. */
    public record Curve(String strategy, int acquisitionSize, double[] labels, double[] mean, double[] std, int[] runs) {}

    public static String key(String strategy, int b) {
        return strategy + " b=" + b;
    }

    public static List<Curve> curves(List<Run> runs) {
        Map<String, List<Run>> groups = group(runs);
        List<Curve> out = new ArrayList<>();
        for (List<Run> g : groups.values()) {
            TreeMap<Integer, List<Double>> at = new TreeMap<>();
            for (Run r : g)
                for (RunState.Round row : r.state().rounds) at.computeIfAbsent(row.labelled(), k -> new ArrayList<>()).add(row.testAccuracy());
            double[] x = new double[at.size()], mean = new double[x.length], std = new double[x.length];
            int[] n = new int[x.length];
            int i = 0;
            for (Map.Entry<Integer, List<Double>> e : at.entrySet()) {
                double[] v = e.getValue().stream().mapToDouble(Double::doubleValue).toArray();
                x[i] = e.getKey();
                mean[i] = Arrays.stream(v).average().orElse(Double.NaN);
                double ss = 0;
                for (double d : v) ss += (d - mean[i]) * (d - mean[i]);
                std[i] = v.length > 1 ? Math.sqrt(ss / (v.length - 1)) : 0;
                n[i++] = v.length;
            }
            out.add(new Curve(g.get(0).strategy(), g.get(0).acquisitionSize(), x, mean, std, n));
        }
        return out;
    }

    /** Labels one run needed to reach {@code threshold}: training-set size at the first model over it, minus b. */
    public static double labelsNeeded(Run r, double threshold) {
        for (RunState.Round row : r.state().rounds)
            if (row.testAccuracy() >= threshold) return row.labelled() - r.acquisitionSize();
        return Double.POSITIVE_INFINITY;
    }

    public static List<Quartiles> quartiles(List<Run> runs, double[] thresholds) {
        List<Quartiles> out = new ArrayList<>();
        for (List<Run> g : group(runs).values())
            for (double t : thresholds) {
                double[] v = g.stream().mapToDouble(r -> labelsNeeded(r, t)).sorted().toArray();
                int reached = (int) Arrays.stream(v).filter(Double::isFinite).count();
                out.add(new Quartiles(g.get(0).strategy(), g.get(0).acquisitionSize(), t, quantile(v, 0.25), quantile(v, 0.5), quantile(v, 0.75),
                        reached, v.length));
            }
        return out;
    }

    /** Linear interpolation between order statistics (numpy's default); +inf if either neighbour is +inf. */
    static double quantile(double[] sorted, double q) {
        double pos = q * (sorted.length - 1);
        int lo = (int) Math.floor(pos), hi = Math.min(lo + 1, sorted.length - 1);
        double f = pos - lo;
        if (f == 0) return sorted[lo];
        if (Double.isInfinite(sorted[lo]) || Double.isInfinite(sorted[hi])) return Double.POSITIVE_INFINITY;
        return sorted[lo] + f * (sorted[hi] - sorted[lo]);
    }

    private static Map<String, List<Run>> group(List<Run> runs) {
        Map<String, List<Run>> g = new LinkedHashMap<>();
        for (Run r : runs) g.computeIfAbsent(key(r.strategy(), r.acquisitionSize()), k -> new ArrayList<>()).add(r);
        return g;
    }

    public static String fmt(double labels) {
        return Double.isInfinite(labels) ? "never" : labels == Math.rint(labels) ? Long.toString((long) labels) : String.format(Locale.ROOT, "%.1f", labels);
    }

    /** Writes aggregate.csv, quartiles.csv, curves.png and curves.svg into {@code dir}, each atomically. */
    public static void write(Path dir, List<Run> runs, double[] thresholds, String title) throws IOException {
        List<Curve> curves = curves(runs);
        AtomicWriter w = new AtomicWriter(dir);
        try {
            try (Writer out = Files.newBufferedWriter(w.stage("aggregate.csv"));
                 CSVPrinter csv = new CSVPrinter(out, CSVFormat.DEFAULT.builder()
                         .setHeader("strategy", "acquisition_size", "labelled", "runs", "mean_accuracy", "std_accuracy").build())) {
                for (Curve c : curves)
                    for (int i = 0; i < c.labels().length; i++)
                        csv.printRecord(c.strategy(), c.acquisitionSize(), (int) c.labels()[i], c.runs()[i], c.mean()[i], c.std()[i]);
            }
            try (Writer out = Files.newBufferedWriter(w.stage("quartiles.csv"));
                 CSVPrinter csv = new CSVPrinter(out, CSVFormat.DEFAULT.builder()
                         .setHeader("strategy", "acquisition_size", "threshold", "q25", "q50", "q75", "runs_reached", "runs").build())) {
                for (Quartiles q : quartiles(runs, thresholds))
                    csv.printRecord(q.strategy(), q.acquisitionSize(), q.threshold(), fmt(q.q25()), fmt(q.q50()), fmt(q.q75()), q.reached(), q.runs());
            }
            List<Plots.Curve> pc = new ArrayList<>();
            for (Curve c : curves) pc.add(new Plots.Curve(key(c.strategy(), c.acquisitionSize()), c.labels(), c.mean(), c.std()));
            Plots.write(Plots.chart(title, pc), w.stage("curves.png"), w.stage("curves.svg"));
            w.commitInPlace();
        } catch (IOException | RuntimeException e) {
            w.abort();
            throw e;
        }
    }
}
