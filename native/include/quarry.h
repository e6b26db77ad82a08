/*
 * quarry.h: the C API of Quarry's native op library, the one contract between Java and native code.
 *
 * Every op is a stateless function over device memory with explicit shapes. The first two arguments of an op
 * are the backend (QY_DEV_CPU or QY_DEV_CUDA) and a stream (NULL = the default stream; ignored on the CPU).
 * Every function returns a status (QY_OK = 0); on failure qy_last_error() returns a one-line message for the
 * calling thread that names the op and the offending shapes.
 *
 * Layout contracts: float32; activations NHWC; conv weights [Cout][Kh][Kw][Cin]; linear weights [out][in].
 * Outputs are overwritten, never accumulated into, unless the op says otherwise.
 *
 * Randomness is Philox4x32-10 (Salmon et al. 2011), identical on both backends:
 *   dropout: key = seed, counter = {unit >> 2, k_lo, k_hi, layer & 0x3fffffff}, word = unit & 3,
 *            keep iff (word >> 8) * 2^-24 >= p. The mask is a function of (seed, layer, mask index k, unit)
 *            only, never of the data index: rows that share k share the mask (consistent MC dropout).
 *            Layers are numbered below 2^30 (the top two bits of that word mark the other streams).
 *   fills:   key = seed, counter = {(i >> 2) lo, (i >> 2) hi, stream, 0x80000000}, word w = i & 3 of the block.
 *            uniform: lo + (hi - lo) * u in float32, u = (w >> 8) * 2^-24.
 *            normal: words (0,1) give elements 4b, 4b+1 and words (2,3) give 4b+2, 4b+3 by Box-Muller in float64:
 *            u1 = ((w0 >> 8) + 1) * 2^-24, u2 = (w1 >> 8) * 2^-24, r = sqrt(-2 log u1), mean + std * r cos(2 pi u2)
 *            and mean + std * r sin(2 pi u2). (CPU and CUDA libm may differ by an ulp in rare elements.)
 *   joint sampling (acquisition): counter {row lo, point, step, 0x40000000 | row hi}; see qy_joint_sample.
 *   augmentation: counter {image index in the batch, step lo, step hi, 0xC0000000}, key = seed; see qy_crop_flip.
 *   SimCLR views: counter {image index, step lo, step hi, 0xE0000000 | view << 3 | block}; see qy_simclr_augment.
 */
#ifndef QUARRY_H
#define QUARRY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QY_DEV_CPU 0
#define QY_DEV_CUDA 1

#define QY_OK 0
#define QY_ERR_INVALID 1   /* bad argument: shape, null pointer, value out of range */
#define QY_ERR_NO_DEVICE 2 /* CUDA requested but not compiled in, or no usable GPU / driver */
#define QY_ERR_CUDA 3      /* a CUDA runtime call or kernel launch failed */
#define QY_ERR_OOM 4       /* allocation failed */

/* ---- runtime ------------------------------------------------------------------------------------------- */
const char* qy_version(void);
const char* qy_last_error(void);
int qy_cuda_compiled(void);
/* Number of usable CUDA devices; 0 with QY_ERR_NO_DEVICE and a reason in qy_last_error() when there are none. */
int qy_cuda_device_count(int* count);
int qy_cuda_device_info(int ordinal, char* name, int name_len, int64_t* total_bytes, int* cc_major,
                        int* cc_minor, int* driver_version, int* runtime_version);
int qy_cpu_threads(void);
/* The CPU GEMM provider: OpenBLAS's configuration string, or the built-in fallback's name. */
const char* qy_blas_info(void);

/* ---- memory and streams -------------------------------------------------------------------------------- */
int qy_malloc(int dev, int64_t bytes, void** out);
int qy_free(int dev, void* ptr);
/* Host <-> device copies are synchronous (the host buffer may be a pinned Java array). */
int qy_upload(int dev, void* stream, void* dst, const void* host_src, int64_t bytes);
int qy_download(int dev, void* stream, void* host_dst, const void* src, int64_t bytes);
int qy_copy(int dev, void* stream, void* dst, const void* src, int64_t bytes);
int qy_stream_create(int dev, void** out);
int qy_stream_destroy(int dev, void* stream);
int qy_stream_sync(int dev, void* stream);

