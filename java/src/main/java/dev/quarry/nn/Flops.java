package dev.quarry.nn;

import java.util.Arrays;
import java.util.List;

/**
 * Forward FLOPs per input of a model, traced through its layer shapes: a conv costs 2 Ho Wo Cout Kh Kw Cin, a
 * linear layer 2 in out (one multiply and one add per weight use). Batch norm, ReLU, pooling, dropout and the
 * residual add are left out: they are memory-bound and a few percent of the count at these sizes. The backward
 * pass of a conv or linear layer costs twice its forward (input and weight gradients).
 */
public final class Flops {
    private Flops() {}

    /** FLOPs per input and the shape of one output (without the batch dimension). */
    public record Trace(long flops, int[] outShape) {}

    /** Traces {@code layers} in order from one input of shape {@code inShape} ([h][w][c] or [features]). */
    public static Trace forward(List<Module> layers, int[] inShape) {
        long flops = 0;
        int[] shape = inShape.clone();
        for (Module m : layers) {
            Trace t = forward(m, shape);
            flops += t.flops();
            shape = t.outShape();
        }
        return new Trace(flops, shape);
    }

    public static Trace forward(Module m, int[] inShape) {
        if (m instanceof Sequential s) return forward(s.layers(), inShape);
        if (m instanceof Conv2d conv) {
            int[] w = conv.weightShape();
            expect(inShape.length == 3 && inShape[2] == w[3], m, inShape);
            int[] out = conv.geometry().outShape(new int[] {1, inShape[0], inShape[1], inShape[2]}, w[0]);
            return new Trace(2L * out[1] * out[2] * w[0] * w[1] * w[2] * w[3], new int[] {out[1], out[2], out[3]});
        }
        if (m instanceof Linear lin) {
            int[] w = lin.weightShape();
            expect(Arrays.stream(inShape).asLongStream().reduce(1, (a, b) -> a * b) == w[1], m, inShape);
            return new Trace(2L * w[0] * w[1], new int[] {w[0]});
        }
        if (m instanceof BasicBlock block) {
            List<Sequential> branches = block.branches();
            Trace main = forward(branches.get(0), inShape);
            long shortcut = branches.get(1) == null ? 0 : forward(branches.get(1), inShape).flops();
            return new Trace(main.flops() + shortcut, main.outShape());
        }
        if (m instanceof MaxPool2x2) {
            expect(inShape.length == 3, m, inShape);
            return new Trace(0, new int[] {inShape[0] / 2, inShape[1] / 2, inShape[2]});
        }
        if (m instanceof GlobalAvgPool) {
            expect(inShape.length == 3, m, inShape);
            return new Trace(0, new int[] {inShape[2]});
        }
        if (m instanceof Relu || m instanceof Dropout || m instanceof BatchNorm2d) return new Trace(0, inShape.clone());
        throw new IllegalArgumentException("Flops: no FLOP rule for " + m.getClass().getSimpleName());
    }

    private static void expect(boolean ok, Module m, int[] inShape) {
        if (!ok) throw new IllegalArgumentException("Flops: " + m.getClass().getSimpleName() + " cannot take input " + Arrays.toString(inShape));
    }
}
