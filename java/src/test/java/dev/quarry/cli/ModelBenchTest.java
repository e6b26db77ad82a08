package dev.quarry.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import org.junit.jupiter.api.Test;

/** quarry bench train / mc end to end on tiny workloads: the report's lines, its FLOP counts, and usage errors. */
class ModelBenchTest {
    private record Result(int code, String out, String err) {}

    private static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true), new PrintStream(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    void trainReportsImagesPerSecondAndShareOfPeak() {
        Result r = run("bench", "train", "--model", "convnet", "--batch-size", "8", "--steps", "2", "--reps", "3", "--warmup", "1", "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("peak = sgemm 2048^3 measured now"), r.out());
        assertTrue(r.out().contains("train: batch 8, Adam, 3 reps x 2 steps after 1 warm-up steps"), r.out());
        assertTrue(r.out().matches("(?s).*images/s: median [0-9.]+ \\(min [0-9.]+, max [0-9.]+ over 3 reps\\).*"), r.out());
        // 3 x (conv1 921,600 + conv2 6,553,600 + fc1 262,144 + fc2 2,560) FLOPs per image
        assertTrue(r.out().contains("(0.0232 GFLOP forward + backward (2x forward) per image) = "), r.out());
        assertTrue(r.out().matches("(?s).*= [0-9.]+% of peak.*"), r.out());
    }

    @Test
    void mcCountsThePrefixOnceAndTheRestPerSample() {
        Result r = run("bench", "mc", "--model", "convnet", "--pool", "37", "--samples", "3", "--batch-size", "16", "--reps", "2", "--warmup", "1",
                "--device", "cpu");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("mc: pool 37 in chunks of 16, K = 3 samples (1 layers before the first dropout run once)"), r.out());
        // conv1 921,600 once + 3 x (6,553,600 + 262,144 + 2,560)
        assertTrue(r.out().contains("(0.0214 GFLOP prefix once + K x suffix per image)"), r.out());
    }

    @Test
    void smallResnetTrainsAndBadOptionsAreOneLineUsageErrors() {
        Result ok = run("bench", "train", "--model", "resnet", "--width", "4", "--blocks", "1,1", "--image", "12x12x3", "--dropout-placement", "blocks",
                "--batch-size", "4", "--steps", "1", "--reps", "1", "--warmup", "0", "--device", "cpu");
        assertEquals(0, ok.code(), ok.err());
        assertTrue(ok.out().contains("blocks [1, 1], dropout EVERY_BLOCK p=0.5"), ok.out());
        String[][] bad = {
                {"bench", "train", "--model", "vgg", "--batch-size", "4"},
                {"bench", "train", "--model", "resnet18", "--batch-size", "4", "--width", "8"},
                {"bench", "train", "--model", "resnet", "--batch-size", "4", "--image", "12x12"},
                {"bench", "train", "--model", "resnet", "--batch-size", "4", "--dropout-placement", "sometimes"},
                {"bench", "train", "--model", "convnet"},
                {"bench", "mc", "--model", "resnet18", "--pool", "10", "--samples", "2", "--dropout-placement", "none"},
                {"bench", "mc", "--model", "convnet", "--pool", "0", "--samples", "2"},
                {"bench", "fly"},
        };
        for (String[] args : bad) {
            Result r = run(args);
            assertEquals(2, r.code(), String.join(" ", args) + ": " + r.err());
            assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        }
    }
}
