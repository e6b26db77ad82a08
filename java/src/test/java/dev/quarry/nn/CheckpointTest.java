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
}
