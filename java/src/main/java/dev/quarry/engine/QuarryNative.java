package dev.quarry.engine;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Platform;
import org.bytedeco.javacpp.annotation.Properties;

/**
 * JavaCPP binding of native/include/quarry.h, one method per C function and nothing else. Device pointers and
 * streams travel as {@code long} addresses; only {@link Tensor}, {@link Device} and {@link Ops} call this class.
 */
@Properties(value = @Platform(include = "quarry.h", link = "quarry"))
public final class QuarryNative {
    static {
        // OpenBLAS's idle workers spin for 2^28 cycles (about 0.1 s) after each GEMM before they sleep, and between
        // two GEMMs of a layer stack that is when im2col, dropout and pooling run: the spinner takes the core their
        // OpenMP worker needs (about a sixth of all CPU samples of ConvNet MC inference on 2 cores). 2^4 cycles
        // makes them sleep at once: bench mc and bench train of the ConvNet 1.2-1.4x faster on 2 shared cores (3
        // back-to-back pairs each). OpenBLAS reads this once, as it loads (next line); a user's own setting wins.
        QuarryEnv.setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);
        // libquarry.so needs libopenblas.so.0: load the preset's copy first so the dynamic linker finds it by SONAME.
        OpenBlasLibs.load();
        // Idle OpenMP workers spin by default and take the cores OpenBLAS's own threads need right after a
        // parallel loop: passive waiting made the ConvNet training step 2.3x faster on 2 cores (bench train,
        // 611 -> 1428 images/s). libgomp reads this once, as libquarry loads it; a user's own setting wins.
        QuarryEnv.setenv("OMP_WAIT_POLICY", "passive", 0);
        Loader.load();
    }

    private QuarryNative() {}

    public static final int QY_DEV_CPU = 0, QY_DEV_CUDA = 1;
    public static final int QY_OK = 0, QY_ERR_INVALID = 1, QY_ERR_NO_DEVICE = 2, QY_ERR_CUDA = 3, QY_ERR_OOM = 4;

    // ---- runtime
    public static native @Cast("const char*") String qy_version();
    public static native @Cast("const char*") String qy_last_error();
    public static native int qy_cuda_compiled();
    public static native int qy_cuda_device_count(int[] count);
    public static native int qy_cuda_device_info(int ordinal, @Cast("char*") byte[] name, int nameLen,
            @Cast("int64_t*") long[] totalBytes, int[] ccMajor, int[] ccMinor, int[] driverVersion, int[] runtimeVersion);
    public static native int qy_cpu_threads();
    public static native @Cast("const char*") String qy_blas_info();

    // ---- memory and streams
    public static native int qy_malloc(int dev, long bytes, @Cast("void**") long[] out);
    public static native int qy_free(int dev, @Cast("void*") long ptr);
    public static native int qy_upload(int dev, @Cast("void*") long stream, @Cast("void*") long dst, @Cast("const void*") float[] src, long bytes);
    public static native int qy_upload(int dev, @Cast("void*") long stream, @Cast("void*") long dst, @Cast("const void*") int[] src, long bytes);
    public static native int qy_upload(int dev, @Cast("void*") long stream, @Cast("void*") long dst, @Cast("const void*") double[] src, long bytes);
    public static native int qy_upload(int dev, @Cast("void*") long stream, @Cast("void*") long dst, @Cast("const void*") long[] src, long bytes);
    public static native int qy_upload(int dev, @Cast("void*") long stream, @Cast("void*") long dst, @Cast("const void*") long hostSrc, long bytes);
    public static native int qy_download(int dev, @Cast("void*") long stream, @Cast("void*") float[] dst, @Cast("const void*") long src, long bytes);
    public static native int qy_download(int dev, @Cast("void*") long stream, @Cast("void*") int[] dst, @Cast("const void*") long src, long bytes);
    public static native int qy_download(int dev, @Cast("void*") long stream, @Cast("void*") double[] dst, @Cast("const void*") long src, long bytes);
    public static native int qy_download(int dev, @Cast("void*") long stream, @Cast("void*") long[] dst, @Cast("const void*") long src, long bytes);
    public static native int qy_download(int dev, @Cast("void*") long stream, @Cast("void*") long hostDst, @Cast("const void*") long src, long bytes);
    public static native int qy_copy(int dev, @Cast("void*") long stream, @Cast("void*") long dst, @Cast("const void*") long src, long bytes);
    public static native int qy_stream_create(int dev, @Cast("void**") long[] out);
    public static native int qy_stream_destroy(int dev, @Cast("void*") long stream);
    public static native int qy_stream_sync(int dev, @Cast("void*") long stream);

    // ---- random numbers
    public static native void qy_philox4x32_10(@Cast("const uint32_t*") int[] counter, @Cast("const uint32_t*") int[] key, @Cast("uint32_t*") int[] out);
    public static native int qy_fill(int dev, @Cast("void*") long stream, @Cast("float*") long out, long n, float value);
    public static native int qy_fill_uniform(int dev, @Cast("void*") long stream, @Cast("float*") long out, long n, @Cast("uint64_t") long seed, @Cast("uint32_t") int streamId, float lo, float hi);
    public static native int qy_fill_normal(int dev, @Cast("void*") long stream, @Cast("float*") long out, long n, @Cast("uint64_t") long seed, @Cast("uint32_t") int streamId, float mean, float std);

    // ---- elementwise
    public static native int qy_add(int dev, @Cast("void*") long stream, @Cast("const float*") long a, @Cast("const float*") long b, @Cast("float*") long y, long n);
    public static native int qy_axpy(int dev, @Cast("void*") long stream, float alpha, @Cast("const float*") long x, @Cast("float*") long y, long n);
    public static native int qy_l2norm_rows_fwd(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("float*") long y, @Cast("float*") long invnorm, long n, long d);
    public static native int qy_l2norm_rows_bwd(int dev, @Cast("void*") long stream, @Cast("const float*") long y, @Cast("const float*") long invnorm, @Cast("const float*") long dy, @Cast("float*") long dx, long n, long d);
    public static native int qy_swap01(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("float*") long y, long na, long nb, long nc);
    public static native int qy_relu_fwd(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("float*") long y, long n);
    public static native int qy_relu_bwd(int dev, @Cast("void*") long stream, @Cast("const float*") long y, @Cast("const float*") long dy, @Cast("float*") long dx, long n);

    // ---- conv2d
    public static native int qy_conv2d_fwd(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("const float*") long w, @Cast("const float*") long bias, @Cast("float*") long y,
            int n, int h, int wd, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw);
    public static native int qy_conv2d_bwd_data(int dev, @Cast("void*") long stream, @Cast("const float*") long dy, @Cast("const float*") long w, @Cast("float*") long dx,
            int n, int h, int wd, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw);
    public static native int qy_conv2d_bwd_filter(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("const float*") long dy, @Cast("float*") long dw, @Cast("float*") long dbias,
            int n, int h, int wd, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw);

    // ---- batch norm
    public static native int qy_batchnorm_fwd_train(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("const float*") long gamma, @Cast("const float*") long beta, @Cast("float*") long y,
            @Cast("float*") long saveMean, @Cast("float*") long saveInvstd, @Cast("float*") long runningMean, @Cast("float*") long runningVar, long m, int c, float momentum, float eps);
    public static native int qy_batchnorm_fwd_infer(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("const float*") long gamma, @Cast("const float*") long beta,
            @Cast("const float*") long runningMean, @Cast("const float*") long runningVar, @Cast("float*") long y, long m, int c, float eps);
    public static native int qy_batchnorm_bwd(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("const float*") long dy, @Cast("const float*") long gamma,
            @Cast("const float*") long saveMean, @Cast("const float*") long saveInvstd, @Cast("float*") long dx, @Cast("float*") long dgamma, @Cast("float*") long dbeta, long m, int c);

    // ---- pooling
    public static native int qy_maxpool2x2_fwd(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("float*") long y, int n, int h, int w, int c);
    public static native int qy_maxpool2x2_bwd(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("const float*") long dy, @Cast("float*") long dx, int n, int h, int w, int c);
    public static native int qy_avgpool_global_fwd(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("float*") long y, int n, int hw, int c);
    public static native int qy_avgpool_global_bwd(int dev, @Cast("void*") long stream, @Cast("const float*") long dy, @Cast("float*") long dx, int n, int hw, int c);

    // ---- linear
    public static native int qy_linear_fwd(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("const float*") long w, @Cast("const float*") long bias, @Cast("float*") long y, int n, int in, int out);
    public static native int qy_linear_bwd_data(int dev, @Cast("void*") long stream, @Cast("const float*") long dy, @Cast("const float*") long w, @Cast("float*") long dx, int n, int in, int out);
    public static native int qy_linear_bwd_weight(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("const float*") long dy, @Cast("float*") long dw, @Cast("float*") long dbias, int n, int in, int out);

    // ---- dropout
    public static native int qy_dropout(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("float*") long y, long rows, long spatial, long units, float p,
            @Cast("uint64_t") long seed, @Cast("uint32_t") int layer, @Cast("uint64_t") long k0, long rowsPerSample);

    // ---- data augmentation
    public static native int qy_crop_flip(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("float*") long y, int n, int h, int w, int c, int pad,
            @Cast("uint64_t") long seed, @Cast("uint64_t") long step);

    // ---- SimCLR pretraining: augmented views and LARS (mean, std: c floats; params: qy_simclr_params as float[10])
    public static native int qy_simclr_augment(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("float*") long y, int n, int h, int w, int c,
            @Cast("const float*") float[] mean, @Cast("const float*") float[] std, @Cast("const qy_simclr_params*") float[] params,
            @Cast("uint64_t") long seed, @Cast("uint64_t") long step, @Cast("uint32_t") int view);
    public static native int qy_lars_step(int dev, @Cast("void*") long stream, @Cast("float*") long param, @Cast("const float*") long grad, @Cast("float*") long momentumBuf, long n,
            float lr, float momentum, float weightDecay, float eta, int adapt);

    // ---- log-softmax and NLL
    public static native int qy_log_softmax_fwd(int dev, @Cast("void*") long stream, @Cast("const float*") long x, @Cast("float*") long y, int n, int c);
    public static native int qy_log_softmax_bwd(int dev, @Cast("void*") long stream, @Cast("const float*") long y, @Cast("const float*") long dy, @Cast("float*") long dx, int n, int c);
    public static native int qy_nll_fwd(int dev, @Cast("void*") long stream, @Cast("const float*") long logp, @Cast("const int32_t*") long labels, @Cast("float*") long loss, int n, int c, float smoothing);
    public static native int qy_nll_bwd(int dev, @Cast("void*") long stream, @Cast("const int32_t*") long labels, @Cast("float*") long dlogp, int n, int c, float smoothing, float scale);

    // ---- acquisition
    public static final int QY_F32 = 0, QY_F64 = 1;
    public static final int QY_SCORE_ENTROPY = 0, QY_SCORE_BALD = 1, QY_SCORE_LEAST_CONFIDENCE = 2, QY_SCORE_MARGIN = 3,
            QY_SCORE_VARIATION_RATIOS = 4, QY_SCORE_MEAN_STD = 5, QY_SCORE_COND_ENTROPY = 6;
    public static native int qy_acq_score(int dev, @Cast("void*") long stream, @Cast("const void*") long logp, int dtype, long n, int k, int c, int kind, @Cast("double*") long scores);
    public static native int qy_logp_to_probs(int dev, @Cast("void*") long stream, @Cast("const void*") long logp, int dtype, long count, @Cast("double*") long probs);
    public static native int qy_joint_extend(int dev, @Cast("void*") long stream, @Cast("const double*") long p, long m, @Cast("const double*") long probsA, int k, int c, @Cast("double*") long pNew);
    public static native int qy_joint_sample(int dev, @Cast("void*") long stream, @Cast("const double*") long probsChosen, int a, int k, int c, long s,
            @Cast("uint64_t") long seed, @Cast("uint32_t") int step, @Cast("double*") long p, @Cast("double*") long w);
    public static native int qy_joint_entropy(int dev, @Cast("void*") long stream, @Cast("const double*") long p, @Cast("const double*") long w, long m,
            @Cast("const double*") long probs, long n, int k, int c, @Cast("double*") long out);

    // ---- contrastive losses
    public static native int qy_ntxent_fwd(int dev, @Cast("void*") long stream, @Cast("const float*") long z, @Cast("float*") long loss, @Cast("float*") long saveLse,
            @Cast("float*") long saveInvnorm, int n, int d, float tau);
    public static native int qy_ntxent_bwd(int dev, @Cast("void*") long stream, @Cast("const float*") long z, @Cast("const float*") long saveLse,
            @Cast("const float*") long saveInvnorm, @Cast("float*") long dz, int n, int d, float tau, float scale);
    public static native int qy_infonce_queue_fwd(int dev, @Cast("void*") long stream, @Cast("const float*") long q, @Cast("const float*") long k,
            @Cast("const float*") long queue, @Cast("float*") long loss, @Cast("float*") long saveLse, int n, long kq, int d, float tau);
    public static native int qy_infonce_queue_bwd(int dev, @Cast("void*") long stream, @Cast("const float*") long q, @Cast("const float*") long k,
            @Cast("const float*") long queue, @Cast("const float*") long saveLse, @Cast("float*") long dq, int n, long kq, int d, float tau, float scale);
    public static native int qy_ntxent_scratch_bytes(int dev, int n, int d, @Cast("int64_t*") long[] bytes);
    public static native int qy_infonce_queue_scratch_bytes(int dev, int n, long kq, int d, @Cast("int64_t*") long[] bytes);
    public static native int qy_momentum_update(int dev, @Cast("void*") long stream, @Cast("float*") long thetaK, @Cast("const float*") long thetaQ, long count, float m);
    public static native int qy_queue_enqueue(int dev, @Cast("void*") long stream, @Cast("float*") long queue, long kq, int d, @Cast("const float*") long keys, int n, long ptr);

    // ---- optimizers
    public static native int qy_sgd_step(int dev, @Cast("void*") long stream, @Cast("float*") long param, @Cast("const float*") long grad, @Cast("float*") long momentumBuf, long n,
            float lr, float momentum, float dampening, float weightDecay, int nesterov, int firstStep);
    public static native int qy_adam_step(int dev, @Cast("void*") long stream, @Cast("float*") long param, @Cast("const float*") long grad, @Cast("float*") long m, @Cast("float*") long v, long n,
            float lr, float beta1, float beta2, float eps, float weightDecay, int decoupled, long step);
}
