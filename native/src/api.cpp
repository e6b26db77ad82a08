// The public C API: argument checks shared by both backends, then dispatch to cpu_<op> or cuda_<op>.
#include <omp.h>

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "backend.h"
#include "quarry.h"

#ifndef QUARRY_VERSION
#define QUARRY_VERSION "0.0.0"
#endif

namespace {
thread_local char g_error[1024] = "";

bool valid_dev(int dev) {
#ifdef QUARRY_WITH_CUDA
    return dev == QY_DEV_CPU || dev == QY_DEV_CUDA;
#else
    return dev == QY_DEV_CPU;
#endif
}

#ifdef QUARRY_WITH_CUDA
// Whether a GPU answers, probed once per process; the reason when none does.
struct CudaState {
    bool ready = false;
    char reason[1024] = "";
};

const CudaState& cuda_state() {
    static const CudaState state = [] {
        CudaState s;
        int count = 0;
        s.ready = cuda_device_count(&count) == QY_OK && count > 0;
        if (!s.ready) snprintf(s.reason, sizeof s.reason, "%s", g_error);
        return s;
    }();
    return state;
}
#endif
}  // namespace

int qy_set_error(int code, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_error, sizeof g_error, fmt, ap);
    va_end(ap);
    return code;
}

#define FAIL(...) return qy_set_error(QY_ERR_INVALID, __VA_ARGS__)
#ifdef QUARRY_WITH_CUDA
#define CHECK_CUDA_READY(op)                                                                                \
    if (dev == QY_DEV_CUDA && !cuda_state().ready)                                                          \
        return qy_set_error(QY_ERR_NO_DEVICE, "%s: no usable CUDA device: %s", op, cuda_state().reason);
#else
#define CHECK_CUDA_READY(op)
#endif
#define CHECK_DEV(op)                                                                                        \
    do {                                                                                                    \
        if (!valid_dev(dev))                                                                                \
            return qy_set_error(dev == QY_DEV_CUDA ? QY_ERR_NO_DEVICE : QY_ERR_INVALID,                     \
                                dev == QY_DEV_CUDA ? "%s: this build of Quarry has no CUDA backend"          \
                                                   : "%s: unknown device %d",                               \
                                op, dev);                                                                   \
        CHECK_CUDA_READY(op)                                                                                \
    } while (0)
