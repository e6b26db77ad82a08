package dev.quarry.nn;

import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;

/** Seeded weight initialisation through the engine's Philox fills (identical on CPU and CUDA). */
public final class Init {
    private Init() {}

    /** He (Kaiming) normal for ReLU networks: N(0, 2 / fanIn). */
    public static void he(Tensor w, int fanIn, long seed, int streamId) {
        Ops.fillNormal(w, seed, streamId, 0f, (float) Math.sqrt(2.0 / fanIn));
    }

    /** PyTorch's default bias init: U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
    public static void fanInUniform(Tensor b, int fanIn, long seed, int streamId) {
        float bound = (float) (1.0 / Math.sqrt(fanIn));
        Ops.fillUniform(b, seed, streamId, -bound, bound);
    }
}
