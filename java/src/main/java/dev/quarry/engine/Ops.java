package dev.quarry.engine;

import java.util.Arrays;
import java.util.StringJoiner;

/**
 * The native ops over {@link Tensor}s, with their shapes checked in Java first so that a mistake names the op and
 * every operand's shape. Layouts follow quarry.h: activations NHWC, conv weights [cout][kh][kw][cin], linear
 * weights [out][in]. Outputs are passed in and overwritten.
 */
public final class Ops {
    private Ops() {}

    /** Throws a {@link QuarryException} carrying the native message when {@code status} is not QY_OK. */
    static void check(int status, String what) {
        if (status != QuarryNative.QY_OK)
            throw new QuarryException(status, what + ": " + QuarryNative.qy_last_error());
    }

    private static String shapes(Tensor... ts) {
        StringJoiner j = new StringJoiner(", ");
        for (Tensor t : ts) j.add(t == null ? "null" : t.isOpen() ? t.describe() : "closed " + Arrays.toString(t.shape()));
        return j.toString();
    }

    /** Checks operands are open, on one device and float32; returns that device. */
    private static Device operands(String op, Tensor... ts) {
        Device d = operandsOfAnyType(op, ts);
        for (Tensor t : ts)
            if (t.dtype() != Tensor.DType.F32) throw new QuarryException(op + ": expected f32 operands (" + shapes(ts) + ")");
        return d;
    }

    /** Checks operands are open and on one device (the caller checks their dtypes); returns that device. */
    private static Device operandsOfAnyType(String op, Tensor... ts) {
        Device d = null;
        for (Tensor t : ts) {
            if (t == null) throw new QuarryException(op + ": null tensor among (" + shapes(ts) + ")");
            if (!t.isOpen()) throw new QuarryException(op + ": closed tensor among (" + shapes(ts) + ")");
            if (d == null) d = t.device();
            else if (t.device() != d) throw new QuarryException(op + ": operands on different devices (" + shapes(ts) + ")");
        }
        return d;
    }

    private static QuarryException shapeError(String op, String why, Tensor... ts) {
        return new QuarryException(op + ": " + why + " (" + shapes(ts) + ")");
    }

    private static void expect(boolean ok, String op, String why, Tensor... ts) {
        if (!ok) throw shapeError(op, why, ts);
    }

    private static void call(int status, String op, Tensor... ts) {
        if (status != QuarryNative.QY_OK)
            throw new QuarryException(status, op + ": " + QuarryNative.qy_last_error() + " (" + shapes(ts) + ")");
    }

    private static void sameShape(String op, Tensor a, Tensor b, Tensor... all) {
        expect(Arrays.equals(a.shape(), b.shape()), op, "shapes differ", all);
    }

    private static long addr(Tensor t) {
        return t == null ? 0L : t.address();
    }

    // ---- fills and elementwise

    public static void fill(Tensor t, float value) {
        Device d = operands("fill", t);
        call(QuarryNative.qy_fill(d.code(), d.stream(), t.address(), t.numel(), value), "fill", t);
    }

    public static void fillUniform(Tensor t, long seed, int streamId, float lo, float hi) {
        Device d = operands("fill_uniform", t);
        call(QuarryNative.qy_fill_uniform(d.code(), d.stream(), t.address(), t.numel(), seed, streamId, lo, hi), "fill_uniform", t);
    }

    public static void fillNormal(Tensor t, long seed, int streamId, float mean, float std) {
        Device d = operands("fill_normal", t);
        call(QuarryNative.qy_fill_normal(d.code(), d.stream(), t.address(), t.numel(), seed, streamId, mean, std), "fill_normal", t);
    }

    /** y = a + b. */
    public static void add(Tensor a, Tensor b, Tensor y) {
        Device d = operands("add", a, b, y);
        sameShape("add", a, b, a, b, y);
        sameShape("add", a, y, a, b, y);
        call(QuarryNative.qy_add(d.code(), d.stream(), a.address(), b.address(), y.address(), y.numel()), "add", a, b, y);
    }

    /** y += alpha * x. */
    public static void axpy(float alpha, Tensor x, Tensor y) {
        Device d = operands("axpy", x, y);
        expect(x.numel() == y.numel(), "axpy", "element counts differ", x, y);
        call(QuarryNative.qy_axpy(d.code(), d.stream(), alpha, x.address(), y.address(), y.numel()), "axpy", x, y);
    }

    /** y[b][a][...] = x[a][b][...]: swaps the two leading axes of x [na][nb][...] into y [nb][na][...]. */
    public static void swap01(Tensor x, Tensor y) {
        Device d = operands("swap01", x, y);
        expect(x.rank() >= 2 && y.rank() == x.rank() && x.numel() == y.numel() && y.dim(0) == x.dim(1) && y.dim(1) == x.dim(0),
                "swap01", "y must be x with its two leading axes swapped", x, y);
        long nc = x.numel() / ((long) x.dim(0) * x.dim(1));
        call(QuarryNative.qy_swap01(d.code(), d.stream(), x.address(), y.address(), x.dim(0), x.dim(1), nc), "swap01", x, y);
    }