#define NONNULL(op, p)                                   \
    do {                                                 \
        if ((p) == nullptr) FAIL("%s: %s is null", op, #p); \
    } while (0)
#define POSITIVE(op, v)                                                          \
    do {                                                                         \
        if ((v) <= 0) FAIL("%s: %s must be positive, got %lld", op, #v, (long long)(v)); \
    } while (0)

#ifdef QUARRY_WITH_CUDA
#define DISPATCH(name, ...) \
    (dev == QY_DEV_CUDA ? cuda_##name(stream, __VA_ARGS__) : cpu_##name(stream, __VA_ARGS__))
#else
#define DISPATCH(name, ...) cpu_##name(stream, __VA_ARGS__)
#endif

extern "C" {

const char* qy_version(void) { return QUARRY_VERSION; }
const char* qy_last_error(void) { return g_error; }

int qy_cuda_compiled(void) {
#ifdef QUARRY_WITH_CUDA
    return 1;
#else
    return 0;
#endif
}

int qy_cuda_device_count(int* count) {
    if (count == nullptr) FAIL("qy_cuda_device_count: count is null");
    *count = 0;
#ifdef QUARRY_WITH_CUDA
    return cuda_device_count(count);
#else
    return qy_set_error(QY_ERR_NO_DEVICE, "this build of Quarry has no CUDA backend (nvcc was not found, or QUARRY_CUDA=OFF)");
#endif
}

int qy_cuda_device_info(int ordinal, char* name, int name_len, int64_t* total_bytes, int* cc_major, int* cc_minor,
                        int* driver_version, int* runtime_version) {
    if (!name || name_len <= 0 || !total_bytes || !cc_major || !cc_minor || !driver_version || !runtime_version)
        FAIL("qy_cuda_device_info: null output argument");
#ifdef QUARRY_WITH_CUDA
    return cuda_device_info(ordinal, name, name_len, total_bytes, cc_major, cc_minor, driver_version,
                            runtime_version);
#else
    (void)ordinal;
    return qy_set_error(QY_ERR_NO_DEVICE, "this build of Quarry has no CUDA backend (nvcc was not found, or QUARRY_CUDA=OFF)");
#endif
}

int qy_cpu_threads(void) { return omp_get_max_threads(); }

// ---- memory --------------------------------------------------------------------------------------------------

int qy_malloc(int dev, int64_t bytes, void** out) {
    CHECK_DEV("qy_malloc");
    NONNULL("qy_malloc", out);
    *out = nullptr;
    if (bytes < 0) FAIL("qy_malloc: negative size %lld", (long long)bytes);
    if (bytes == 0) return QY_OK;
#ifdef QUARRY_WITH_CUDA
    if (dev == QY_DEV_CUDA) return cuda_malloc(bytes, out);
#endif
    size_t rounded = ((size_t)bytes + 63) & ~(size_t)63;
    *out = std::aligned_alloc(64, rounded);
    if (*out == nullptr)
        return qy_set_error(QY_ERR_OOM, "qy_malloc: out of host memory allocating %lld bytes", (long long)bytes);
    return QY_OK;
}

int qy_free(int dev, void* ptr) {
    CHECK_DEV("qy_free");
    if (ptr == nullptr) return QY_OK;
#ifdef QUARRY_WITH_CUDA
    if (dev == QY_DEV_CUDA) return cuda_free(ptr);
#endif
    std::free(ptr);
    return QY_OK;
}

#define COPY_ARGS(op)                                              \
    CHECK_DEV(op);                                                 \
    if (bytes < 0) FAIL("%s: negative size %lld", op, (long long)bytes); \
    if (bytes == 0) return QY_OK;                                  \
    NONNULL(op, dst);                                              \
    NONNULL(op, src);

int qy_upload(int dev, void* stream, void* dst, const void* src, int64_t bytes) {
    COPY_ARGS("qy_upload");
#ifdef QUARRY_WITH_CUDA
    if (dev == QY_DEV_CUDA) return cuda_upload(stream, dst, src, bytes);
#endif
    (void)stream;
    std::memcpy(dst, src, (size_t)bytes);
    return QY_OK;
}

int qy_download(int dev, void* stream, void* dst, const void* src, int64_t bytes) {
    COPY_ARGS("qy_download");
#ifdef QUARRY_WITH_CUDA
    if (dev == QY_DEV_CUDA) return cuda_download(stream, dst, src, bytes);
#endif
    (void)stream;
    std::memcpy(dst, src, (size_t)bytes);
    return QY_OK;
}

int qy_copy(int dev, void* stream, void* dst, const void* src, int64_t bytes) {
    COPY_ARGS("qy_copy");
#ifdef QUARRY_WITH_CUDA
    if (dev == QY_DEV_CUDA) return cuda_copy(stream, dst, src, bytes);
#endif
    (void)stream;
    std::memmove(dst, src, (size_t)bytes);
    return QY_OK;
}

int qy_stream_create(int dev, void** out) {
    CHECK_DEV("qy_stream_create");
    NONNULL("qy_stream_create", out);
    *out = nullptr;
#ifdef QUARRY_WITH_CUDA
    if (dev == QY_DEV_CUDA) return cuda_stream_create(out);
#endif
    return QY_OK;
}

int qy_stream_destroy(int dev, void* stream) {
    CHECK_DEV("qy_stream_destroy");
#ifdef QUARRY_WITH_CUDA
    if (dev == QY_DEV_CUDA && stream != nullptr) return cuda_stream_destroy(stream);
#endif
    (void)stream;
    return QY_OK;
}

int qy_stream_sync(int dev, void* stream) {
    CHECK_DEV("qy_stream_sync");
#ifdef QUARRY_WITH_CUDA
    if (dev == QY_DEV_CUDA) return cuda_stream_sync(stream);
#endif
    (void)stream;
    return QY_OK;
}

// ---- random numbers ------------------------------------------------------------------------------------------

int qy_fill(int dev, void* stream, float* out, int64_t n, float value) {
    CHECK_DEV("qy_fill");
    POSITIVE("qy_fill", n);
    NONNULL("qy_fill", out);
    return DISPATCH(fill, out, n, value);
}

int qy_fill_uniform(int dev, void* stream, float* out, int64_t n, uint64_t seed, uint32_t stream_id, float lo,
                    float hi) {
    CHECK_DEV("qy_fill_uniform");
    POSITIVE("qy_fill_uniform", n);
    NONNULL("qy_fill_uniform", out);
    if (!(lo <= hi)) FAIL("qy_fill_uniform: need lo <= hi, got [%g, %g)", lo, hi);
    return DISPATCH(fill_uniform, out, n, seed, stream_id, lo, hi);
}

int qy_fill_normal(int dev, void* stream, float* out, int64_t n, uint64_t seed, uint32_t stream_id, float mean,
                   float std) {
    CHECK_DEV("qy_fill_normal");
    POSITIVE("qy_fill_normal", n);
    NONNULL("qy_fill_normal", out);
    if (!(std >= 0)) FAIL("qy_fill_normal: std must be >= 0, got %g", std);
    return DISPATCH(fill_normal, out, n, seed, stream_id, mean, std);
}

// ---- elementwise ---------------------------------------------------------------------------------------------

int qy_add(int dev, void* stream, const float* a, const float* b, float* y, int64_t n) {
    CHECK_DEV("qy_add");
    POSITIVE("qy_add", n);
    NONNULL("qy_add", a);
    NONNULL("qy_add", b);
    NONNULL("qy_add", y);
    return DISPATCH(add, a, b, y, n);
}

int qy_axpy(int dev, void* stream, float alpha, const float* x, float* y, int64_t n) {
    CHECK_DEV("qy_axpy");
    POSITIVE("qy_axpy", n);
    NONNULL("qy_axpy", x);
    NONNULL("qy_axpy", y);
    return DISPATCH(axpy, alpha, x, y, n);
}

int qy_swap01(int dev, void* stream, const float* x, float* y, int64_t na, int64_t nb, int64_t nc) {
    CHECK_DEV("qy_swap01");
    POSITIVE("qy_swap01", na);
    POSITIVE("qy_swap01", nb);
    POSITIVE("qy_swap01", nc);
    NONNULL("qy_swap01", x);
    NONNULL("qy_swap01", y);
    if (x == y) FAIL("qy_swap01: x and y must be different buffers");
    return DISPATCH(swap01, x, y, na, nb, nc);
}

int qy_l2norm_rows_fwd(int dev, void* stream, const float* x, float* y, float* invnorm, int64_t n, int64_t d) {
    CHECK_DEV("qy_l2norm_rows_fwd");
    POSITIVE("qy_l2norm_rows_fwd", n);
    POSITIVE("qy_l2norm_rows_fwd", d);
    NONNULL("qy_l2norm_rows_fwd", x);
    NONNULL("qy_l2norm_rows_fwd", y);
    NONNULL("qy_l2norm_rows_fwd", invnorm);
    return DISPATCH(l2norm_rows_fwd, x, y, invnorm, n, d);
}

int qy_l2norm_rows_bwd(int dev, void* stream, const float* y, const float* invnorm, const float* dy, float* dx, int64_t n, int64_t d) {
    CHECK_DEV("qy_l2norm_rows_bwd");
    POSITIVE("qy_l2norm_rows_bwd", n);
    POSITIVE("qy_l2norm_rows_bwd", d);
    NONNULL("qy_l2norm_rows_bwd", y);
    NONNULL("qy_l2norm_rows_bwd", invnorm);
    NONNULL("qy_l2norm_rows_bwd", dy);
    NONNULL("qy_l2norm_rows_bwd", dx);
    return DISPATCH(l2norm_rows_bwd, y, invnorm, dy, dx, n, d);
}

int qy_relu_fwd(int dev, void* stream, const float* x, float* y, int64_t n) {
    CHECK_DEV("qy_relu_fwd");
    POSITIVE("qy_relu_fwd", n);
    NONNULL("qy_relu_fwd", x);
    NONNULL("qy_relu_fwd", y);
    return DISPATCH(relu_fwd, x, y, n);
}

int qy_relu_bwd(int dev, void* stream, const float* y, const float* dy, float* dx, int64_t n) {
    CHECK_DEV("qy_relu_bwd");
    POSITIVE("qy_relu_bwd", n);
    NONNULL("qy_relu_bwd", y);
    NONNULL("qy_relu_bwd", dy);
    NONNULL("qy_relu_bwd", dx);
    return DISPATCH(relu_bwd, y, dy, dx, n);
}

// ---- conv2d --------------------------------------------------------------------------------------------------

static int check_conv(const char* op, int n, int h, int w, int cin, int cout, int kh, int kw, int sh, int sw, int ph,
                      int pw) {
    if (n <= 0 || h <= 0 || w <= 0 || cin <= 0 || cout <= 0 || kh <= 0 || kw <= 0 || sh <= 0 || sw <= 0 || ph < 0 ||
        pw < 0)
        FAIL("%s: bad shape x=[%d,%d,%d,%d] w=[%d,%d,%d,%d] stride=(%d,%d) pad=(%d,%d)", op, n, h, w, cin, cout, kh, kw,
             cin, sh, sw, ph, pw);
    if (h + 2 * ph < kh || w + 2 * pw < kw)
        FAIL("%s: kernel %dx%d larger than padded input %dx%d", op, kh, kw, h + 2 * ph, w + 2 * pw);
    return QY_OK;
}

int qy_conv2d_fwd(int dev, void* stream, const float* x, const float* wt, const float* bias, float* y, int n, int h,
                  int w, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw) {
    const char* op = "qy_conv2d_fwd";
    CHECK_DEV(op);
    if (int s = check_conv(op, n, h, w, cin, cout, kh, kw, sh, sw, ph, pw)) return s;
    NONNULL(op, x);
    NONNULL(op, wt);
    NONNULL(op, y);
    return DISPATCH(conv2d_fwd, x, wt, bias, y, n, h, w, cin, cout, kh, kw, sh, sw, ph, pw);
}

int qy_conv2d_bwd_data(int dev, void* stream, const float* dy, const float* wt, float* dx, int n, int h, int w,
                       int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw) {
    const char* op = "qy_conv2d_bwd_data";
    CHECK_DEV(op);
    if (int s = check_conv(op, n, h, w, cin, cout, kh, kw, sh, sw, ph, pw)) return s;
    NONNULL(op, dy);
    NONNULL(op, wt);
    NONNULL(op, dx);
    return DISPATCH(conv2d_bwd_data, dy, wt, dx, n, h, w, cin, cout, kh, kw, sh, sw, ph, pw);
}

int qy_conv2d_bwd_filter(int dev, void* stream, const float* x, const float* dy, float* dwt, float* dbias, int n,
                         int h, int w, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw) {
    const char* op = "qy_conv2d_bwd_filter";
    CHECK_DEV(op);
    if (int s = check_conv(op, n, h, w, cin, cout, kh, kw, sh, sw, ph, pw)) return s;
    NONNULL(op, x);
    NONNULL(op, dy);
    NONNULL(op, dwt);
    return DISPATCH(conv2d_bwd_filter, x, dy, dwt, dbias, n, h, w, cin, cout, kh, kw, sh, sw, ph, pw);
}

// ---- batch norm ----------------------------------------------------------------------------------------------

int qy_batchnorm_fwd_train(int dev, void* stream, const float* x, const float* gamma, const float* beta, float* y,
                           float* save_mean, float* save_invstd, float* running_mean, float* running_var, int64_t m,
                           int c, float momentum, float eps) {
    const char* op = "qy_batchnorm_fwd_train";
    CHECK_DEV(op);
    if (m < 2 || c <= 0) FAIL("%s: need m >= 2 and c >= 1, got x=[%lld,%d]", op, (long long)m, c);
    if (!(eps > 0) || !(momentum >= 0 && momentum <= 1)) FAIL("%s: bad eps %g or momentum %g", op, eps, momentum);
    NONNULL(op, x);
    NONNULL(op, gamma);
    NONNULL(op, beta);
    NONNULL(op, y);
    NONNULL(op, save_mean);
    NONNULL(op, save_invstd);
    NONNULL(op, running_mean);
    NONNULL(op, running_var);
    return DISPATCH(batchnorm_fwd_train, x, gamma, beta, y, save_mean, save_invstd, running_mean, running_var, m, c,
                    momentum, eps);
}

int qy_batchnorm_fwd_infer(int dev, void* stream, const float* x, const float* gamma, const float* beta,
                           const float* running_mean, const float* running_var, float* y, int64_t m, int c,
                           float eps) {
    const char* op = "qy_batchnorm_fwd_infer";
    CHECK_DEV(op);
    if (m <= 0 || c <= 0) FAIL("%s: bad shape x=[%lld,%d]", op, (long long)m, c);
    if (!(eps > 0)) FAIL("%s: eps must be positive, got %g", op, eps);
    NONNULL(op, x);
    NONNULL(op, gamma);
    NONNULL(op, beta);
    NONNULL(op, running_mean);
    NONNULL(op, running_var);
    NONNULL(op, y);
    return DISPATCH(batchnorm_fwd_infer, x, gamma, beta, running_mean, running_var, y, m, c, eps);
}

int qy_batchnorm_bwd(int dev, void* stream, const float* x, const float* dy, const float* gamma,
                     const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta,
                     int64_t m, int c) {
    const char* op = "qy_batchnorm_bwd";
    CHECK_DEV(op);
    if (m <= 0 || c <= 0) FAIL("%s: bad shape x=[%lld,%d]", op, (long long)m, c);
    NONNULL(op, x);
    NONNULL(op, dy);
    NONNULL(op, gamma);
    NONNULL(op, save_mean);
    NONNULL(op, save_invstd);
    NONNULL(op, dx);
    NONNULL(op, dgamma);
    NONNULL(op, dbeta);
    return DISPATCH(batchnorm_bwd, x, dy, gamma, save_mean, save_invstd, dx, dgamma, dbeta, m, c);
}

// ---- pooling -------------------------------------------------------------------------------------------------

int qy_maxpool2x2_fwd(int dev, void* stream, const float* x, float* y, int n, int h, int w, int c) {
    const char* op = "qy_maxpool2x2_fwd";
    CHECK_DEV(op);
    if (n <= 0 || h < 2 || w < 2 || c <= 0) FAIL("%s: need x=[n>=1,h>=2,w>=2,c>=1], got [%d,%d,%d,%d]", op, n, h, w, c);
    NONNULL(op, x);
    NONNULL(op, y);
    return DISPATCH(maxpool2x2_fwd, x, y, n, h, w, c);
}

int qy_maxpool2x2_bwd(int dev, void* stream, const float* x, const float* dy, float* dx, int n, int h, int w, int c) {
    const char* op = "qy_maxpool2x2_bwd";
    CHECK_DEV(op);
    if (n <= 0 || h < 2 || w < 2 || c <= 0) FAIL("%s: need x=[n>=1,h>=2,w>=2,c>=1], got [%d,%d,%d,%d]", op, n, h, w, c);
    NONNULL(op, x);
    NONNULL(op, dy);
    NONNULL(op, dx);
    return DISPATCH(maxpool2x2_bwd, x, dy, dx, n, h, w, c);
}

int qy_avgpool_global_fwd(int dev, void* stream, const float* x, float* y, int n, int hw, int c) {
    const char* op = "qy_avgpool_global_fwd";
    CHECK_DEV(op);
    if (n <= 0 || hw <= 0 || c <= 0) FAIL("%s: bad shape x=[%d,%d,%d]", op, n, hw, c);
    NONNULL(op, x);
    NONNULL(op, y);
    return DISPATCH(avgpool_global_fwd, x, y, n, hw, c);
}

int qy_avgpool_global_bwd(int dev, void* stream, const float* dy, float* dx, int n, int hw, int c) {
    const char* op = "qy_avgpool_global_bwd";
    CHECK_DEV(op);
    if (n <= 0 || hw <= 0 || c <= 0) FAIL("%s: bad shape x=[%d,%d,%d]", op, n, hw, c);
    NONNULL(op, dy);
    NONNULL(op, dx);
    return DISPATCH(avgpool_global_bwd, dy, dx, n, hw, c);
}

// ---- linear --------------------------------------------------------------------------------------------------

#define CHECK_LINEAR(op) \
    if (n <= 0 || in <= 0 || out <= 0) FAIL("%s: bad shape x=[%d,%d] w=[%d,%d]", op, n, in, out, in);

int qy_linear_fwd(int dev, void* stream, const float* x, const float* wt, const float* bias, float* y, int n, int in,
                  int out) {
    const char* op = "qy_linear_fwd";
    CHECK_DEV(op);
    CHECK_LINEAR(op);
    NONNULL(op, x);
    NONNULL(op, wt);
    NONNULL(op, y);
    return DISPATCH(linear_fwd, x, wt, bias, y, n, in, out);
}

int qy_linear_bwd_data(int dev, void* stream, const float* dy, const float* wt, float* dx, int n, int in, int out) {
    const char* op = "qy_linear_bwd_data";
    CHECK_DEV(op);
    CHECK_LINEAR(op);
    NONNULL(op, dy);
    NONNULL(op, wt);
    NONNULL(op, dx);
    return DISPATCH(linear_bwd_data, dy, wt, dx, n, in, out);
}

int qy_linear_bwd_weight(int dev, void* stream, const float* x, const float* dy, float* dwt, float* dbias, int n,
                         int in, int out) {
    const char* op = "qy_linear_bwd_weight";
    CHECK_DEV(op);
    CHECK_LINEAR(op);
    NONNULL(op, x);
    NONNULL(op, dy);
    NONNULL(op, dwt);
    return DISPATCH(linear_bwd_weight, x, dy, dwt, dbias, n, in, out);
}

// ---- dropout -------------------------------------------------------------------------------------------------

int qy_dropout(int dev, void* stream, const float* x, float* y, int64_t rows, int64_t spatial, int64_t units, float p,
               uint64_t seed, uint32_t layer, uint64_t k0, int64_t rows_per_sample) {
    const char* op = "qy_dropout";
    CHECK_DEV(op);
    if (rows <= 0 || spatial <= 0 || units <= 0 || rows_per_sample <= 0)
        FAIL("%s: bad shape x=[%lld,%lld,%lld] rows_per_sample=%lld", op, (long long)rows, (long long)spatial,
             (long long)units, (long long)rows_per_sample);
    if (!(p >= 0.0f && p < 1.0f)) FAIL("%s: p must be in [0, 1), got %g", op, p);
    NONNULL(op, x);
    NONNULL(op, y);
    return DISPATCH(dropout, x, y, rows, spatial, units, p, seed, layer, k0, rows_per_sample);
}

// ---- data augmentation ---------------------------------------------------------------------------------------

int qy_crop_flip(int dev, void* stream, const float* x, float* y, int n, int h, int w, int c, int pad, uint64_t seed,
                 uint64_t step) {
    const char* op = "qy_crop_flip";
    CHECK_DEV(op);
    if (n <= 0 || h <= 0 || w <= 0 || c <= 0) FAIL("%s: bad shape x=[%d,%d,%d,%d]", op, n, h, w, c);
    if (pad < 0 || pad > h || pad > w)
        FAIL("%s: pad must be in [0, min(h, w)], got %d for x=[%d,%d,%d,%d]", op, pad, n, h, w, c);
    NONNULL(op, x);
    NONNULL(op, y);
    const int64_t bytes = (int64_t)n * h * w * c * (int64_t)sizeof(float);
    const char *xb = (const char*)x, *yb = (const char*)y;
    if (xb < yb + bytes && yb < xb + bytes) FAIL("%s: x and y overlap (x=[%d,%d,%d,%d])", op, n, h, w, c);
    return DISPATCH(crop_flip, x, y, n, h, w, c, pad, seed, step);
}

// ---- SimCLR pretraining: augmented views and LARS -------------------------------------------------------------

static_assert(sizeof(qy_simclr_params) == 10 * sizeof(float), "the binding passes qy_simclr_params as float[10]");

int qy_simclr_augment(int dev, void* stream, const float* x, float* y, int n, int h, int w, int c, const float* mean,
                      const float* std, const qy_simclr_params* params, uint64_t seed, uint64_t step, uint32_t view) {
    const char* op = "qy_simclr_augment";
    CHECK_DEV(op);
    if (n <= 0 || h <= 0 || w <= 0 || (c != 1 && c != 3))
        FAIL("%s: bad shape x=[%d,%d,%d,%d] (need n, h, w >= 1 and c = 1 or 3)", op, n, h, w, c);
    NONNULL(op, x);
    NONNULL(op, y);
    NONNULL(op, mean);
    NONNULL(op, std);
    NONNULL(op, params);
    const int64_t bytes = (int64_t)n * h * w * c * (int64_t)sizeof(float);
    const char *xb = (const char*)x, *yb = (const char*)y;
    if (xb < yb + bytes && yb < xb + bytes) FAIL("%s: x and y overlap (x=[%d,%d,%d,%d])", op, n, h, w, c);
    for (int ch = 0; ch < c; ++ch)
        if (!std::isfinite(mean[ch]) || !(std[ch] > 0) || !std::isfinite(std[ch]))
            FAIL("%s: channel %d needs a finite mean and std > 0, got mean %g std %g (x=[%d,%d,%d,%d])", op, ch,
                 mean[ch], std[ch], n, h, w, c);
    const qy_simclr_params& p = *params;
    auto prob = [](float v) { return v >= 0.0f && v <= 1.0f; };
    auto strength = [](float v) { return v >= 0.0f && std::isfinite(v); };
    if (!(p.scale_min > 0.0f && p.scale_min <= 1.0f))
        FAIL("%s: scale_min must be in (0, 1], got %g", op, p.scale_min);
    if (!(p.ratio_min > 0.0f && p.ratio_min <= p.ratio_max && std::isfinite(p.ratio_max)))
        FAIL("%s: need 0 < ratio_min <= ratio_max, finite; got %g, %g", op, p.ratio_min, p.ratio_max);
    if (!prob(p.flip_p) || !prob(p.jitter_p) || !prob(p.gray_p))
        FAIL("%s: probabilities must be in [0, 1]; got flip %g, jitter %g, gray %g", op, p.flip_p, p.jitter_p,
             p.gray_p);
    if (!strength(p.brightness) || !strength(p.contrast) || !strength(p.saturation) || !(p.hue >= 0.0f && p.hue <= 0.5f))
        FAIL("%s: jitter strengths must be >= 0 and finite, hue in [0, 0.5]; got %g, %g, %g, %g", op, p.brightness,
             p.contrast, p.saturation, p.hue);
    if (view >= (1u << 26)) FAIL("%s: view must be below 2^26, got %u", op, view);
    return DISPATCH(simclr_augment, x, y, n, h, w, c, mean, std, params, seed, step, view);
}

int qy_lars_step(int dev, void* stream, float* param, const float* grad, float* momentum_buf, int64_t n, float lr,
                 float momentum, float weight_decay, float eta, int adapt) {
    const char* op = "qy_lars_step";
    CHECK_DEV(op);
    POSITIVE(op, n);
    NONNULL(op, param);
    NONNULL(op, grad);
    NONNULL(op, momentum_buf);
    auto nonneg = [](float v) { return v >= 0.0f && std::isfinite(v); };
    if (!nonneg(lr) || !nonneg(momentum) || !nonneg(weight_decay) || !(eta > 0.0f && std::isfinite(eta)))
        FAIL("%s: need lr, momentum, weight decay >= 0 and eta > 0, all finite; got lr=%g momentum=%g wd=%g eta=%g "
             "(n=%lld)",
             op, lr, momentum, weight_decay, eta, (long long)n);
    return DISPATCH(lars_step, param, grad, momentum_buf, n, lr, momentum, weight_decay, eta, adapt);
}

// ---- log-softmax and NLL -------------------------------------------------------------------------------------

int qy_log_softmax_fwd(int dev, void* stream, const float* x, float* y, int n, int c) {
    const char* op = "qy_log_softmax_fwd";
    CHECK_DEV(op);
    if (n <= 0 || c <= 0) FAIL("%s: bad shape x=[%d,%d]", op, n, c);
    NONNULL(op, x);
    NONNULL(op, y);
    return DISPATCH(log_softmax_fwd, x, y, n, c);
}

int qy_log_softmax_bwd(int dev, void* stream, const float* y, const float* dy, float* dx, int n, int c) {
    const char* op = "qy_log_softmax_bwd";
    CHECK_DEV(op);
    if (n <= 0 || c <= 0) FAIL("%s: bad shape x=[%d,%d]", op, n, c);
    NONNULL(op, y);
    NONNULL(op, dy);
    NONNULL(op, dx);
    return DISPATCH(log_softmax_bwd, y, dy, dx, n, c);
}

int qy_nll_fwd(int dev, void* stream, const float* logp, const int32_t* labels, float* loss, int n, int c,
               float smoothing) {
    const char* op = "qy_nll_fwd";
    CHECK_DEV(op);
    if (n <= 0 || c <= 0) FAIL("%s: bad shape logp=[%d,%d]", op, n, c);
    if (!(smoothing >= 0.0f && smoothing < 1.0f)) FAIL("%s: label smoothing must be in [0, 1), got %g", op, smoothing);
    NONNULL(op, logp);
    NONNULL(op, labels);
    NONNULL(op, loss);
    return DISPATCH(nll_fwd, logp, labels, loss, n, c, smoothing);
}

int qy_nll_bwd(int dev, void* stream, const int32_t* labels, float* dlogp, int n, int c, float smoothing,
               float scale) {
    const char* op = "qy_nll_bwd";
    CHECK_DEV(op);
    if (n <= 0 || c <= 0) FAIL("%s: bad shape logp=[%d,%d]", op, n, c);
    if (!(smoothing >= 0.0f && smoothing < 1.0f)) FAIL("%s: label smoothing must be in [0, 1), got %g", op, smoothing);
    NONNULL(op, labels);
    NONNULL(op, dlogp);
    return DISPATCH(nll_bwd, labels, dlogp, n, c, smoothing, scale);
}

// ---- optimizers ----------------------------------------------------------------------------------------------

int qy_sgd_step(int dev, void* stream, float* param, const float* grad, float* momentum_buf, int64_t n, float lr,
                float momentum, float dampening, float weight_decay, int nesterov, int first_step) {
    const char* op = "qy_sgd_step";
    CHECK_DEV(op);
    POSITIVE(op, n);
    NONNULL(op, param);
    NONNULL(op, grad);
    if (!(lr >= 0) || !(momentum >= 0) || !(weight_decay >= 0))
        FAIL("%s: lr %g, momentum %g and weight decay %g must be >= 0", op, lr, momentum, weight_decay);
    if (momentum > 0 && momentum_buf == nullptr) FAIL("%s: momentum %g needs a momentum buffer", op, momentum);
    if (nesterov && (momentum <= 0 || dampening != 0))
        FAIL("%s: Nesterov needs momentum > 0 and zero dampening", op);
    return DISPATCH(sgd_step, param, grad, momentum_buf, n, lr, momentum, dampening, weight_decay, nesterov,
                    first_step);
}

int qy_adam_step(int dev, void* stream, float* param, const float* grad, float* m, float* v, int64_t n, float lr,
                 float beta1, float beta2, float eps, float weight_decay, int decoupled, int64_t step) {
    const char* op = "qy_adam_step";
    CHECK_DEV(op);
    POSITIVE(op, n);
    NONNULL(op, param);
    NONNULL(op, grad);
    NONNULL(op, m);
    NONNULL(op, v);
    if (step < 1) FAIL("%s: step must be >= 1, got %lld", op, (long long)step);
    if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1) || !(eps > 0) || !(lr >= 0) || !(weight_decay >= 0))
        FAIL("%s: bad hyper-parameters lr=%g betas=(%g,%g) eps=%g wd=%g", op, lr, beta1, beta2, eps, weight_decay);
    return DISPATCH(adam_step, param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, decoupled, step);
}

// ---- acquisition ---------------------------------------------------------------------------------------------

int qy_acq_score(int dev, void* stream, const void* logp, int dtype, int64_t n, int k, int c, int kind, double* scores) {
    const char* op = "qy_acq_score";
    CHECK_DEV(op);
    if (n <= 0 || k <= 0 || c <= 0) FAIL("%s: bad shape logp=[%lld,%d,%d]", op, (long long)n, k, c);
    if (dtype != QY_F32 && dtype != QY_F64) FAIL("%s: dtype must be QY_F32 or QY_F64, got %d", op, dtype);
    if (kind < QY_SCORE_ENTROPY || kind > QY_SCORE_COND_ENTROPY) FAIL("%s: unknown score kind %d", op, kind);
    NONNULL(op, logp);
    NONNULL(op, scores);
    return DISPATCH(acq_score, logp, dtype, n, k, c, kind, scores);
}

int qy_logp_to_probs(int dev, void* stream, const void* logp, int dtype, int64_t count, double* probs) {
    const char* op = "qy_logp_to_probs";
    CHECK_DEV(op);
    POSITIVE(op, count);
    if (dtype != QY_F32 && dtype != QY_F64) FAIL("%s: dtype must be QY_F32 or QY_F64, got %d", op, dtype);
    NONNULL(op, logp);
    NONNULL(op, probs);
    return DISPATCH(logp_to_probs, logp, dtype, count, probs);
}

int qy_joint_extend(int dev, void* stream, const double* p, int64_t m, const double* probs_a, int k, int c,
                    double* p_new) {
    const char* op = "qy_joint_extend";
    CHECK_DEV(op);
    if (m <= 0 || k <= 0 || c <= 0) FAIL("%s: bad shape p=[%lld,%d] c=%d", op, (long long)m, k, c);
    NONNULL(op, p);
    NONNULL(op, probs_a);
    NONNULL(op, p_new);
    return DISPATCH(joint_extend, p, m, probs_a, k, c, p_new);
}

int qy_joint_sample(int dev, void* stream, const double* probs_chosen, int a, int k, int c, int64_t s, uint64_t seed,
                    uint32_t step, double* p, double* w) {
    const char* op = "qy_joint_sample";
    CHECK_DEV(op);
    if (a <= 0 || k <= 0 || c <= 0 || s <= 0)
        FAIL("%s: bad shape chosen=[%d,%d,%d] draws per sample=%lld", op, a, k, c, (long long)s);
    NONNULL(op, probs_chosen);
    NONNULL(op, p);
    NONNULL(op, w);
    return DISPATCH(joint_sample, probs_chosen, a, k, c, s, seed, step, p, w);
}

int qy_joint_entropy(int dev, void* stream, const double* p, const double* w, int64_t m, const double* probs, int64_t n,
                     int k, int c, double* out) {
    const char* op = "qy_joint_entropy";
    CHECK_DEV(op);
    if (m <= 0 || n <= 0 || k <= 0 || c <= 0)
        FAIL("%s: bad shape p=[%lld,%d] probs=[%lld,%d,%d]", op, (long long)m, k, (long long)n, k, c);
    NONNULL(op, p);
    NONNULL(op, probs);
    NONNULL(op, out);
    return DISPATCH(joint_entropy, p, w, m, probs, n, k, c, out);
}

// ---- contrastive losses --------------------------------------------------------------------------------------

// tau > 0 with a finite reciprocal (the kernels multiply by 1/tau); NaN and infinities fail every comparison below.
static int check_tau(const char* op, float tau) {
    if (!(tau > 0.0f) || !(tau <= FLT_MAX) || !(1.0f / tau <= FLT_MAX))
        FAIL("%s: temperature tau must be positive and finite with a finite 1/tau, got %g", op, (double)tau);
    return QY_OK;
}

static int check_ntxent(const char* op, int n, int d, float tau) {
    if (n < 2 || d < 1)
        FAIL("%s: need n >= 2 positive pairs and d >= 1, got z=[2*%d,%d] (one pair has no negatives: its loss is "
             "identically 0)",
             op, n, d);
    if (n > INT_MAX / 2) FAIL("%s: 2n rows overflow int, got n=%d", op, n);
    return check_tau(op, tau);
}

static int check_infonce(const char* op, int n, int64_t kq, int d, float tau) {
    if (n < 1 || kq < 1 || d < 1)
        FAIL("%s: bad shape q=[%d,%d] k=[%d,%d] queue=[%lld,%d]: every dimension must be >= 1", op, n, d, n, d,
             (long long)kq, d);
    return check_tau(op, tau);
}

int qy_ntxent_fwd(int dev, void* stream, const float* z, float* loss, float* save_lse, float* save_invnorm, int n,
                  int d, float tau) {
    const char* op = "qy_ntxent_fwd";
    CHECK_DEV(op);
    if (int s = check_ntxent(op, n, d, tau)) return s;
    NONNULL(op, z);
    NONNULL(op, loss);
    NONNULL(op, save_lse);
    NONNULL(op, save_invnorm);
    return DISPATCH(ntxent_fwd, z, loss, save_lse, save_invnorm, n, d, tau);
}

int qy_ntxent_bwd(int dev, void* stream, const float* z, const float* save_lse, const float* save_invnorm, float* dz,
                  int n, int d, float tau, float scale) {
    const char* op = "qy_ntxent_bwd";
    CHECK_DEV(op);
    if (int s = check_ntxent(op, n, d, tau)) return s;
    if (!std::isfinite(scale)) FAIL("%s: scale must be finite, got %g", op, (double)scale);
    NONNULL(op, z);
    NONNULL(op, save_lse);
    NONNULL(op, save_invnorm);
    NONNULL(op, dz);
    return DISPATCH(ntxent_bwd, z, save_lse, save_invnorm, dz, n, d, tau, scale);
}

int qy_infonce_queue_fwd(int dev, void* stream, const float* q, const float* k, const float* queue, float* loss,
                         float* save_lse, int n, int64_t kq, int d, float tau) {
    const char* op = "qy_infonce_queue_fwd";
    CHECK_DEV(op);
    if (int s = check_infonce(op, n, kq, d, tau)) return s;
    NONNULL(op, q);
    NONNULL(op, k);
    NONNULL(op, queue);
    NONNULL(op, loss);
    NONNULL(op, save_lse);
    return DISPATCH(infonce_queue_fwd, q, k, queue, loss, save_lse, n, kq, d, tau);
}

int qy_infonce_queue_bwd(int dev, void* stream, const float* q, const float* k, const float* queue,
                         const float* save_lse, float* dq, int n, int64_t kq, int d, float tau, float scale) {
    const char* op = "qy_infonce_queue_bwd";
    CHECK_DEV(op);
    if (int s = check_infonce(op, n, kq, d, tau)) return s;
    if (!std::isfinite(scale)) FAIL("%s: scale must be finite, got %g", op, (double)scale);
    NONNULL(op, q);
    NONNULL(op, k);
    NONNULL(op, queue);
    NONNULL(op, save_lse);
    NONNULL(op, dq);
    return DISPATCH(infonce_queue_bwd, q, k, queue, save_lse, dq, n, kq, d, tau, scale);
}

int qy_ntxent_scratch_bytes(int dev, int n, int d, int64_t* bytes) {
    const char* op = "qy_ntxent_scratch_bytes";
    CHECK_DEV(op);
    NONNULL(op, bytes);
    *bytes = 0;
    if (int s = check_ntxent(op, n, d, 1.0f)) return s;
#ifdef QUARRY_WITH_CUDA
    if (dev == QY_DEV_CUDA) {
        *bytes = cuda_ntxent_scratch_bytes(n, d);
        return QY_OK;
    }
#endif
    *bytes = cpu_ntxent_scratch_bytes(n, d);
    return QY_OK;
}

int qy_infonce_queue_scratch_bytes(int dev, int n, int64_t kq, int d, int64_t* bytes) {
    const char* op = "qy_infonce_queue_scratch_bytes";
    CHECK_DEV(op);
    NONNULL(op, bytes);
    *bytes = 0;
    if (int s = check_infonce(op, n, kq, d, 1.0f)) return s;
#ifdef QUARRY_WITH_CUDA
    if (dev == QY_DEV_CUDA) {
        *bytes = cuda_infonce_queue_scratch_bytes(n, kq, d);
        return QY_OK;
    }
#endif
    *bytes = cpu_infonce_queue_scratch_bytes(n, kq, d);
    return QY_OK;
}

int qy_momentum_update(int dev, void* stream, float* theta_k, const float* theta_q, int64_t count, float m) {
    const char* op = "qy_momentum_update";
    CHECK_DEV(op);
    POSITIVE(op, count);
    if (!(m >= 0.0f && m <= 1.0f)) FAIL("%s: momentum m must be in [0, 1], got %g", op, (double)m);
    NONNULL(op, theta_k);
    NONNULL(op, theta_q);
    return DISPATCH(momentum_update, theta_k, theta_q, count, m);
}

int qy_queue_enqueue(int dev, void* stream, float* queue, int64_t kq, int d, const float* keys, int n, int64_t ptr) {
    const char* op = "qy_queue_enqueue";
    CHECK_DEV(op);
    if (kq < 1 || d < 1 || n < 1)
        FAIL("%s: bad shape queue=[%lld,%d] keys=[%d,%d]: every dimension must be >= 1", op, (long long)kq, d, n, d);
    if (n > kq)
        FAIL("%s: %d keys do not fit a queue of %lld rows (keys=[%d,%d] queue=[%lld,%d])", op, n, (long long)kq, n, d,
             (long long)kq, d);
    if (ptr < 0 || ptr >= kq) FAIL("%s: ring pointer %lld outside [0, %lld)", op, (long long)ptr, (long long)kq);
    NONNULL(op, queue);
    NONNULL(op, keys);
    return DISPATCH(queue_enqueue, queue, kq, d, keys, n, ptr);
}

}  // extern "C"