/* ---- random numbers ------------------------------------------------------------------------------------ */
/* Host reference of one Philox4x32-10 block: out[4] from counter c[4] and key k[2]. */
void qy_philox4x32_10(const uint32_t* c, const uint32_t* k, uint32_t* out);
int qy_fill(int dev, void* stream, float* out, int64_t n, float value);
int qy_fill_uniform(int dev, void* stream, float* out, int64_t n, uint64_t seed, uint32_t stream_id, float lo,
                    float hi);
/* Box-Muller over word pairs (0,1) and (2,3) of each block, in float64, rounded to float32. CPU and CUDA agree within
   1 float32 ulp: their float64 log, sqrt, sin and cos may differ in the last bit, which can move the rounding. */
int qy_fill_normal(int dev, void* stream, float* out, int64_t n, uint64_t seed, uint32_t stream_id, float mean,
                   float std);

/* ---- elementwise ----------------------------------------------------------------------------------------- */
int qy_add(int dev, void* stream, const float* a, const float* b, float* y, int64_t n); /* y = a + b */
int qy_axpy(int dev, void* stream, float alpha, const float* x, float* y, int64_t n);   /* y += alpha * x */
/* y[b][a][c] = x[a][b][c] for x of shape [na][nb][nc] (the two leading axes swapped; y must not alias x). MC
 * inference runs the K dropout samples as one [K * n] batch and swaps it into the acquisition layout [n][K][C]. */
int qy_swap01(int dev, void* stream, const float* x, float* y, int64_t na, int64_t nb, int64_t nc);
/* Row-wise L2 normalisation of x [n][d]: y = x / max(||x||, 1e-12), invnorm[i] = 1 / max(||x_i||, 1e-12) (norms
 * accumulated in double). Backward from the forward's y and invnorm: dx = invnorm * (dy - y * <y, dy>) (MoCo's
 * query and key embeddings; the InfoNCE-with-queue op expects normalised inputs). */
int qy_l2norm_rows_fwd(int dev, void* stream, const float* x, float* y, float* invnorm, int64_t n, int64_t d);
int qy_l2norm_rows_bwd(int dev, void* stream, const float* y, const float* invnorm, const float* dy, float* dx, int64_t n, int64_t d);
int qy_relu_fwd(int dev, void* stream, const float* x, float* y, int64_t n);
int qy_relu_bwd(int dev, void* stream, const float* y, const float* dy, float* dx, int64_t n); /* dy * (y > 0) */

/* ---- conv2d: x [n][h][w][cin], w [cout][kh][kw][cin], y [n][ho][wo][cout], zero padding -------------------
 * ho = (h + 2*ph - kh) / sh + 1, wo = (w + 2*pw - kw) / sw + 1 (both must be >= 1). bias / dbias may be NULL. */
int qy_conv2d_fwd(int dev, void* stream, const float* x, const float* wt, const float* bias, float* y, int n,
                  int h, int w, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw);
int qy_conv2d_bwd_data(int dev, void* stream, const float* dy, const float* wt, float* dx, int n, int h, int w,
                       int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw);
int qy_conv2d_bwd_filter(int dev, void* stream, const float* x, const float* dy, float* dwt, float* dbias, int n,
                         int h, int w, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw);

/* ---- batch norm over x [m][c] (m = n*h*w for NHWC) -------------------------------------------------------
 * Training: batch statistics (biased variance) normalise; running stats move by momentum with the unbiased
 * variance (PyTorch semantics): r = (1 - momentum) * r + momentum * stat. save_* feed the backward pass. */
int qy_batchnorm_fwd_train(int dev, void* stream, const float* x, const float* gamma, const float* beta, float* y,
                           float* save_mean, float* save_invstd, float* running_mean, float* running_var,
                           int64_t m, int c, float momentum, float eps);
int qy_batchnorm_fwd_infer(int dev, void* stream, const float* x, const float* gamma, const float* beta,
                           const float* running_mean, const float* running_var, float* y, int64_t m, int c,
                           float eps);
int qy_batchnorm_bwd(int dev, void* stream, const float* x, const float* dy, const float* gamma,
                     const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta,
                     int64_t m, int c);

/* ---- pooling ------------------------------------------------------------------------------------------- */
/* 2x2 window, stride 2, floor: y [n][h/2][w/2][c]. Backward routes dy to the first maximum in row-major window
 * order and writes every element of dx. */
