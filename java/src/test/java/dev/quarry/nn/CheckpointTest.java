package dev.quarry.nn;

import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    private final Device cpu = Device.cpu();

    @TempDir
    Path tmp;

    private static Sequential net(Device d, long seed) {
        return ResNet.build(d, 3, 4, new int[] {8, 16}, new int[] {1, 1}, seed);
    }

    private static void step(Sequential net, Adam opt, Tensor x, Tensor y, CrossEntropyLoss loss) {
        loss.forward(net.forward(x, true), y);
        net.backward(loss.backward());
        opt.step();
    }

    private static List<float[]> snapshot(Module m, Optimizer o) {
        return Checkpoint.entries(m, o).values().stream().map(Tensor::toFloats).toList();
    }

    @Test
    void roundTripIsBitExactAndTrainingContinuesIdentically() throws IOException {
        Random r = new Random(4);
        float[] xs = new float[6 * 8 * 8 * 3];
        for (int i = 0; i < xs.length; i++) xs[i] = (float) r.nextGaussian();
        Path file = tmp.resolve("model.safetensors");
        try (Sequential a = net(cpu, 1); Sequential b = net(cpu, 2);
             Adam oa = Adam.standard(a.params(), 1e-2f); Adam ob = Adam.standard(b.params(), 1e-2f);
             Tensor x = Tensor.of(cpu, xs, 6, 8, 8, 3); Tensor y = Tensor.ofInts(cpu, new int[] {0, 1, 2, 3, 0, 1}, 6);
             CrossEntropyLoss loss = new CrossEntropyLoss(0f)) {
            for (int i = 0; i < 3; i++) step(a, oa, x, y, loss);
            Checkpoint.save(file, a, oa, Map.of("model", "resnet-test"));
            Map<String, String> meta = Checkpoint.load(file, b, ob);
            assertEquals("resnet-test", meta.get("model"));
            assertEquals(3, ob.steps());
            List<float[]> sa = snapshot(a, oa), sb = snapshot(b, ob);
            assertEquals(sa.size(), sb.size());
            for (int i = 0; i < sa.size(); i++) assertArrayEquals(sa.get(i), sb.get(i), "entry " + i);
            step(a, oa, x, y, loss);
            step(b, ob, x, y, loss);
            List<float[]> ta = snapshot(a, oa), tb = snapshot(b, ob);
            for (int i = 0; i < ta.size(); i++) assertArrayEquals(ta.get(i), tb.get(i), "after one more step, entry " + i);
            try (Stream<Path> files = Files.list(tmp)) {
                assertEquals(1, files.count(), "no temporary file left");
            }
        }
    }

    @Test
    void truncatedOrMismatchedCheckpointsAreRefused() throws IOException {
        Path file = tmp.resolve("m.safetensors");
        try (Sequential a = net(cpu, 1); Sequential wider = ResNet.build(cpu, 3, 4, new int[] {8, 32}, new int[] {1, 1}, 1)) {
            Checkpoint.save(file, a, null, Map.of());
            IOException e = assertThrows(IOException.class, () -> Checkpoint.load(file, wider, null));
            assertTrue(e.getMessage().contains("the model needs"), e.getMessage());
            byte[] bytes = Files.readAllBytes(file);
            Path cut = tmp.resolve("cut.safetensors");
            Files.write(cut, Arrays.copyOf(bytes, bytes.length - 100));
            try (Sequential b = net(cpu, 3)) {
                IOException e2 = assertThrows(IOException.class, () -> Checkpoint.load(cut, b, null));
                assertTrue(e2.getMessage().contains("truncated"), e2.getMessage());
                Path junk = tmp.resolve("junk.safetensors");
                Files.write(junk, new byte[] {1, 2, 3});
                assertThrows(IOException.class, () -> Checkpoint.load(junk, b, null));
            }
        }
    }

    private static byte[] withHeader(byte[] file, java.util.function.UnaryOperator<String> edit) {
        long len = java.nio.ByteBuffer.wrap(file, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        byte[] h = edit.apply(new String(file, 8, (int) len, java.nio.charset.StandardCharsets.UTF_8)).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + h.length + file.length - 8 - (int) len).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        return b.putLong(h.length).put(h).put(file, 8 + (int) len, file.length - 8 - (int) len).array();
    }

    @Test
    void checksumIsWrittenAndVerified() throws IOException {
        Path file = tmp.resolve("c.safetensors"), bad = tmp.resolve("bad.safetensors");
        try (Sequential a = net(cpu, 1); Sequential b = net(cpu, 2)) {
            Checkpoint.save(file, a, null, Map.of("model", "x"));
            assertTrue(Checkpoint.metadata(file).get(Checkpoint.CRC_KEY).matches("[0-9a-f]{8}"));
            byte[] bytes = Files.readAllBytes(file);
            bytes[bytes.length - 7] ^= 0x01; // one bit of one weight: still a finite float
            Files.write(bad, bytes);
            List<float[]> before = snapshot(b, null);
            IOException e = assertThrows(dev.quarry.util.BadInputException.class, () -> Checkpoint.load(bad, b, null));
            assertTrue(e.getMessage().startsWith(bad.toString()) && e.getMessage().contains("checksum mismatch"), e.getMessage());
            List<float[]> after = snapshot(b, null);
            for (int i = 0; i < before.size(); i++) assertArrayEquals(before.get(i), after.get(i), "a refused file changes nothing");
            // a file without a checksum (another tool's) still loads
            Files.write(bad, withHeader(Files.readAllBytes(file), h -> h.replaceFirst(",?\"" + Checkpoint.CRC_KEY + "\":\"[0-9a-f]{8}\"", "")));
            assertNull(Checkpoint.load(bad, b, null).get(Checkpoint.CRC_KEY));
            Files.write(bad, withHeader(Files.readAllBytes(file), h -> h.replaceFirst("(\"" + Checkpoint.CRC_KEY + "\":\")[0-9a-f]{8}", "$1xyz")));
            assertTrue(assertThrows(IOException.class, () -> Checkpoint.load(bad, b, null)).getMessage().contains("malformed"));
        }
    }

    @Test
    void nonFiniteWeightsAndMalformedHeadersAreRefused() throws IOException {
        Path file = tmp.resolve("n.safetensors"), bad = tmp.resolve("bad.safetensors");
        try (Sequential a = net(cpu, 1); Sequential b = net(cpu, 2)) {
            Checkpoint.save(file, a, null, Map.of());
            byte[] plain = withHeader(Files.readAllBytes(file), h -> h.replaceFirst(",?\"" + Checkpoint.CRC_KEY + "\":\"[0-9a-f]{8}\"", ""));
            for (float v : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
                byte[] x = plain.clone();
                java.nio.ByteBuffer.wrap(x).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(x.length - 8, v);
                Files.write(bad, x);
                IOException e = assertThrows(dev.quarry.util.BadInputException.class, () -> Checkpoint.load(bad, b, null));
                assertTrue(e.getMessage().contains("holds " + v), e.getMessage());
            }
            String[][] edits = {{"\"dtype\":\"F32\"", "\"dtyp\":\"F32\"", "malformed header entry"},
                    {"\"data_offsets\":\\[0,", "\"data_offsets\":[-4,", "bad data offsets"},
                    {"\"shape\":\\[", "\"shape\":[1.5,", "malformed shape"},
                    {"^\\{", "[", "unreadable safetensors header"}};
            for (String[] ed : edits) {
                Files.write(bad, withHeader(plain, h -> h.replaceFirst(ed[0], ed[1])));
                IOException e = assertThrows(dev.quarry.util.BadInputException.class, () -> Checkpoint.load(bad, b, null), ed[0]);
                assertTrue(e.getMessage().contains(ed[2]) && !e.getMessage().contains("\n"), ed[0] + ": " + e.getMessage());
            }
        }
    }
}
