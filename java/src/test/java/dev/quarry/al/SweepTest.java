package dev.quarry.al;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SweepTest {
    /** A run whose accuracy after each round is given; labels start at 20 and grow by b. */
    static Sweep.Run run(String s, int b, long seed, double... acc) {
        RunState st = new RunState();
        for (int i = 0; i < acc.length; i++)
            st.rounds.add(new RunState.Round(i, 20 + b * i, acc[i], 0.1, Double.NaN, 1, 1, new int[10], 0, 0, 0, 0));
        st.finished = true;
        return new Sweep.Run(s, b, seed, st);
    }

    @Test
    void labelsNeededCountsTrainingSetSizeOfFirstModelOverThresholdMinusB() {
        Sweep.Run r = run("x", 10, 0, 0.5, 0.85, 0.91, 0.89, 0.95);
        assertEquals(30 - 10, Sweep.labelsNeeded(r, 0.85), "second model (30 labels) reaches 0.85");
        assertEquals(40 - 10, Sweep.labelsNeeded(r, 0.9));
        assertEquals(60 - 10, Sweep.labelsNeeded(r, 0.95));
        assertEquals(Double.POSITIVE_INFINITY, Sweep.labelsNeeded(r, 0.96));
    }

    @Test
    void quartilesInterpolateLikeNumpyAndNeverIsInfinite() {
        List<Sweep.Run> runs = new ArrayList<>();
        // 90% first reached at 40, 50, 60, 80 labels -> needed 30, 40, 50, 70
        runs.add(run("a", 10, 0, 0.5, 0.8, 0.9));
        runs.add(run("a", 10, 1, 0.5, 0.8, 0.85, 0.9));
        runs.add(run("a", 10, 2, 0.5, 0.8, 0.85, 0.89, 0.95));
        runs.add(run("a", 10, 3, 0.5, 0.8, 0.85, 0.89, 0.89, 0.89, 0.92));
        runs.add(run("b", 10, 0, 0.5, 0.6));
        List<Sweep.Quartiles> q = Sweep.quartiles(runs, new double[] {0.9});
        assertEquals(2, q.size());
        // numpy.quantile([30, 40, 50, 70], [.25, .5, .75]) = 37.5, 45, 55
        assertEquals(37.5, q.get(0).q25(), 1e-12);
        assertEquals(45, q.get(0).q50(), 1e-12);
        assertEquals(55, q.get(0).q75(), 1e-12);
        assertEquals(4, q.get(0).reached());
        assertEquals(Double.POSITIVE_INFINITY, q.get(1).q50());
        assertEquals(0, q.get(1).reached());
        assertEquals("never", Sweep.fmt(q.get(1).q50()));
    }

    @Test
    void curvesAverageOverSeedsWithSampleStd() {
        List<Sweep.Curve> c = Sweep.curves(List.of(run("a", 10, 0, 0.5, 0.7), run("a", 10, 1, 0.7, 0.9)));
        assertEquals(1, c.size());
        assertArrayEquals(new double[] {20, 30}, c.get(0).labels());
        assertArrayEquals(new double[] {0.6, 0.8}, c.get(0).mean(), 1e-12);
        assertArrayEquals(new double[] {Math.sqrt(0.02), Math.sqrt(0.02)}, c.get(0).std(), 1e-12);
    }
}
