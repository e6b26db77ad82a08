package dev.quarry.bench;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.QuarryNative;
import dev.quarry.engine.Tensor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.*;

/**
 * The fixed cost of crossing into the native library: a call that does nothing, a one-element op through the
 * raw binding, and the same op through the shape-checking {@link Ops} wrapper.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
@State(Scope.Thread)
public class JniCallBench {
    private Tensor x, y;
    private long xa, ya;

    @Setup
    public void setup() {
        x = Tensor.of(Device.cpu(), new float[] {1.5f}, 1);
        y = Tensor.empty(Device.cpu(), 1);
        xa = x.address();
        ya = y.address();
    }

    @TearDown
    public void tearDown() {
        x.close();
        y.close();
    }

    @Benchmark
    public int emptyCall() {
        return QuarryNative.qy_cuda_compiled();
    }

    @Benchmark
    public int reluRawBinding() {
        return QuarryNative.qy_relu_fwd(QuarryNative.QY_DEV_CPU, 0L, xa, ya, 1);
    }

    @Benchmark
    public void reluThroughOps() {
        Ops.reluForward(x, y);
    }
}
