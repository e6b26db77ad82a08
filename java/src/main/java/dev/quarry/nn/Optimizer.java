package dev.quarry.nn;

/** Updates a fixed list of parameters from their gradients. */
public interface Optimizer extends AutoCloseable {
    void step();

    void setLearningRate(float lr);

    /** Named state tensors (moments, momentum buffers) for checkpoints; the same names and shapes every time. */
    java.util.Map<String, dev.quarry.engine.Tensor> state();

    /** Steps taken so far (Adam's bias correction depends on it). */
    long steps();

    void setSteps(long steps);

    @Override
    void close();
}