int qy_maxpool2x2_fwd(int dev, void* stream, const float* x, float* y, int n, int h, int w, int c);
int qy_maxpool2x2_bwd(int dev, void* stream, const float* x, const float* dy, float* dx, int n, int h, int w,
                      int c);
/* Global average pool: x [n][hw][c] -> y [n][c]. */
int qy_avgpool_global_fwd(int dev, void* stream, const float* x, float* y, int n, int hw, int c);
int qy_avgpool_global_bwd(int dev, void* stream, const float* dy, float* dx, int n, int hw, int c);

/* ---- linear: x [n][in], w [out][in], y [n][out] = x w^T + bias (bias / dbias may be NULL) ---------------- */
int qy_linear_fwd(int dev, void* stream, const float* x, const float* wt, const float* bias, float* y, int n,
                  int in, int out);
int qy_linear_bwd_data(int dev, void* stream, const float* dy, const float* wt, float* dx, int n, int in, int out);
int qy_linear_bwd_weight(int dev, void* stream, const float* x, const float* dy, float* dwt, float* dbias, int n,
                         int in, int out);

/* ---- dropout ------------------------------------------------------------------------------------------- *
 * x viewed as [rows][spatial][units]; row r uses mask index k = k0 + r / rows_per_sample; the mask of (k, unit)
 * is broadcast over spatial. Plain dropout: spatial = 1, units = features. Dropout2d on NHWC: spatial = h*w,
 * units = c. y = x * keep / (1 - p). The backward pass is the same op applied to dy. 0 <= p < 1. */
int qy_dropout(int dev, void* stream, const float* x, float* y, int64_t rows, int64_t spatial, int64_t units,
               float p, uint64_t seed, uint32_t layer, uint64_t k0, int64_t rows_per_sample);

/* ---- data augmentation ------------------------------------------------------------------------------------ *
 * Random crop with zero padding, then horizontal flip (torchvision's RandomCrop(padding=pad) followed by
 * RandomHorizontalFlip): x, y [n][h][w][c], not overlapping. Image i draws one Philox block r (counter above) and
 * takes dy = floor(r.x * (2 pad + 1) / 2^32) - pad, dx likewise from r.y (both in [-pad, pad], uniform up to a
 * bias below (2 pad + 1) / 2^32), and flips iff the top bit of r.z is set (probability exactly 1/2):
 *   y[i][a][b][ch] = x[i][a + dy][flip ? w - 1 - b + dx : b + dx][ch], or 0 where that pixel is outside x.
 * The choices depend on (seed, step, i) only, so a training step is reproducible. 0 <= pad <= min(h, w). */
int qy_crop_flip(int dev, void* stream, const float* x, float* y, int n, int h, int w, int c, int pad, uint64_t seed,
                 uint64_t step);