    /** y = x / ||x|| per row of x [n][d]; invnorm [n] keeps 1 / ||x|| for the backward pass. */
    public static void l2NormRowsForward(Tensor x, Tensor y, Tensor invnorm) {
        Device d = operands("l2norm_rows_fwd", x, y, invnorm);
        expect(x.rank() == 2 && Arrays.equals(x.shape(), y.shape()) && invnorm.numel() == x.dim(0), "l2norm_rows_fwd",
                "need x and y [n][d] and invnorm [n]", x, y, invnorm);
        call(QuarryNative.qy_l2norm_rows_fwd(d.code(), d.stream(), x.address(), y.address(), invnorm.address(), x.dim(0), x.dim(1)),
                "l2norm_rows_fwd", x, y, invnorm);
    }

    /** dx = invnorm * (dy - y * (y . dy)) per row, from the forward pass's y and invnorm. */
    public static void l2NormRowsBackward(Tensor y, Tensor invnorm, Tensor dy, Tensor dx) {
        Device d = operands("l2norm_rows_bwd", y, invnorm, dy, dx);
        expect(y.rank() == 2 && Arrays.equals(y.shape(), dy.shape()) && Arrays.equals(y.shape(), dx.shape()) && invnorm.numel() == y.dim(0),
                "l2norm_rows_bwd", "need y, dy and dx [n][d] and invnorm [n]", y, invnorm, dy, dx);
        call(QuarryNative.qy_l2norm_rows_bwd(d.code(), d.stream(), y.address(), invnorm.address(), dy.address(), dx.address(), y.dim(0), y.dim(1)),
                "l2norm_rows_bwd", y, invnorm, dy, dx);
    }

    public static void reluForward(Tensor x, Tensor y) {
        Device d = operands("relu_fwd", x, y);
        sameShape("relu_fwd", x, y, x, y);
        call(QuarryNative.qy_relu_fwd(d.code(), d.stream(), x.address(), y.address(), y.numel()), "relu_fwd", x, y);
    }

