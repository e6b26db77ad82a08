package dev.quarry.bench;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;
import org.openjdk.jmh.infra.Blackhole;

/**
 * CPU conv2d forward and backward on the 3x3 layer shapes of ResNet-18 (CIFAR variant) at batch 128; each
 * shape is "hw:cin:cout:stride". GFLOP/s = 2 * n * ho * wo * cout * k*k * cin / time per op (printed by
 * benchmarks/jmh/gflops.py from the JMH JSON, or by hand: the FLOP count is in {@link #flops}).
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
@State(Scope.Benchmark)
public class ConvBench {
    @Param({"32:64:64:1", "16:128:128:1", "8:256:256:1", "4:512:512:1", "32:64:128:2"})
    public String shape;

    @Param({"128"})
    public int batch;

    private Tensor x, w, y, dy, dx, dw;
    private Ops.Conv g;

    /** Multiply-adds times two of one conv pass (forward, backward-data and backward-filter each cost this). */
    public static double flops(int n, int ho, int wo, int cout, int k, int cin) {
        return 2.0 * n * ho * wo * cout * k * k * cin;
    }

    @Setup
    public void setup() {
        String[] p = shape.split(":");
        int hw = Integer.parseInt(p[0]), cin = Integer.parseInt(p[1]), cout = Integer.parseInt(p[2]), stride = Integer.parseInt(p[3]);
        Device cpu = Device.cpu();
        g = Ops.Conv.square(3, stride, 1);
        x = Tensor.empty(cpu, batch, hw, hw, cin);
        w = Tensor.empty(cpu, cout, 3, 3, cin);
        int[] outShape = g.outShape(x.shape(), cout);
        y = Tensor.empty(cpu, outShape);
        dy = Tensor.empty(cpu, outShape);
        dx = Tensor.empty(cpu, x.shape());
        dw = Tensor.empty(cpu, w.shape());
        Ops.fillNormal(x, 1, 0, 0f, 1f);
        Ops.fillNormal(w, 1, 1, 0f, 0.05f);
        Ops.fillNormal(dy, 1, 2, 0f, 1f);
    }

    @TearDown
    public void tearDown() {
        for (Tensor t : new Tensor[] {x, w, y, dy, dx, dw}) t.close();
    }

    @Benchmark
    public void forward(Blackhole bh) {
        Ops.conv2dForward(x, w, null, y, g);
        bh.consume(y);
    }

    @Benchmark
    public void backwardData(Blackhole bh) {
        Ops.conv2dBackwardData(dy, w, dx, g);
        bh.consume(dx);
    }

    @Benchmark
    public void backwardFilter(Blackhole bh) {
        Ops.conv2dBackwardFilter(x, dy, dw, null, g);
        bh.consume(dw);
    }
}
