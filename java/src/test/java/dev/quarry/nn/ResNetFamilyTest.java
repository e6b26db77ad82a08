package dev.quarry.nn;

import static org.junit.jupiter.api.Assertions.*;

import dev.quarry.engine.Device;
import dev.quarry.engine.Tensor;
import dev.quarry.nn.ResNetConfig.DropoutPlacement;
import dev.quarry.train.McInference;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The configurable ResNet family and the ResNet-18 CIFAR variant, on the CPU backend. */
class ResNetFamilyTest {
    private final Device cpu = Device.cpu();

    private static float[] randn(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    private static long paramCount(Module m) {
        return m.params().stream().mapToLong(p -> p.value().numel()).sum();
    }

    @Test
    void resnet18CifarHasTorchvisionsParameterCountAndShapes() {
        try (Sequential net = Models.resnet18Cifar(cpu, 10, DropoutPlacement.NONE, 0f, 1);
             Tensor x = Tensor.of(cpu, randn(new Random(1), 2 * 32 * 32 * 3), 2, 32, 32, 3)) {
            // torchvision's resnet18 with a 3x3 stride-1 stem, no max-pool and a 10-way classifier
            assertEquals(11_173_962L, paramCount(net));
            assertArrayEquals(new int[] {2, 10}, net.forward(x, false).shape());
            assertEquals(8, net.layers().stream().filter(m -> m instanceof BasicBlock).count());
            assertTrue(net.layers().stream().noneMatch(m -> m instanceof Dropout));
        }
    }

    @Test
    void forwardFlopsOfResnet18CifarAndTheMnistConvNet() {
        try (Sequential net = Models.resnet18Cifar(cpu, 10, DropoutPlacement.NONE, 0f, 1);
             Sequential conv = Models.mnistConvNet(cpu, 0.5f, 1)) {
            // Summed by hand over the 21 convs and the classifier; x3 for a training step gives the 3.33 GFLOP of
            // docs/protocols.md.
            Flops.Trace t = Flops.forward(net, new int[] {32, 32, 3});
            assertEquals(1_110_845_440L, t.flops());
            assertArrayEquals(new int[] {10}, t.outShape());
            long mnist = 2L * 24 * 24 * 32 * 25 + 2L * 8 * 8 * 64 * 25 * 32 + 2L * 1024 * 128 + 2L * 128 * 10;
            assertEquals(mnist, Flops.forward(conv, new int[] {28, 28, 1}).flops());
        }
    }

    @Test
    void smallInputsWithConfigurableDepthAndWidth() {
        ResNetConfig cfg = new ResNetConfig(1, 10, 8, new int[] {1, 2, 1}, DropoutPlacement.NONE, 0f);
        try (Sequential net = Models.resnet(cpu, cfg, 3); Tensor x = Tensor.of(cpu, randn(new Random(2), 3 * 28 * 28), 3, 28, 28, 1)) {
            assertArrayEquals(new int[] {3, 10}, net.forward(x, true).shape());
            assertArrayEquals(new int[] {3, 10}, net.forward(x, false).shape());
            assertEquals(4, net.layers().stream().filter(m -> m instanceof BasicBlock).count());
            // 28 -> 28 -> 14 -> 7 with widths 8, 16, 32
            Flops.Trace trunk = Flops.forward(net.layers().subList(0, net.layers().size() - 2), new int[] {28, 28, 1});
            assertArrayEquals(new int[] {7, 7, 32}, trunk.outShape());
        }
        assertThrows(IllegalArgumentException.class, () -> new ResNetConfig(3, 10, 16, new int[] {2, 0}, DropoutPlacement.NONE, 0f));
        assertThrows(IllegalArgumentException.class, () -> new ResNetConfig(3, 10, 16, new int[] {2}, DropoutPlacement.CLASSIFIER, 0f));
        assertThrows(IllegalArgumentException.class, () -> new ResNetConfig(3, 10, 16, new int[] {25, 25}, DropoutPlacement.NONE, 0f));
    }

    @Test
    void dropoutPlacementPutsTopLevelDropoutsWhereAsked() {
        int[] blocks = {2, 1};
        try (Sequential none = Models.resnet(cpu, new ResNetConfig(3, 4, 4, blocks, DropoutPlacement.NONE, 0f), 1);
             Sequential head = Models.resnet(cpu, new ResNetConfig(3, 4, 4, blocks, DropoutPlacement.CLASSIFIER, 0.3f), 1);
             Sequential every = Models.resnet(cpu, new ResNetConfig(3, 4, 4, blocks, DropoutPlacement.EVERY_BLOCK, 0.2f), 1)) {
            assertEquals(List.of("Conv2d", "BatchNorm2d", "Relu", "BasicBlock", "BasicBlock", "BasicBlock", "GlobalAvgPool", "Linear"), names(none));
            assertEquals(List.of("Conv2d", "BatchNorm2d", "Relu", "BasicBlock", "BasicBlock", "BasicBlock", "GlobalAvgPool", "Dropout", "Linear"),
                    names(head));
            assertEquals(List.of("Conv2d", "BatchNorm2d", "Relu", "BasicBlock", "Dropout", "BasicBlock", "Dropout", "BasicBlock", "Dropout",
                    "GlobalAvgPool", "Linear"), names(every));
            // The same seed gives the same weights whatever the dropout placement.
            assertArrayEquals(none.params().get(0).value().toFloats(), every.params().get(0).value().toFloats());
            assertEquals(paramCount(none), paramCount(every));
        }
    }

    private static List<String> names(Sequential s) {
        return s.layers().stream().map(m -> m.getClass().getSimpleName()).toList();
    }

    @Test
    void mcInferenceWithBlockDropoutIsConsistentAndVariesAcrossSamples() {
        Random r = new Random(6);
        int n = 5, samples = 4, classes = 3;
        try (Sequential net = Models.resnet(cpu, new ResNetConfig(2, classes, 4, new int[] {1, 1}, DropoutPlacement.EVERY_BLOCK, 0.5f), 9);
             Tensor x = Tensor.of(cpu, randn(r, n * 9 * 9 * 2), n, 9, 9, 2);
             Tensor first = Tensor.of(cpu, java.util.Arrays.copyOf(x.toFloats(), 9 * 9 * 2), 1, 9, 9, 2)) {
            McInference mc = new McInference(net);
            float[] lp = mc.logProbs(x, samples);
            assertArrayEquals(lp, mc.logProbs(x, samples), "same inputs, same masks");
            // Point 0 alone gets the masks it got inside the batch: masks depend on k, never on the data index.
            float[] alone = mc.logProbs(first, samples);
            for (int i = 0; i < samples * classes; i++) assertEquals(lp[i], alone[i], 1e-5f);
            boolean varies = false;
            for (int k = 1; k < samples; k++) varies |= Math.abs(lp[k * classes] - lp[0]) > 1e-4f;
            assertTrue(varies, "MC samples all gave the same output");
        }
    }

    @Test
    void trainingStepsLowerTheLossWithBlockDropout() {
        Random r = new Random(8);
        int n = 16, classes = 4;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = r.nextInt(classes);
        try (Sequential net = Models.resnet(cpu, new ResNetConfig(3, classes, 8, new int[] {1, 1}, DropoutPlacement.EVERY_BLOCK, 0.1f), 4);
             Tensor x = Tensor.of(cpu, randn(r, n * 12 * 12 * 3), n, 12, 12, 3);
             Tensor y = Tensor.ofInts(cpu, labels, n);
             CrossEntropyLoss loss = new CrossEntropyLoss(0f);
             Adam opt = Adam.standard(net.params(), 1e-2f)) {
            float first = Float.NaN, last = Float.NaN;
            for (int step = 0; step < 40; step++) {
                last = loss.forward(net.forward(x, true), y);
                if (step == 0) first = last;
                net.backward(loss.backward());
                opt.step();
            }
            assertTrue(Float.isFinite(first) && first > 0.5f, "initial loss " + first);
            assertTrue(last < first / 4, "loss fell from " + first + " to " + last + ", not by 4x");
        }
    }
}