    /** dx = dy where y > 0, else 0 ({@code y} is the forward output). */
    public static void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        Device d = operands("relu_bwd", y, dy, dx);
        sameShape("relu_bwd", y, dy, y, dy, dx);
        sameShape("relu_bwd", y, dx, y, dy, dx);
        call(QuarryNative.qy_relu_bwd(d.code(), d.stream(), y.address(), dy.address(), dx.address(), dx.numel()), "relu_bwd", y, dy, dx);
    }

    // ---- conv2d

    /** Geometry of a conv2d; {@link #outHeight()} and {@link #outWidth()} follow the floor formula of quarry.h. */
    public record Conv(int kh, int kw, int sh, int sw, int ph, int pw) {
        public static Conv square(int k, int stride, int pad) {
            return new Conv(k, k, stride, stride, pad, pad);
        }

        int outHeight(int h) {
            return (h + 2 * ph - kh) / sh + 1;
        }

        int outWidth(int w) {
            return (w + 2 * pw - kw) / sw + 1;
        }

        /** The output shape for input x [n][h][w][cin] and cout filters. */
        public int[] outShape(int[] x, int cout) {
            return new int[] {x[0], outHeight(x[1]), outWidth(x[2]), cout};
        }
    }

    private static void checkConv(String op, Tensor x, Tensor w, Tensor b, Tensor y, Conv g, Tensor... all) {
        expect(x.rank() == 4 && w.rank() == 4 && y.rank() == 4, op, "x, w and y must be rank 4 (NHWC, [cout][kh][kw][cin])", all);
        expect(w.dim(1) == g.kh() && w.dim(2) == g.kw(), op, "weight kernel size is not " + g.kh() + "x" + g.kw(), all);
        expect(x.dim(3) == w.dim(3), op, "input channels of x and w differ", all);
        expect(g.sh() > 0 && g.sw() > 0 && g.ph() >= 0 && g.pw() >= 0, op, "bad stride/padding " + g, all);
        expect(x.dim(1) + 2 * g.ph() >= g.kh() && x.dim(2) + 2 * g.pw() >= g.kw(), op, "kernel larger than the padded input", all);
        expect(Arrays.equals(y.shape(), g.outShape(x.shape(), w.dim(0))), op,
                "output must be " + Arrays.toString(g.outShape(x.shape(), w.dim(0))), all);
        expect(b == null || (b.rank() == 1 && b.dim(0) == w.dim(0)), op, "bias must be [cout]", all);
    }

    public static void conv2dForward(Tensor x, Tensor w, Tensor bias, Tensor y, Conv g) {
        Tensor[] all = {x, w, bias, y};
        Device d = bias == null ? operands("conv2d_fwd", x, w, y) : operands("conv2d_fwd", x, w, bias, y);
        checkConv("conv2d_fwd", x, w, bias, y, g, all);
        call(QuarryNative.qy_conv2d_fwd(d.code(), d.stream(), x.address(), w.address(), addr(bias), y.address(),
                x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), g.kh(), g.kw(), g.sh(), g.sw(), g.ph(), g.pw()), "conv2d_fwd", all);
    }

    /** dx from dy and the weights; {@code dx} has the shape of the forward input. */
    public static void conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, Conv g) {
        Tensor[] all = {dy, w, dx};
        Device d = operands("conv2d_bwd_data", dy, w, dx);
        checkConv("conv2d_bwd_data", dx, w, null, dy, g, all);
        call(QuarryNative.qy_conv2d_bwd_data(d.code(), d.stream(), dy.address(), w.address(), dx.address(),
                dx.dim(0), dx.dim(1), dx.dim(2), dx.dim(3), w.dim(0), g.kh(), g.kw(), g.sh(), g.sw(), g.ph(), g.pw()), "conv2d_bwd_data", all);
    }

    /** dw (and dbias when not null) from the forward input and dy. */
    public static void conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor dbias, Conv g) {
        Tensor[] all = {x, dy, dw, dbias};
        Device d = dbias == null ? operands("conv2d_bwd_filter", x, dy, dw) : operands("conv2d_bwd_filter", x, dy, dw, dbias);
        checkConv("conv2d_bwd_filter", x, dw, dbias, dy, g, all);
        call(QuarryNative.qy_conv2d_bwd_filter(d.code(), d.stream(), x.address(), dy.address(), dw.address(), addr(dbias),
                x.dim(0), x.dim(1), x.dim(2), x.dim(3), dw.dim(0), g.kh(), g.kw(), g.sh(), g.sw(), g.ph(), g.pw()), "conv2d_bwd_filter", all);
    }

    // ---- batch norm: x is viewed as [m][c] with c its last dimension

    private static void checkChannels(String op, Tensor x, int c, Tensor[] all, Tensor... perChannel) {
        for (Tensor t : perChannel)
            expect(t.rank() == 1 && t.dim(0) == c, op, "per-channel tensors must be [" + c + "]", all);
    }

    public static void batchNormForwardTrain(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvstd,
                                             Tensor runningMean, Tensor runningVar, float momentum, float eps) {
        Tensor[] all = {x, gamma, beta, y, saveMean, saveInvstd, runningMean, runningVar};
        Device d = operands("batchnorm_fwd_train", all);
        sameShape("batchnorm_fwd_train", x, y, all);
        int c = x.dim(-1);
        long m = x.numel() / c;
        checkChannels("batchnorm_fwd_train", x, c, all, gamma, beta, saveMean, saveInvstd, runningMean, runningVar);
        call(QuarryNative.qy_batchnorm_fwd_train(d.code(), d.stream(), x.address(), gamma.address(), beta.address(), y.address(),
                saveMean.address(), saveInvstd.address(), runningMean.address(), runningVar.address(), m, c, momentum, eps),
                "batchnorm_fwd_train", all);
    }

    public static void batchNormForwardInfer(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, Tensor y, float eps) {
        Tensor[] all = {x, gamma, beta, runningMean, runningVar, y};
        Device d = operands("batchnorm_fwd_infer", all);
        sameShape("batchnorm_fwd_infer", x, y, all);
        int c = x.dim(-1);
        checkChannels("batchnorm_fwd_infer", x, c, all, gamma, beta, runningMean, runningVar);
        call(QuarryNative.qy_batchnorm_fwd_infer(d.code(), d.stream(), x.address(), gamma.address(), beta.address(),
                runningMean.address(), runningVar.address(), y.address(), x.numel() / c, c, eps), "batchnorm_fwd_infer", all);
    }

    public static void batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvstd,
                                         Tensor dx, Tensor dgamma, Tensor dbeta) {
        Tensor[] all = {x, dy, gamma, saveMean, saveInvstd, dx, dgamma, dbeta};
        Device d = operands("batchnorm_bwd", all);
        sameShape("batchnorm_bwd", x, dy, all);
        sameShape("batchnorm_bwd", x, dx, all);
        int c = x.dim(-1);
        checkChannels("batchnorm_bwd", x, c, all, gamma, saveMean, saveInvstd, dgamma, dbeta);
        call(QuarryNative.qy_batchnorm_bwd(d.code(), d.stream(), x.address(), dy.address(), gamma.address(), saveMean.address(),
                saveInvstd.address(), dx.address(), dgamma.address(), dbeta.address(), x.numel() / c, c), "batchnorm_bwd", all);
    }

    // ---- pooling

    public static void maxPool2x2Forward(Tensor x, Tensor y) {
        Device d = operands("maxpool2x2_fwd", x, y);
        expect(x.rank() == 4 && x.dim(1) >= 2 && x.dim(2) >= 2, "maxpool2x2_fwd", "x must be [n][h>=2][w>=2][c]", x, y);
        expect(Arrays.equals(y.shape(), new int[] {x.dim(0), x.dim(1) / 2, x.dim(2) / 2, x.dim(3)}), "maxpool2x2_fwd", "y must be [n][h/2][w/2][c]", x, y);
        call(QuarryNative.qy_maxpool2x2_fwd(d.code(), d.stream(), x.address(), y.address(), x.dim(0), x.dim(1), x.dim(2), x.dim(3)), "maxpool2x2_fwd", x, y);
    }

    public static void maxPool2x2Backward(Tensor x, Tensor dy, Tensor dx) {
        Device d = operands("maxpool2x2_bwd", x, dy, dx);
        expect(x.rank() == 4 && x.dim(1) >= 2 && x.dim(2) >= 2, "maxpool2x2_bwd", "x must be [n][h>=2][w>=2][c]", x, dy, dx);
        expect(Arrays.equals(dy.shape(), new int[] {x.dim(0), x.dim(1) / 2, x.dim(2) / 2, x.dim(3)}), "maxpool2x2_bwd", "dy must be [n][h/2][w/2][c]", x, dy, dx);
        sameShape("maxpool2x2_bwd", x, dx, x, dy, dx);
        call(QuarryNative.qy_maxpool2x2_bwd(d.code(), d.stream(), x.address(), dy.address(), dx.address(), x.dim(0), x.dim(1), x.dim(2), x.dim(3)),
                "maxpool2x2_bwd", x, dy, dx);
    }

    /** x [n][h][w][c] to y [n][c]. */
    public static void globalAvgPoolForward(Tensor x, Tensor y) {
        Device d = operands("avgpool_global_fwd", x, y);
        expect(x.rank() == 4 && Arrays.equals(y.shape(), new int[] {x.dim(0), x.dim(3)}), "avgpool_global_fwd", "need x [n][h][w][c] and y [n][c]", x, y);
        call(QuarryNative.qy_avgpool_global_fwd(d.code(), d.stream(), x.address(), y.address(), x.dim(0), x.dim(1) * x.dim(2), x.dim(3)), "avgpool_global_fwd", x, y);
    }

    public static void globalAvgPoolBackward(Tensor dy, Tensor dx) {
        Device d = operands("avgpool_global_bwd", dy, dx);
        expect(dx.rank() == 4 && Arrays.equals(dy.shape(), new int[] {dx.dim(0), dx.dim(3)}), "avgpool_global_bwd", "need dy [n][c] and dx [n][h][w][c]", dy, dx);
        call(QuarryNative.qy_avgpool_global_bwd(d.code(), d.stream(), dy.address(), dx.address(), dx.dim(0), dx.dim(1) * dx.dim(2), dx.dim(3)), "avgpool_global_bwd", dy, dx);
    }

    // ---- linear

    private static void checkLinear(String op, Tensor x, Tensor w, Tensor b, Tensor y, Tensor... all) {
        expect(x.rank() == 2 && w.rank() == 2 && y.rank() == 2, op, "x, w and y must be rank 2", all);
        expect(x.dim(1) == w.dim(1), op, "x [n][in] and w [out][in] disagree on in", all);
        expect(y.dim(0) == x.dim(0) && y.dim(1) == w.dim(0), op, "y must be [n][out]", all);
        expect(b == null || (b.rank() == 1 && b.dim(0) == w.dim(0)), op, "bias must be [out]", all);
    }

    public static void linearForward(Tensor x, Tensor w, Tensor bias, Tensor y) {
        Tensor[] all = {x, w, bias, y};
        Device d = bias == null ? operands("linear_fwd", x, w, y) : operands("linear_fwd", x, w, bias, y);
        checkLinear("linear_fwd", x, w, bias, y, all);
        call(QuarryNative.qy_linear_fwd(d.code(), d.stream(), x.address(), w.address(), addr(bias), y.address(), x.dim(0), x.dim(1), w.dim(0)), "linear_fwd", all);
    }

    public static void linearBackwardData(Tensor dy, Tensor w, Tensor dx) {
        Tensor[] all = {dy, w, dx};
        Device d = operands("linear_bwd_data", all);
        checkLinear("linear_bwd_data", dx, w, null, dy, all);
        call(QuarryNative.qy_linear_bwd_data(d.code(), d.stream(), dy.address(), w.address(), dx.address(), dx.dim(0), dx.dim(1), w.dim(0)), "linear_bwd_data", all);
    }

    public static void linearBackwardWeight(Tensor x, Tensor dy, Tensor dw, Tensor dbias) {
        Tensor[] all = {x, dy, dw, dbias};
        Device d = dbias == null ? operands("linear_bwd_weight", x, dy, dw) : operands("linear_bwd_weight", x, dy, dw, dbias);
        checkLinear("linear_bwd_weight", x, dw, dbias, dy, all);
        call(QuarryNative.qy_linear_bwd_weight(d.code(), d.stream(), x.address(), dy.address(), dw.address(), addr(dbias), x.dim(0), x.dim(1), dw.dim(0)),
                "linear_bwd_weight", all);
    }

    // ---- dropout

    /**
     * Dropout with a Philox mask of (seed, layer, k, unit). x is viewed as [rows][spatial][units]; row r uses
     * k = k0 + r / rowsPerSample. For [n][features] use spatial 1; for Dropout2d on NHWC use spatial h*w.
     * The backward pass is the same call on dy.
     */
    public static void dropout(Tensor x, Tensor y, long spatial, float p, long seed, int layer, long k0, long rowsPerSample) {
        Device d = operands("dropout", x, y);
        sameShape("dropout", x, y, x, y);
        long rows = x.dim(0);
        long perRow = x.numel() / rows;
        expect(spatial > 0 && perRow % spatial == 0, "dropout", "spatial " + spatial + " does not divide a row of " + perRow, x, y);
        call(QuarryNative.qy_dropout(d.code(), d.stream(), x.address(), y.address(), rows, spatial, perRow / spatial, p, seed, layer, k0, rowsPerSample),
                "dropout", x, y);
    }

    // ---- data augmentation

    /**
     * Random crop with zero padding {@code pad} and horizontal flip with probability 1/2 of each image of x
     * [n][h][w][c] into out (same shape, another tensor): the choices are Philox draws of (seed, step, index in the
     * batch), identical on CPU and CUDA (quarry.h, qy_crop_flip). 0 <= pad <= min(h, w).
     */
    public static void cropFlip(Tensor x, Tensor out, int pad, long seed, long step) {
        Device d = operands("crop_flip", x, out);
        expect(x.rank() == 4, "crop_flip", "x must be [n][h][w][c]", x, out);
        sameShape("crop_flip", x, out, x, out);
        expect(x != out && x.address() != out.address(), "crop_flip", "out must be another tensor than x", x, out);
        expect(pad >= 0 && pad <= Math.min(x.dim(1), x.dim(2)), "crop_flip", "pad " + pad + " outside [0, min(h, w)]", x, out);
        call(QuarryNative.qy_crop_flip(d.code(), d.stream(), x.address(), out.address(), x.dim(0), x.dim(1), x.dim(2), x.dim(3), pad, seed, step),
                "crop_flip", x, out);
    }

    // ---- SimCLR pretraining: augmented views and LARS

    /**
     * One SimCLR view of every image of x [n][h][w][c] (c = 1 or 3, normalised units) into out (same shape, another
     * tensor): random resized crop, flip, colour jitter and grayscale as quarry.h documents for qy_simclr_augment.
     * meanC and stdC hold the c per-channel statistics of the normalisation; params is qy_simclr_params in field order
     * ({@code dev.quarry.ssl.SimclrAugment#toArray}). The choices are Philox draws of (seed, step, index in the batch,
     * view), identical on CPU and CUDA; two views of a batch use view 0 and view 1.
     */
    public static void simclrAugment(Tensor x, Tensor out, float[] meanC, float[] stdC, float[] params, long seed, long step, int view) {
        String op = "simclr_augment";
        Device d = operands(op, x, out);
        expect(x.rank() == 4 && (x.dim(3) == 1 || x.dim(3) == 3), op, "x must be [n][h][w][c] with c = 1 or 3", x, out);
        sameShape(op, x, out, x, out);
        expect(x != out && x.address() != out.address(), op, "out must be another tensor than x", x, out);
        int c = x.dim(3);
        expect(meanC != null && stdC != null && meanC.length == c && stdC.length == c, op,
                "need " + c + " channel means and stds, got " + (meanC == null ? "null" : meanC.length) + " and " + (stdC == null ? "null" : stdC.length), x, out);
        expect(params != null && params.length == 10, op, "params must be the 10 floats of qy_simclr_params", x, out);
        expect(view >= 0 && view < (1 << 26), op, "view " + view + " outside [0, 2^26)", x, out);
        call(QuarryNative.qy_simclr_augment(d.code(), d.stream(), x.address(), out.address(), x.dim(0), x.dim(1), x.dim(2), c, meanC, stdC, params,
                seed, step, view), op, x, out);
    }

    /**
     * One LARS step on one parameter tensor (quarry.h, qy_lars_step): with {@code adapt}, trust = eta ||w|| /
     * (||g|| + wd ||w||) (1 when a norm is 0) and weight decay; without (biases, batch-norm parameters), trust 1 and no
     * decay. v = momentum v + lr trust (g + wd w); w -= v. The norms are computed on the tensors' device.
     */
    public static void larsStep(Tensor param, Tensor grad, Tensor momentumBuf, float lr, float momentum, float weightDecay, float eta, boolean adapt) {
        Tensor[] all = {param, grad, momentumBuf};
        Device d = operands("lars_step", all);
        expect(param.numel() == grad.numel() && momentumBuf.numel() == param.numel(), "lars_step", "sizes differ", all);
        call(QuarryNative.qy_lars_step(d.code(), d.stream(), param.address(), grad.address(), momentumBuf.address(), param.numel(), lr, momentum,
                weightDecay, eta, adapt ? 1 : 0), "lars_step", all);
    }

    // ---- log-softmax and NLL

    public static void logSoftmaxForward(Tensor x, Tensor y) {
        Device d = operands("log_softmax_fwd", x, y);
        expect(x.rank() == 2, "log_softmax_fwd", "x must be [n][c]", x, y);
        sameShape("log_softmax_fwd", x, y, x, y);
        call(QuarryNative.qy_log_softmax_fwd(d.code(), d.stream(), x.address(), y.address(), x.dim(0), x.dim(1)), "log_softmax_fwd", x, y);
    }

    public static void logSoftmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        Device d = operands("log_softmax_bwd", y, dy, dx);
        expect(y.rank() == 2, "log_softmax_bwd", "y must be [n][c]", y, dy, dx);
        sameShape("log_softmax_bwd", y, dy, y, dy, dx);
        sameShape("log_softmax_bwd", y, dx, y, dy, dx);
        call(QuarryNative.qy_log_softmax_bwd(d.code(), d.stream(), y.address(), dy.address(), dx.address(), y.dim(0), y.dim(1)), "log_softmax_bwd", y, dy, dx);
    }

    private static void checkNll(String op, Tensor logp, Tensor labels, Tensor... all) {
        expect(logp.rank() == 2, op, "log-probabilities must be [n][c]", all);
        expect(labels.dtype() == Tensor.DType.I32 && labels.rank() == 1 && labels.dim(0) == logp.dim(0), op, "labels must be i32 [n]", all);
    }

    /** loss[0] = mean negative log-likelihood with label smoothing (NaN if a label is outside [0, c)). */
    public static void nllForward(Tensor logp, Tensor labels, Tensor loss, float smoothing) {
        Tensor[] all = {logp, labels, loss};
        Device d = operandsOfAnyType("nll_fwd", all);
        operands("nll_fwd", logp, loss);
        checkNll("nll_fwd", logp, labels, all);
        expect(loss.numel() == 1, "nll_fwd", "loss must hold one element", all);
        call(QuarryNative.qy_nll_fwd(d.code(), d.stream(), logp.address(), labels.address(), loss.address(), logp.dim(0), logp.dim(1), smoothing), "nll_fwd", all);
    }

    public static void nllBackward(Tensor labels, Tensor dlogp, float smoothing, float scale) {
        Tensor[] all = {labels, dlogp};
        Device d = operandsOfAnyType("nll_bwd", all);
        operands("nll_bwd", dlogp);
        checkNll("nll_bwd", dlogp, labels, all);
        call(QuarryNative.qy_nll_bwd(d.code(), d.stream(), labels.address(), dlogp.address(), dlogp.dim(0), dlogp.dim(1), smoothing, scale), "nll_bwd", all);
    }

    // ---- acquisition: log-probabilities [n][k][c] (f32 or f64), results in f64

    private static int floatType(String op, Tensor t, Tensor... all) {
        if (t.dtype() == Tensor.DType.F32) return QuarryNative.QY_F32;
        if (t.dtype() == Tensor.DType.F64) return QuarryNative.QY_F64;
        throw shapeError(op, "log-probabilities must be f32 or f64", all);
    }

    private static void expectF64(String op, Tensor... ts) {
        for (Tensor t : ts)
            if (t != null && t.dtype() != Tensor.DType.F64) throw shapeError(op, "expected f64 operands", ts);
    }

    /** scores[i] = score of pool point i (a QY_SCORE_* kind). */
    public static void acqScore(Tensor logp, Tensor scores, int kind) {
        Tensor[] all = {logp, scores};
        Device d = operandsOfAnyType("acq_score", all);
        expect(logp.rank() == 3 && scores.rank() == 1 && scores.dim(0) == logp.dim(0), "acq_score", "need logp [n][k][c] and scores [n]", all);
        expectF64("acq_score", scores);
        call(QuarryNative.qy_acq_score(d.code(), d.stream(), logp.address(), floatType("acq_score", logp, all), logp.dim(0), logp.dim(1), logp.dim(2),
                kind, scores.address()), "acq_score", all);
    }

    public static void logpToProbs(Tensor logp, Tensor probs) {
        Tensor[] all = {logp, probs};
        Device d = operandsOfAnyType("logp_to_probs", all);
        expect(Arrays.equals(logp.shape(), probs.shape()), "logp_to_probs", "shapes differ", all);
        expectF64("logp_to_probs", probs);
        call(QuarryNative.qy_logp_to_probs(d.code(), d.stream(), logp.address(), floatType("logp_to_probs", logp, all), logp.numel(), probs.address()),
                "logp_to_probs", all);
    }

    /** pNew [m*c][k] = row-wise Kronecker product of p [m][k] with probsA [k][c]. */
    public static void jointExtend(Tensor p, Tensor probsA, Tensor pNew) {
        Tensor[] all = {p, probsA, pNew};
        Device d = operandsOfAnyType("joint_extend", all);
        expectF64("joint_extend", all);
        expect(p.rank() == 2 && pNew.rank() == 2, "joint_extend", "need p [m][k], probsA [k][c], pNew [m*c][k]", all);
        int k = p.dim(1), c = probsA.dim(-1);
        expect(probsA.numel() == (long) k * c && pNew.rank() == 2 && pNew.dim(1) == k && pNew.dim(0) == (long) p.dim(0) * c,
                "joint_extend", "need p [m][k], probsA [k][c], pNew [m*c][k]", all);
        call(QuarryNative.qy_joint_extend(d.code(), d.stream(), p.address(), p.dim(0), probsA.address(), k, c, pNew.address()), "joint_extend", all);
    }

    /** Importance-sampled configurations of the chosen points: p [k*s][k] and weights w [k*s]. */
    public static void jointSample(Tensor probsChosen, long s, long seed, int step, Tensor p, Tensor w) {
        Tensor[] all = {probsChosen, p, w};
        Device d = operandsOfAnyType("joint_sample", all);
        expectF64("joint_sample", all);
        expect(probsChosen.rank() == 3 && p.rank() == 2 && w.rank() == 1, "joint_sample", "need chosen [a][k][c], p [k*s][k], w [k*s]", all);
        int a = probsChosen.dim(0), k = probsChosen.dim(1), c = probsChosen.dim(2);
        expect(probsChosen.rank() == 3 && p.rank() == 2 && p.dim(1) == k && p.dim(0) == (long) k * s && w.rank() == 1 && w.dim(0) == p.dim(0),
                "joint_sample", "need chosen [a][k][c], p [k*s][k], w [k*s]", all);
        call(QuarryNative.qy_joint_sample(d.code(), d.stream(), probsChosen.address(), a, k, c, s, seed, step, p.address(), w.address()), "joint_sample", all);
    }

    /** out[x] = joint entropy of the configurations p (weights w, or null for exact) extended by candidate x. */
    public static void jointEntropy(Tensor p, Tensor w, Tensor probs, Tensor out) {
        Tensor[] all = {p, w, probs, out};
        Device d = w == null ? operandsOfAnyType("joint_entropy", p, probs, out) : operandsOfAnyType("joint_entropy", all);
        expectF64("joint_entropy", all);
        expect(p.rank() == 2 && probs.rank() == 3 && probs.dim(1) == p.dim(1) && out.rank() == 1 && out.dim(0) == probs.dim(0)
                && (w == null || (w.rank() == 1 && w.dim(0) == p.dim(0))), "joint_entropy", "need p [m][k], w [m], probs [n][k][c], out [n]", all);
        call(QuarryNative.qy_joint_entropy(d.code(), d.stream(), p.address(), addr(w), p.dim(0), probs.address(), probs.dim(0), probs.dim(1), probs.dim(2),
                out.address()), "joint_entropy", all);
    }

    // ---- contrastive losses (semantics in quarry.h)

    /**
     * NT-Xent (SimCLR) forward: z [2n][d] holds two views, rows i and i + n are a positive pair; normalised inside.
     * Writes the mean loss into loss [1] and saves saveLse [2n] and saveInvnorm [2n] for {@link #ntxentBackward}.
     */
    public static void ntxentForward(Tensor z, Tensor loss, Tensor saveLse, Tensor saveInvnorm, float tau) {
        Tensor[] all = {z, loss, saveLse, saveInvnorm};
        Device d = operands("ntxent_fwd", all);
        int n = checkNtxent("ntxent_fwd", z, saveLse, saveInvnorm, all);
        expect(loss.numel() == 1, "ntxent_fwd", "loss must hold one element", all);
        call(QuarryNative.qy_ntxent_fwd(d.code(), d.stream(), z.address(), loss.address(), saveLse.address(), saveInvnorm.address(), n, z.dim(1), tau),
                "ntxent_fwd", all);
    }

    /** dz = scale * dloss/dz from the forward pass's saves. */
    public static void ntxentBackward(Tensor z, Tensor saveLse, Tensor saveInvnorm, Tensor dz, float tau, float scale) {
        Tensor[] all = {z, saveLse, saveInvnorm, dz};
        Device d = operands("ntxent_bwd", all);
        int n = checkNtxent("ntxent_bwd", z, saveLse, saveInvnorm, all);
        sameShape("ntxent_bwd", z, dz, all);
        call(QuarryNative.qy_ntxent_bwd(d.code(), d.stream(), z.address(), saveLse.address(), saveInvnorm.address(), dz.address(), n, z.dim(1), tau, scale),
                "ntxent_bwd", all);
    }

    /** Checks z [2n][d] with n >= 2 and the per-row saves [2n]; returns n. */
    private static int checkNtxent(String op, Tensor z, Tensor saveLse, Tensor saveInvnorm, Tensor... all) {
        expect(z.rank() == 2 && z.dim(0) % 2 == 0 && z.dim(0) >= 4, op, "z must be [2n][d] with n >= 2 positive pairs", all);
        expect(saveLse.rank() == 1 && saveLse.dim(0) == z.dim(0) && saveInvnorm.rank() == 1 && saveInvnorm.dim(0) == z.dim(0),
                op, "saveLse and saveInvnorm must be [2n]", all);
        return z.dim(0) / 2;
    }

    /**
     * MoCo InfoNCE forward: queries q [n][d], positive keys k [n][d], negatives queue [kq][d], all expected to be
     * L2-normalised (the op does not normalise). Writes the mean loss into loss [1] and saves saveLse [n].
     */
    public static void infoNceQueueForward(Tensor q, Tensor k, Tensor queue, Tensor loss, Tensor saveLse, float tau) {
        Tensor[] all = {q, k, queue, loss, saveLse};
        Device d = operands("infonce_queue_fwd", all);
        checkInfoNce("infonce_queue_fwd", q, k, queue, saveLse, all);
        expect(loss.numel() == 1, "infonce_queue_fwd", "loss must hold one element", all);
        call(QuarryNative.qy_infonce_queue_fwd(d.code(), d.stream(), q.address(), k.address(), queue.address(), loss.address(), saveLse.address(),
                q.dim(0), queue.dim(0), q.dim(1), tau), "infonce_queue_fwd", all);
    }

    /** dq = scale * dloss/dq (keys and queue get no gradient). */
    public static void infoNceQueueBackward(Tensor q, Tensor k, Tensor queue, Tensor saveLse, Tensor dq, float tau, float scale) {
        Tensor[] all = {q, k, queue, saveLse, dq};
        Device d = operands("infonce_queue_bwd", all);
        checkInfoNce("infonce_queue_bwd", q, k, queue, saveLse, all);
        sameShape("infonce_queue_bwd", q, dq, all);
        call(QuarryNative.qy_infonce_queue_bwd(d.code(), d.stream(), q.address(), k.address(), queue.address(), saveLse.address(), dq.address(),
                q.dim(0), queue.dim(0), q.dim(1), tau, scale), "infonce_queue_bwd", all);
    }

    private static void checkInfoNce(String op, Tensor q, Tensor k, Tensor queue, Tensor saveLse, Tensor... all) {
        expect(q.rank() == 2 && Arrays.equals(q.shape(), k.shape()), op, "q and k must both be [n][d]", all);
        expect(queue.rank() == 2 && queue.dim(1) == q.dim(1), op, "queue must be [kq][d] with the d of q", all);
        expect(saveLse.rank() == 1 && saveLse.dim(0) == q.dim(0), op, "saveLse must be [n]", all);
    }

    /** Temporary device memory the NT-Xent op allocates for z [2n][d] on {@code device} (the larger pass). */
    public static long ntxentScratchBytes(Device device, int n, int d) {
        long[] bytes = new long[1];
        check(QuarryNative.qy_ntxent_scratch_bytes(device.code(), n, d, bytes), "ntxent_scratch_bytes z=[2*" + n + ", " + d + "]");
        return bytes[0];
    }

    /** Temporary device memory the InfoNCE-with-queue op allocates on {@code device} (the larger pass). */
    public static long infoNceQueueScratchBytes(Device device, int n, long kq, int d) {
        long[] bytes = new long[1];
        check(QuarryNative.qy_infonce_queue_scratch_bytes(device.code(), n, kq, d, bytes),
                "infonce_queue_scratch_bytes q=[" + n + ", " + d + "] queue=[" + kq + ", " + d + "]");
        return bytes[0];
    }

    /** MoCo key-encoder update over flat parameters: thetaK = m * thetaK + (1 - m) * thetaQ, 0 <= m <= 1. */
    public static void momentumUpdate(Tensor thetaK, Tensor thetaQ, float m) {
        Device d = operands("momentum_update", thetaK, thetaQ);
        expect(thetaK.numel() == thetaQ.numel(), "momentum_update", "element counts differ", thetaK, thetaQ);
        call(QuarryNative.qy_momentum_update(d.code(), d.stream(), thetaK.address(), thetaQ.address(), thetaK.numel(), m), "momentum_update", thetaK, thetaQ);
    }

    /**
     * Writes keys [n][d] into rows (ptr + r) mod kq of queue [kq][d]; returns the advanced pointer (ptr + n) mod kq,
     * the caller's ring state.
     */
    public static long enqueue(Tensor queue, Tensor keys, long ptr) {
        Device d = operands("queue_enqueue", queue, keys);
        expect(queue.rank() == 2 && keys.rank() == 2 && keys.dim(1) == queue.dim(1), "queue_enqueue", "need queue [kq][d] and keys [n][d]", queue, keys);
        expect(keys.dim(0) <= queue.dim(0), "queue_enqueue", "more keys than queue rows", queue, keys);
        expect(ptr >= 0 && ptr < queue.dim(0), "queue_enqueue", "ring pointer " + ptr + " outside [0, " + queue.dim(0) + ")", queue, keys);
        call(QuarryNative.qy_queue_enqueue(d.code(), d.stream(), queue.address(), queue.dim(0), queue.dim(1), keys.address(), keys.dim(0), ptr),
                "queue_enqueue", queue, keys);
        return (ptr + keys.dim(0)) % queue.dim(0);
    }

    // ---- optimizers

    public static void sgdStep(Tensor param, Tensor grad, Tensor momentumBuf, float lr, float momentum, float dampening,
                               float weightDecay, boolean nesterov, boolean firstStep) {
        Tensor[] all = {param, grad, momentumBuf};
        Device d = momentumBuf == null ? operands("sgd_step", param, grad) : operands("sgd_step", all);
        expect(param.numel() == grad.numel() && (momentumBuf == null || momentumBuf.numel() == param.numel()), "sgd_step", "sizes differ", all);
        call(QuarryNative.qy_sgd_step(d.code(), d.stream(), param.address(), grad.address(), addr(momentumBuf), param.numel(), lr, momentum,
                dampening, weightDecay, nesterov ? 1 : 0, firstStep ? 1 : 0), "sgd_step", all);
    }

    public static void adamStep(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps,
                                float weightDecay, boolean decoupled, long step) {
        Tensor[] all = {param, grad, m, v};
        Device d = operands("adam_step", all);
        expect(param.numel() == grad.numel() && m.numel() == param.numel() && v.numel() == param.numel(), "adam_step", "sizes differ", all);
        call(QuarryNative.qy_adam_step(d.code(), d.stream(), param.address(), grad.address(), m.address(), v.address(), param.numel(), lr,
                beta1, beta2, eps, weightDecay, decoupled ? 1 : 0, step), "adam_step", all);
    }
}