/* ---- SimCLR pretraining: augmented views and the LARS optimizer ------------------------------------------------ *
 * qy_simclr_augment: one augmented view of every image of x [n][h][w][c] (c = 1 or 3) into y (same shape, not
 * overlapping x). x is in normalised units; mean and std are HOST arrays of c floats (std > 0) with pixel = x * std +
 * mean in [0, 1]. The pipeline of SimCLR (Chen et al. 2020), in this fixed order:
 *   1. random resized crop: up to 10 attempts, attempt t takes s = scale_min + (1 - scale_min) u and
 *      ratio = exp(log ratio_min + (log ratio_max - log ratio_min) u') (float64), crop_w = rint(sqrt(h w s ratio)),
 *      crop_h = rint(sqrt(h w s / ratio)) (half to even, as Python's round); the first attempt with
 *      0 < crop_w <= w and 0 < crop_h <= h wins, top = floor(u'' (h - crop_h + 1)), left likewise. After 10 failures,
 *      torchvision's fallback: the central crop of the whole image clamped to the ratio range (the whole image when
 *      w / h is inside it). The crop is resized back to h x w by bilinear interpolation with half-pixel centres
 *      (PyTorch align_corners = false, negative source coordinates clamped to 0); the crop is never larger than the
 *      image, so this only magnifies and antialiasing does not arise.
 *   2. horizontal flip with probability flip_p.
 *   3. with probability jitter_p, colour jitter in pixel space, each step clamped to [0, 1]:
 *      brightness p *= fb; contrast p = fc p + (1 - fc) m, m = the mean over the image of gray(p) (of p itself when
 *      c = 1); saturation p = fs p + (1 - fs) gray(p); hue: torchvision's RGB -> HSV, h = (h + fh) mod 1, HSV -> RGB.
 *      fb, fc, fs are uniform in [max(0, 1 - strength), 1 + strength], fh uniform in [-hue, hue] (float64 draws
 *      rounded to float32).
 *   4. with probability gray_p, grayscale: every channel = gray(p).
 *   gray(p) = 0.299 r + 0.587 g + 0.114 b (ITU-R 601-2 luma). For c = 1, saturation, hue and grayscale are
 *   identities. Only a view that draws jitter, or grayscale with c = 3, goes to pixel space and back
 *   (y = (p - mean) / std);
 *   otherwise y is the resampled x itself, so with flip_p = jitter_p = gray_p = 0, scale_min = 1 and a square image
 *   (or ratio_min = ratio_max = w / h) the op is the identity bit for bit.
 * Randomness: key = seed, counter {image index in the batch, step lo, step hi, 0xE0000000 | view << 3 | b} for
 * blocks b = 0..7 (0 <= view < 2^26; the 0xC0000000 stream of qy_crop_flip has bit 29 clear). With u(word) =
 * word * 2^-32 and a Bernoulli(p) draw meaning u < p: block b <= 4 holds attempts 2b and 2b + 1 of the crop (words
 * 0, 1 give s and ratio of the first, words 2, 3 of the second); block 5: top, left (floor(word * span / 2^32)),
 * flip, jitter; block 6: fb, fc, fs, fh (drawn only when jitter is on); block 7 word 0: grayscale. The choices depend
 * on (seed, step, image, view) only: two views of one batch use view 0 and view 1. CPU and CUDA draw the same crops
 * (their float64 log and exp may differ by an ulp, which changes a crop size only when sqrt(...) falls within about
 * 1e-16 of a half-integer); the pixels agree to float32 rounding (about 1e-6 relative).
 * CIFAR defaults (SimCLR appendix B.9): scale_min 0.08, ratio 3/4 to 4/3, flip 0.5, jitter 0.8 with strengths
 * 0.4, 0.4, 0.4, 0.1, grayscale 0.2. Valid: 0 < scale_min <= 1, 0 < ratio_min <= ratio_max, probabilities in [0, 1],
 * strengths >= 0, hue <= 0.5; all finite. The struct is ten floats with no padding (Java passes a float[10]). */
typedef struct qy_simclr_params {
    float scale_min, ratio_min, ratio_max;
    float flip_p, jitter_p, brightness, contrast, saturation, hue, gray_p;
} qy_simclr_params;

int qy_simclr_augment(int dev, void* stream, const float* x, float* y, int n, int h, int w, int c, const float* mean,
                      const float* std, const qy_simclr_params* params, uint64_t seed, uint64_t step, uint32_t view);

/* qy_lars_step: one LARS step (You, Gitman, Ginsburg 2017) on one parameter tensor of n elements. With adapt != 0:
 * trust = eta ||param|| / (||grad|| + weight_decay ||param||), or 1 when either norm is 0, and weight decay applies;
 * with adapt = 0 (biases, batch-norm parameters): trust = 1 and no weight decay. Then
 *   v = momentum * v + lr * trust * (grad + wd * param);  param -= v.
 * momentum_buf is required (start it at zero). The norms are float64 sums of squares computed on the device in a
 * fixed order (repeatable bit for bit); the update is float32. SimCLR's code takes ||grad + wd param|| in the
 * denominator instead; this is the paper's form. lr, momentum, weight_decay >= 0, eta > 0, all finite. */
int qy_lars_step(int dev, void* stream, float* param, const float* grad, float* momentum_buf, int64_t n, float lr,
                 float momentum, float weight_decay, float eta, int adapt);

/* ---- log-softmax and negative log-likelihood --------------------------------------------------------------- */
int qy_log_softmax_fwd(int dev, void* stream, const float* x, float* y, int n, int c);
int qy_log_softmax_bwd(int dev, void* stream, const float* y, const float* dy, float* dx, int n, int c);
/* loss[0] = mean_i -((1 - s) * logp[i][label_i] + (s / c) * sum_j logp[i][j]); s = label smoothing.
 * A label outside [0, c) makes the loss NaN. */
