package dev.quarry.cli;

import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainCommandTest {
    @TempDir
    Path tmp;

    private int run(ByteArrayOutputStream err, String... args) {
        return Main.run(args, new PrintStream(new ByteArrayOutputStream(), true), new PrintStream(err, true));
    }

    @Test
    void trainsOnTheShippedSampleAndWritesMetricsAndCheckpoint() throws IOException {
        Path out = tmp.resolve("run");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run(err, "train", "--dataset", "mnist-sample", "--epochs", "1", "--train-size", "640", "--test-samples", "3",
                "--device", "cpu", "--quiet", "--out", out.toString());
        assertEquals(0, code, err.toString());
        JsonNode m = new ObjectMapper().readTree(out.resolve("metrics.json").toFile());
        assertEquals(640, m.get("train_size").asInt());
        assertEquals(2000, m.get("test_size").asInt());
        double acc = m.get("test_accuracy").asDouble();
        assertTrue(acc > 0.3 && acc <= 1.0, "10 steps already beat chance: " + acc);
        assertTrue(m.get("test_nll").asDouble() > 0);
        assertTrue(Files.size(out.resolve("model.safetensors")) > 2_000_000);
    }

    @Test
    void missingDataAndUnknownNamesExitTwoWithoutOutput() {
        String[][] cases = {
                {"--dataset", "mnist", "--data-dir", tmp.toString(), "no train-images-idx3-ubyte.gz); looked in (1) --data-dir " + tmp.resolve("mnist-full") + ", (2) --data-dir " + tmp + "; fix: quarry data fetch mnist --data-dir " + tmp},
                {"--dataset", "imagenet", "--data-dir", tmp.toString(), "unknown dataset 'imagenet'"},
                {"--dataset", "mnist-sample", "--data-dir", tmp.toString(), "mnist-sample: not found (no t10k-images-idx3-ubyte.gz); looked in (1) --data-dir"},
        };
        for (String[] c : cases) {
            Path out = tmp.resolve("out");
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int code = run(err, "train", c[0], c[1], c[2], c[3], "--quiet", "--out", out.toString());
            assertEquals(2, code, err.toString());
            assertTrue(err.toString().contains(c[4]), err.toString());
            assertEquals(1, err.toString().strip().lines().count(), err.toString());
            assertFalse(Files.exists(out));
        }
    }
}
