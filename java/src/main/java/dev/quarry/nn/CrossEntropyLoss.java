package dev.quarry.nn;

import dev.quarry.engine.Device;
import dev.quarry.engine.Ops;
import dev.quarry.engine.Tensor;

/** Mean cross-entropy of logits [n][c] against i32 labels [n], with optional label smoothing. */
public final class CrossEntropyLoss implements AutoCloseable {
    private final float smoothing;
    private final Buffer logp = new Buffer(), dlogp = new Buffer(), dlogits = new Buffer(), loss = new Buffer();
    private Tensor labels, lastLogp;

    public CrossEntropyLoss(float smoothing) {
        this.smoothing = smoothing;
    }

    /** Computes the loss and returns it (a device-to-host copy of one float). */
    public float forward(Tensor logits, Tensor labels) {
        Device d = logits.device();
        this.labels = labels;
        lastLogp = logp.get(d, logits.shape());
        Ops.logSoftmaxForward(logits, lastLogp);
        Tensor l = loss.get(d, 1);
        Ops.nllForward(lastLogp, labels, l, smoothing);
        return l.toFloats()[0];
    }

    /** dL/d(logits) for the last forward. */
    public Tensor backward() {
        Device d = lastLogp.device();
        Tensor g = dlogp.get(d, lastLogp.shape());
        Ops.nllBackward(labels, g, smoothing, 1f);
        Tensor out = dlogits.get(d, lastLogp.shape());
        Ops.logSoftmaxBackward(lastLogp, g, out);
        return out;
    }

    @Override
    public void close() {
        logp.close();
        dlogp.close();
        dlogits.close();
        loss.close();
    }
}