int qy_nll_fwd(int dev, void* stream, const float* logp, const int32_t* labels, float* loss, int n, int c,
               float smoothing);
/* dlogp = scale * d(loss)/d(logp). */
int qy_nll_bwd(int dev, void* stream, const int32_t* labels, float* dlogp, int n, int c, float smoothing,
               float scale);

/* ---- optimizers (PyTorch semantics) ---------------------------------------------------------------------- *
 * SGD: g = grad + wd * p; if momentum > 0 { buf = first ? g : momentum * buf + (1 - dampening) * g; g = nesterov ?
 * g + momentum * buf : buf }; p -= lr * g. Dampening is ignored without momentum; momentum_buf may then be NULL.
 * Adam: decoupled (AdamW) ? p *= 1 - lr * wd : g = grad + wd * p; m, v moments; step t >= 1 for bias correction. */
int qy_sgd_step(int dev, void* stream, float* param, const float* grad, float* momentum_buf, int64_t n, float lr,
                float momentum, float dampening, float weight_decay, int nesterov, int first_step);
int qy_adam_step(int dev, void* stream, float* param, const float* grad, float* m, float* v, int64_t n, float lr,
                 float beta1, float beta2, float eps, float weight_decay, int decoupled, int64_t step);

/* ---- acquisition ------------------------------------------------------------------------------------------- *
 * Input: log-softmax MC outputs logp [n][k][c] (k MC samples, c classes), float32 (QY_F32) or float64 (QY_F64);
 * -inf is a legal log-probability (p = 0). All math is float64; 0 log 0 = 0. Formulas: docs/acquisition.md.
 * Every score is oriented so that higher means "pick first". */
#define QY_F32 0
#define QY_F64 1

#define QY_SCORE_ENTROPY 0           /* H[p_mean] */
#define QY_SCORE_BALD 1              /* H[p_mean] - (1/K) sum_k H[p_k] */
#define QY_SCORE_LEAST_CONFIDENCE 2  /* 1 - max_c p_mean */
#define QY_SCORE_MARGIN 3            /* p_mean(2nd) - p_mean(1st); the 2nd is 0 when c = 1 */
#define QY_SCORE_VARIATION_RATIOS 4  /* 1 - f_mode / K over per-sample argmax (ties: lowest class) */
#define QY_SCORE_MEAN_STD 5          /* (1/C) sum_c population std_k p[k][c] */
#define QY_SCORE_COND_ENTROPY 6      /* (1/K) sum_k H[p_k] (BatchBALD's per-point term) */

int qy_acq_score(int dev, void* stream, const void* logp, int dtype, int64_t n, int k, int c, int kind,
                 double* scores);
/* probs = exp(logp) as float64, count elements. */
int qy_logp_to_probs(int dev, void* stream, const void* logp, int dtype, int64_t count, double* probs);
/* Exact joint update (row-wise Kronecker product): p_new[i*c + j][kk] = p[i][kk] * probs_a[kk][j], p is m x k. */
int qy_joint_extend(int dev, void* stream, const double* p, int64_t m, const double* probs_a, int k, int c,
                    double* p_new);
/* Importance-sampled configurations of the a chosen points (probs_chosen [a][k][c]): for each MC sample kk and
 * s draws, one configuration y_i ~ Cat(probs_chosen[i][kk][:]) for every i; row r = kk * s + j of p (m = k * s
 * rows, k columns) is p[r][k'] = prod_i probs_chosen[i][k'][y_i], and w[r] = 1 / (m * q_r), q_r = mean_k' p[r][k']
 * (w[r] = 0 when q_r = 0: a row of probability 0 contributes nothing).
 * Philox key = seed, counter {r lo, i, step, 0x40000000 | (r hi & 0x3fffffff)}; u = 53-bit uniform from words 0 and 1
 * (philox.h uniform01_f64); y_i = the first class j with u < cumulative sum of probs_chosen[i][kk][0..j], else c-1. */
int qy_joint_sample(int dev, void* stream, const double* probs_chosen, int a, int k, int c, int64_t s,
                    uint64_t seed, uint32_t step, double* p, double* w);
/* Joint entropy of the chosen set plus each candidate x < n (probs [n][k][c]):
 * out[x] = -sum_r w[r] sum_j J[r][j] log J[r][j], J[r][j] = (1/K) sum_kk p[r][kk] probs[x][kk][j];
 * w == NULL means all ones (exact enumeration). On CUDA the GEMM and the reduction are one kernel: J never
 * reaches memory. */
