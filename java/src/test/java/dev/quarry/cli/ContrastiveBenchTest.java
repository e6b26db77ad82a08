package dev.quarry.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

/** quarry bench ntxent / moco end to end on the CPU: the report lines, and one-line usage errors with exit 2. */
class ContrastiveBenchTest {
    private record Result(int code, String out, String err) {}

    private Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true), new PrintStream(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    void ntxentReportsTimingLossAndMemory() {
        Result r = run("bench", "ntxent", "--batch-size", "9", "--dim", "7", "--repeats", "3", "--warmup", "1", "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("ntxent batch 9 dim 7 tau 0.5 device cpu"), r.out());
        assertTrue(r.out().matches("(?s).*forward\\+backward ms: median [0-9.]+ min [0-9.]+ max [0-9.]+ \\(3 runs after 1 warm-up\\).*"), r.out());
        // Random views of 9 pairs: the loss sits near log(2n - 1) = 2.83, far from 0.
        double loss = Double.parseDouble(r.out().replaceAll("(?s).*\nloss ([0-9.]+)\n.*", "$1"));
        assertTrue(loss > 1.5 && loss < 5, r.out());
        assertTrue(r.out().contains("op scratch"), r.out());
    }

    @Test
    void mocoReportsTimingAndLoss() {
        Result r = run("bench", "moco", "--batch-size", "5", "--queue", "300", "--dim", "16", "--repeats", "2", "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("moco batch 5 queue 300 dim 16 tau 0.07"), r.out());
        assertTrue(r.out().contains("dense logits avoided"), r.out());
    }

    @Test
    void badArgumentsExitTwoWithOneLine() {
        for (String[] args : new String[][] {
                {"bench", "ntxent", "--batch-size", "1", "--dim", "8", "--device", "cpu"},
                {"bench", "ntxent", "--batch-size", "8", "--dim", "8", "--tau", "0", "--device", "cpu"},
                {"bench", "moco", "--batch-size", "8", "--dim", "8", "--device", "cpu"},
                {"bench", "simclr"}}) {
            Result r = run(args);
            assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
        }
        assertTrue(run("bench").err().contains("ntxent"), "the usage lists every workload");
    }
}
