package dev.quarry.nn;

/** Updates a fixed list of parameters from their gradients. */
public interface Optimizer extends AutoCloseable {
    void step();

    void setLearningRate(float lr);

    @Override
    void close();
}