int qy_joint_entropy(int dev, void* stream, const double* p, const double* w, int64_t m, const double* probs,
                     int64_t n, int k, int c, double* out);

/* ---- contrastive losses (self-supervised pretraining) ------------------------------------------------------ *
 * NT-Xent (SimCLR): z [2n][d] holds two views of n images; rows i and i + n are a positive pair. Rows are normalised
 * inside the op, u_i = z_i / max(|z_i|, 1e-12) (torch.nn.functional.normalize), s_ij = u_i . u_j / tau, and
 *   loss[0] = (1 / 2n) sum_i (lse_i - s_{i,p(i)}),  lse_i = log sum_{j != i} exp(s_ij),  p(i) = (i + n) mod 2n.
 * Forward writes loss[0] and saves save_lse [2n] and save_invnorm [2n] (1 / max(|z_i|, 1e-12)) for the backward pass,
 * which recomputes the similarities: dz = scale * dloss/dz (scale = the gradient flowing into loss[0]). Neither pass
 * materialises the 2n x 2n similarity matrix: the CUDA kernels stream over column tiles with an online log-sum-exp,
 * the CPU twin works on row x column blocks. Needs n >= 2 (with one pair the loss is identically 0), d >= 1 and a
 * positive, finite tau whose reciprocal is finite. */
int qy_ntxent_fwd(int dev, void* stream, const float* z, float* loss, float* save_lse, float* save_invnorm, int n,
                  int d, float tau);
int qy_ntxent_bwd(int dev, void* stream, const float* z, const float* save_lse, const float* save_invnorm, float* dz,
                  int n, int d, float tau, float scale);

/* InfoNCE with a queue of negatives (MoCo v1/v2): queries q [n][d], their positive keys k [n][d], negatives queue
 * [kq][d] (every row is used: MoCo fills the queue with random unit vectors before the first keys arrive). The op
 * does NOT normalise: q, k and the queue are expected to be L2-normalised already (MoCo normalises both encoders'
 * outputs), and the logits are plain dot products over tau:
 *   l_pos_i = q_i . k_i / tau,  l_neg_ij = q_i . queue_j / tau,  lse_i = log(exp(l_pos_i) + sum_j exp(l_neg_ij)),
 *   loss[0] = (1 / n) sum_i (lse_i - l_pos_i)   (cross-entropy with the positive as class 0).
 * Forward saves save_lse [n]; backward gives dq = scale * dloss/dq only (keys and queue get no gradient). The CUDA
 * kernels stream over the queue with an online log-sum-exp and never hold the n x kq logits. */
int qy_infonce_queue_fwd(int dev, void* stream, const float* q, const float* k, const float* queue, float* loss,
                         float* save_lse, int n, int64_t kq, int d, float tau);
int qy_infonce_queue_bwd(int dev, void* stream, const float* q, const float* k, const float* queue,
                         const float* save_lse, float* dq, int n, int64_t kq, int d, float tau, float scale);
/* Temporary device memory (bytes) the op allocates internally on backend dev, the larger of its two passes; the
 * caller's buffers (inputs, outputs, saves) are not counted. */
int qy_ntxent_scratch_bytes(int dev, int n, int d, int64_t* bytes);
int qy_infonce_queue_scratch_bytes(int dev, int n, int64_t kq, int d, int64_t* bytes);

/* MoCo's key encoder update over one flat parameter buffer: theta_k = m * theta_k + (1 - m) * theta_q, 0 <= m <= 1,
 * evaluated as two float32 products and one float32 sum (no fused multiply-add), bitwise identical on both backends. */
int qy_momentum_update(int dev, void* stream, float* theta_k, const float* theta_q, int64_t count, float m);
/* Ring-buffer enqueue: keys [n][d] go to rows (ptr + r) mod kq of queue [kq][d], wrapping around; 0 <= ptr < kq and
 * 1 <= n <= kq. The pointer is the caller's state: advance it to (ptr + n) mod kq. */
int qy_queue_enqueue(int dev, void* stream, float* queue, int64_t kq, int d, const float* keys, int n, int64_t ptr);

#ifdef __cplusplus
}
#endif
#endif
