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

/** Pretraining, probing and active learning from the encoder, end to end on the CPU with tiny budgets. */
class PretrainCommandTest {
    @TempDir
    Path tmp;

    private int run(ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
        return Main.run(args, new PrintStream(out, true), new PrintStream(err, true));
    }

    private Path pretrain(String method) throws IOException {
        Path dir = tmp.resolve(method);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int code = run(new ByteArrayOutputStream(), err, "pretrain", "--method", method, "--dataset", "mnist-sample", "--train-limit", "96",
                "--batch-size", "32", "--epochs", "2", "--queue", "64", "--optimizer", "adam", "--lr", "1e-3", "--device", "cpu", "--quiet",
                "--out", dir.toString());
        assertEquals(0, code, err.toString());
        JsonNode r = new ObjectMapper().readTree(dir.resolve("pretrain.json").toFile());
        assertEquals(6, r.get("steps").asInt(), "96 images / 32 per batch x 2 epochs");
        for (JsonNode l : r.get("epoch_loss")) assertTrue(Double.isFinite(l.asDouble()) && l.asDouble() > 0, r.toString());
        assertTrue(Files.size(dir.resolve("encoder.safetensors")) > 10_000);
        return dir.resolve("encoder.safetensors");
    }

    @Test
    void simclrEncoderFeedsProbeAndBothActiveLearningModes() throws IOException {
        Path enc = pretrain("simclr");
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        assertEquals(0, run(out, err, "probe", "--encoder", enc.toString(), "--train-limit", "500", "--epochs", "3", "--device", "cpu", "--quiet"),
                err.toString());
        assertTrue(out.toString().contains("test accuracy"), out.toString());
        for (String mode : new String[] {"--linear", "--finetune"}) {
            Path dir = tmp.resolve("al" + mode);
            err.reset();
            int code = run(new ByteArrayOutputStream(), err, "al", "--encoder", enc.toString(), mode, "--model", "resnet", "--strategy", "bald",
                    "--acquisition-size", "5", "--initial", "10", "--budget", "15", "--samples", "3", "--test-samples", "0", "--pool-subset", "60",
                    "--val", "40", "--epochs", "1", "--epoch-samples", "32", "--batch-size", "16", "--device", "cpu", "--quiet", "--out", dir.toString());
            assertEquals(0, code, mode + ": " + err);
            assertEquals(3, Files.readAllLines(dir.resolve("rounds.csv")).size(), "header + rounds at 10 and 15 labels");
        }
    }

    @Test
    void mocoPretrainsAndWrongUseIsRefused() throws IOException {
        Path enc = pretrain("moco");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        // an encoder only loads into the architecture it was trained for
        assertEquals(2, run(new ByteArrayOutputStream(), err, "al", "--encoder", enc.toString(), "--linear", "--model", "convnet", "--device", "cpu",
                "--quiet", "--out", tmp.resolve("x").toString()));
        assertTrue(err.toString().contains("encoder"), err.toString());
        assertFalse(Files.exists(tmp.resolve("x")));
        // a damaged encoder (one flipped bit in its weights, or cut short) is refused before any training
        byte[] good = Files.readAllBytes(enc);
        byte[] flipped = good.clone();
        flipped[good.length - 1001] ^= 0x10;
        Path damaged = tmp.resolve("damaged.safetensors");
        for (byte[] b : new byte[][] {flipped, java.util.Arrays.copyOf(good, good.length - 4)}) {
            Files.write(damaged, b);
            for (String mode : new String[] {"--linear", "--finetune"}) {
                err.reset();
                assertEquals(2, run(new ByteArrayOutputStream(), err, "al", "--encoder", damaged.toString(), mode, "--model", "resnet", "--device", "cpu",
                        "--quiet", "--out", tmp.resolve("x").toString()), err.toString());
                assertTrue(err.toString().startsWith("quarry al: " + damaged) && err.toString().lines().count() == 1, err.toString());
                assertFalse(Files.exists(tmp.resolve("x")));
            }
        }
        String[][] bad = {{"--tau", "0", "--tau must be positive"}, {"--batch-size", "1", "at least 2"}, {"--method", "byol", "unknown --method"},
                {"--model", "convnet", "ResNet encoder"}};
        for (String[] b : bad) {
            err.reset();
            int code = run(new ByteArrayOutputStream(), err, "pretrain", b[0], b[1], "--device", "cpu", "--quiet", "--out", tmp.resolve("bad").toString());
            assertEquals(2, code, b[0] + ": " + err);
            assertTrue(err.toString().contains(b[2]), b[0] + ": " + err);
            assertFalse(Files.exists(tmp.resolve("bad")));
        }
    }
}
