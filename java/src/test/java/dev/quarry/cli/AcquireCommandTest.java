package dev.quarry.cli;

import dev.quarry.testing.LogProbPools;
import static org.junit.jupiter.api.Assertions.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.stream.Stream;
import org.jetbrains.bio.npy.NpyArray;
import org.jetbrains.bio.npy.NpyFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The acquire command end to end: real .npy files in and out, and one-line errors with exit 2 for bad input. */
class AcquireCommandTest {
    @TempDir
    Path tmp;

    private Path pool(int n, int k, int c, long seed) {
        float[] lp = LogProbPools.logSoftmax(n, k, c, new Random(seed));
        Path p = tmp.resolve("pool-" + seed + ".npy");
        NpyFile.write(p, lp, new int[] {n, k, c});
        return p;
    }

    private record Result(int code, String out, String err) {}

    private Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code = Main.run(args, new PrintStream(out, true), new PrintStream(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    @Test
    void batchBaldWritesIndicesScoresAndTiming() throws IOException {
        Path in = pool(40, 8, 5, 1), out = tmp.resolve("out");
        Result r = run("acquire", "--logprobs", in.toString(), "--strategy", "batchbald", "--acquisition-size", "5", "--greedy", "lazy", "--device",
                "cpu", "--quiet", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        NpyArray idx = NpyFile.read(out.resolve("indices.npy"), Integer.MAX_VALUE);
        NpyArray sc = NpyFile.read(out.resolve("scores.npy"), Integer.MAX_VALUE);
        long[] indices = idx.asLongArray();
        double[] scores = sc.asDoubleArray();
        assertEquals(5, indices.length);
        assertEquals(5, scores.length);
        for (int i = 1; i < 5; i++) assertTrue(scores[i] >= scores[i - 1] - 1e-12, "BatchBALD objective grows");
        for (long i : indices) assertTrue(i >= 0 && i < 40);
        JsonNode timing = new ObjectMapper().readTree(out.resolve("timing.json").toFile());
        assertEquals("batchbald", timing.get("strategy").asText());
        assertTrue(timing.get("stage_seconds").has("step 5"));
        assertEquals("lazy", timing.get("greedy").asText());
        assertEquals(5, timing.get("steps").size());
        for (JsonNode st : timing.get("steps")) {
            assertTrue(st.get("evaluated").asInt() >= 1 && st.get("evaluated").asInt() <= 40, st.toString());
            assertTrue(st.has("blocks") && st.has("slack"), st.toString());
        }
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(3, files.count(), "no temporary files left behind");
        }
        // --greedy full: the same picks and scores, every candidate scored at every step
        Path outFull = tmp.resolve("out-full");
        r = run("acquire", "--logprobs", in.toString(), "--strategy", "batchbald", "--acquisition-size", "5", "--device", "cpu", // full: the default
                "--quiet", "--out", outFull.toString());
        assertEquals(0, r.code(), r.err());
        assertArrayEquals(indices, NpyFile.read(outFull.resolve("indices.npy"), Integer.MAX_VALUE).asLongArray());
        assertArrayEquals(scores, NpyFile.read(outFull.resolve("scores.npy"), Integer.MAX_VALUE).asDoubleArray(), 1e-9);
        JsonNode full = new ObjectMapper().readTree(outFull.resolve("timing.json").toFile());
        assertEquals("full", full.get("greedy").asText());
        for (JsonNode st : full.get("steps")) assertEquals(40, st.get("evaluated").asInt());
    }

    @Test
    void badInputsExitTwoWithOneLineAndNoOutput() throws IOException {
        Path good = pool(10, 3, 4, 2);
        Path corrupt = tmp.resolve("corrupt.npy");
        Files.write(corrupt, new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 10, 0, '{', 'b', 'a', 'd'});
        Path rank2 = tmp.resolve("rank2.npy");
        NpyFile.write(rank2, new float[] {-0.5f, -0.5f}, new int[] {1, 2});
        Path nan = tmp.resolve("nan.npy");
        float[] lp = NpyFile.read(good, Integer.MAX_VALUE).asFloatArray();
        lp[7] = Float.NaN;
        NpyFile.write(nan, lp, new int[] {10, 3, 4});
        Path inf = tmp.resolve("inf.npy");
        lp[7] = Float.POSITIVE_INFINITY;
        NpyFile.write(inf, lp, new int[] {10, 3, 4});
        Path truncated = tmp.resolve("truncated.npy");
        float[] zeros = new float[100 * 4];
        NpyFile.write(truncated, zeros, new int[] {100, 4, 1}); // C = 1: log p = 0 is valid, so only the size can tell
        byte[] bytes = Files.readAllBytes(truncated);
        Files.write(truncated, java.util.Arrays.copyOf(bytes, bytes.length - 90 * 4 * 4));
        String[][] cases = {
                {truncated.toString(), "bald", "2", "truncated or padded .npy"},
                {good.toString(), "bald", "11", "larger than the pool"},
                {good.toString(), "nonsense", "2", "unknown strategy 'nonsense'"},
                {corrupt.toString(), "bald", "2", "corrupt.npy"},
                {rank2.toString(), "bald", "1", "expected a 3-d array"},
                {nan.toString(), "bald", "2", "is NaN"},
                {inf.toString(), "entropy", "2", "is Infinity"},
                {tmp.resolve("missing.npy").toString(), "bald", "2", "no such file"},
                {good.toString(), "bald", "0", "--acquisition-size must be at least 1"},
        };
        for (String[] c : cases) {
            Path out = tmp.resolve("out-" + c[1] + c[2] + c[0].hashCode());
            Result r = run("acquire", "--logprobs", c[0], "--strategy", c[1], "--acquisition-size", c[2], "--device", "cpu", "--quiet", "--out", out.toString());
            check(c, r, out);
        }
        String[][] options = {
                {"--mc-configs", "0", "--mc-configs must be at least 1"},
                {"--beta", "0", "--beta must be positive"},
                {"--chunk-mb", "17592186044417", "--chunk-mb must be between"},
                {"--seed", "x", "--seed must be an integer"},
                {"--greedy", "sideways", "unknown --greedy 'sideways'"},
        };
        for (String[] o : options) {
            Path out = tmp.resolve("out-opt-" + o[0].substring(2));
            // no --quiet and --device auto: the error must still be the only line
            Result r = run("acquire", "--logprobs", good.toString(), "--strategy", "batchbald", "--acquisition-size", "2", o[0], o[1], "--out", out.toString());
            check(new String[] {good.toString(), o[0], o[1], o[2]}, r, out);
        }
    }

    private static void check(String[] c, Result r, Path out) {
        assertEquals(2, r.code(), String.join(" ", c) + ": " + r.err());
        assertTrue(r.err().contains(c[3]), "message for " + c[3] + ": " + r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertFalse(Files.exists(out), "no output for a failed run");
    }

    @Test
    void infoPrintsBackendsAsJson() throws IOException {
        Result r = run("info", "--json");
        assertEquals(0, r.code());
        JsonNode info = new ObjectMapper().readTree(r.out());
        assertTrue(info.get("backends").get("cpu").get("available").asBoolean());
        JsonNode cuda = info.get("backends").get("cuda");
        assertTrue(cuda.get("available").asBoolean() ? cuda.has("compute_capability") : cuda.get("reason").asText().length() > 10);
    }

    @Test
    void unknownCommandAndDeviceAreUsageErrors() {
        assertEquals(2, run("frobnicate").code());
        Result r = run("acquire", "--logprobs", "x.npy", "--strategy", "bald", "--acquisition-size", "1", "--device", "tpu", "--out", tmp.resolve("o").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown device 'tpu'"), r.err());
    }

    /** Damaged pools that used to hang inside the .npy library's mapping loop (or were padded with zeros). */
    @Test
    void damagedPoolsExitTwoWithinSecondsWithOneLineAndNoOutputFolder() throws IOException {
        byte[] good = Files.readAllBytes(pool(12, 4, 3, 7));
        int headerLen = (good[8] & 0xff) | (good[9] & 0xff) << 8;
        java.util.Map<String, byte[]> damaged = new java.util.LinkedHashMap<>();
        damaged.put("cut mid-element", java.util.Arrays.copyOf(good, good.length - 1));
        damaged.put("cut by half", java.util.Arrays.copyOf(good, good.length / 2 + 1));
        damaged.put("cut by one element", java.util.Arrays.copyOf(good, good.length - 4));
        damaged.put("three stray bytes", java.util.Arrays.copyOf(good, good.length + 3));
        byte[] shifted = good.clone(); // the data starts one byte later than it should
        shifted[8] = (byte) (headerLen + 1);
        damaged.put("header length off by one", shifted);
        byte[] huge = new String(good, java.nio.charset.StandardCharsets.ISO_8859_1).replace("(12,", "(1200000,")
                .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        damaged.put("shape larger than the data", huge);
        byte[] dtype = new String(good, java.nio.charset.StandardCharsets.ISO_8859_1).replace("'<f4'", "'<f8'")
                .getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        damaged.put("f4 data declared f8", dtype);
        for (java.util.Map.Entry<String, byte[]> e : damaged.entrySet()) {
            assertFalse(java.util.Arrays.equals(good, e.getValue()), e.getKey() + ": the edit changed nothing");
            Path bad = tmp.resolve("bad.npy"), out = tmp.resolve("out-" + e.getKey().replace(' ', '-'));
            Files.write(bad, e.getValue());
            Result r = assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
                    () -> run("acquire", "--logprobs", bad.toString(), "--strategy", "bald", "--acquisition-size", "2", "--device", "cpu", "--out", out.toString()),
                    e.getKey() + ": acquire did not finish");
            assertEquals(2, r.code(), e.getKey() + ": " + r.err());
            assertEquals(1, r.err().lines().count(), e.getKey() + ": one line, got " + r.err());
            assertTrue(r.err().startsWith("quarry acquire: " + bad), e.getKey() + ": " + r.err());
            assertFalse(Files.exists(out), e.getKey() + ": nothing written");
        }
    }
}
