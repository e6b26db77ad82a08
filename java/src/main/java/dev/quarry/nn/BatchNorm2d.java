package dev.quarry.nn;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;
import java.util.List;

/** Batch norm over the channel (last) dimension with running statistics (PyTorch semantics). */
public final class BatchNorm2d implements Module {
    private final Device device;
    private final float momentum, eps;
    private final Param gamma, beta;
    private final Tensor runningMean, runningVar, saveMean, saveInvstd;
    private final Buffer out = new Buffer(), dx = new Buffer();
    private Tensor input;

    public BatchNorm2d(Device device, int channels, int id) {
        this(device, channels, 0.1f, 1e-5f, id);
    }

    public BatchNorm2d(Device device, int channels, float momentum, float eps, int id) {
        this.device = device;
        this.momentum = momentum;
        this.eps = eps;
        this.gamma = new Param("bn" + id + ".weight", device, channels);
        this.beta = new Param("bn" + id + ".bias", device, channels);
        Ops.fill(gamma.value(), 1f);
        Ops.fill(beta.value(), 0f);
        this.runningMean = Tensor.zeros(device, channels);
        this.runningVar = Tensor.empty(device, channels);
        Ops.fill(runningVar, 1f);
        this.saveMean = Tensor.empty(device, channels);
        this.saveInvstd = Tensor.empty(device, channels);
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        input = x;
        Tensor y = out.get(device, x.shape());
        if (training)
            Ops.batchNormForwardTrain(x, gamma.value(), beta.value(), y, saveMean, saveInvstd, runningMean, runningVar, momentum, eps);
        else
            Ops.batchNormForwardInfer(x, gamma.value(), beta.value(), runningMean, runningVar, y, eps);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy) {
        Tensor g = dx.get(device, input.shape());
        Ops.batchNormBackward(input, dy, gamma.value(), saveMean, saveInvstd, g, gamma.grad(), beta.grad());
        return g;
    }

    @Override
    public List<Param> params() {
        return List.of(gamma, beta);
    }

    @Override
    public List<Tensor> buffers() {
        return List.of(runningMean, runningVar);
    }

    @Override
    public void close() {
        gamma.close();
        beta.close();
        runningMean.close();
        runningVar.close();
        saveMean.close();
        saveInvstd.close();
        out.close();
        dx.close();
    }
}
