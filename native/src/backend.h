// Internal backend interface: api.cpp validates arguments once, then calls cpu_<op> or cuda_<op> with the same
// arguments. Both return a QY_* status; the CPU ones also set the error message through qy_set_error.
#ifndef QUARRY_BACKEND_H
#define QUARRY_BACKEND_H

#include <cstdint>

#include "quarry.h"

int qy_set_error(int code, const char* fmt, ...);

// Below this many elements a CPU op runs on the calling thread: waking an OpenMP team costs microseconds.
constexpr int64_t kOmpMinWork = 1 << 15;

// f(i) for i in [0, n): on the calling thread when the op is small (an `omp parallel if(false)` region still
// costs ~0.3 us), on the OpenMP team otherwise.
template <class F>
inline void parallel_for(int64_t n, F f) {
    if (n <= kOmpMinWork) {
        for (int64_t i = 0; i < n; ++i) f(i);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) f(i);
}

#define QY_BACKEND_OP(name, ...)                    \
    int cpu_##name(void* stream, __VA_ARGS__);      \
    int cuda_##name(void* stream, __VA_ARGS__);

QY_BACKEND_OP(fill, float* out, int64_t n, float value)
QY_BACKEND_OP(fill_uniform, float* out, int64_t n, uint64_t seed, uint32_t stream_id, float lo, float hi)
QY_BACKEND_OP(fill_normal, float* out, int64_t n, uint64_t seed, uint32_t stream_id, float mean, float std)
QY_BACKEND_OP(add, const float* a, const float* b, float* y, int64_t n)
QY_BACKEND_OP(axpy, float alpha, const float* x, float* y, int64_t n)
QY_BACKEND_OP(swap01, const float* x, float* y, int64_t na, int64_t nb, int64_t nc)
QY_BACKEND_OP(l2norm_rows_fwd, const float* x, float* y, float* invnorm, int64_t n, int64_t d)
QY_BACKEND_OP(l2norm_rows_bwd, const float* y, const float* invnorm, const float* dy, float* dx, int64_t n, int64_t d)
QY_BACKEND_OP(relu_fwd, const float* x, float* y, int64_t n)
QY_BACKEND_OP(relu_bwd, const float* y, const float* dy, float* dx, int64_t n)
QY_BACKEND_OP(conv2d_fwd, const float* x, const float* wt, const float* bias, float* y, int n, int h, int w, int cin,
              int cout, int kh, int kw, int sh, int sw, int ph, int pw)
QY_BACKEND_OP(conv2d_bwd_data, const float* dy, const float* wt, float* dx, int n, int h, int w, int cin, int cout,
              int kh, int kw, int sh, int sw, int ph, int pw)
QY_BACKEND_OP(conv2d_bwd_filter, const float* x, const float* dy, float* dwt, float* dbias, int n, int h, int w,
              int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw)
QY_BACKEND_OP(batchnorm_fwd_train, const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
              float* save_invstd, float* running_mean, float* running_var, int64_t m, int c, float momentum,
              float eps)
QY_BACKEND_OP(batchnorm_fwd_infer, const float* x, const float* gamma, const float* beta, const float* running_mean,
              const float* running_var, float* y, int64_t m, int c, float eps)
QY_BACKEND_OP(batchnorm_bwd, const float* x, const float* dy, const float* gamma, const float* save_mean,
              const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t m, int c)
QY_BACKEND_OP(maxpool2x2_fwd, const float* x, float* y, int n, int h, int w, int c)
QY_BACKEND_OP(maxpool2x2_bwd, const float* x, const float* dy, float* dx, int n, int h, int w, int c)
QY_BACKEND_OP(avgpool_global_fwd, const float* x, float* y, int n, int hw, int c)
QY_BACKEND_OP(avgpool_global_bwd, const float* dy, float* dx, int n, int hw, int c)
QY_BACKEND_OP(linear_fwd, const float* x, const float* wt, const float* bias, float* y, int n, int in, int out)
QY_BACKEND_OP(linear_bwd_data, const float* dy, const float* wt, float* dx, int n, int in, int out)
QY_BACKEND_OP(linear_bwd_weight, const float* x, const float* dy, float* dwt, float* dbias, int n, int in, int out)
QY_BACKEND_OP(dropout, const float* x, float* y, int64_t rows, int64_t spatial, int64_t units, float p, uint64_t seed,
              uint32_t layer, uint64_t k0, int64_t rows_per_sample)
QY_BACKEND_OP(crop_flip, const float* x, float* y, int n, int h, int w, int c, int pad, uint64_t seed, uint64_t step)
// SimCLR pretraining (cpu/ssl_augment.cpp, cpu/lars.cpp and their CUDA twins).
QY_BACKEND_OP(simclr_augment, const float* x, float* y, int n, int h, int w, int c, const float* mean, const float* std,
              const qy_simclr_params* params, uint64_t seed, uint64_t step, uint32_t view)
QY_BACKEND_OP(lars_step, float* param, const float* grad, float* momentum_buf, int64_t n, float lr, float momentum,
              float weight_decay, float eta, int adapt)
QY_BACKEND_OP(log_softmax_fwd, const float* x, float* y, int n, int c)
QY_BACKEND_OP(log_softmax_bwd, const float* y, const float* dy, float* dx, int n, int c)
QY_BACKEND_OP(nll_fwd, const float* logp, const int32_t* labels, float* loss, int n, int c, float smoothing)
QY_BACKEND_OP(nll_bwd, const int32_t* labels, float* dlogp, int n, int c, float smoothing, float scale)
QY_BACKEND_OP(sgd_step, float* param, const float* grad, float* momentum_buf, int64_t n, float lr, float momentum,
              float dampening, float weight_decay, int nesterov, int first_step)
QY_BACKEND_OP(adam_step, float* param, const float* grad, float* m, float* v, int64_t n, float lr, float beta1,
              float beta2, float eps, float weight_decay, int decoupled, int64_t step)

QY_BACKEND_OP(acq_score, const void* logp, int dtype, int64_t n, int k, int c, int kind, double* scores)
QY_BACKEND_OP(logp_to_probs, const void* logp, int dtype, int64_t count, double* probs)
QY_BACKEND_OP(joint_extend, const double* p, int64_t m, const double* probs_a, int k, int c, double* p_new)
QY_BACKEND_OP(joint_sample, const double* probs_chosen, int a, int k, int c, int64_t s, uint64_t seed, uint32_t step,
              double* p, double* w)
QY_BACKEND_OP(joint_entropy, const double* p, const double* w, int64_t m, const double* probs, int64_t n, int k, int c,
              double* out)

QY_BACKEND_OP(ntxent_fwd, const float* z, float* loss, float* save_lse, float* save_invnorm, int n, int d, float tau)
QY_BACKEND_OP(ntxent_bwd, const float* z, const float* save_lse, const float* save_invnorm, float* dz, int n, int d,
              float tau, float scale)
QY_BACKEND_OP(infonce_queue_fwd, const float* q, const float* k, const float* queue, float* loss, float* save_lse,
              int n, int64_t kq, int d, float tau)
QY_BACKEND_OP(infonce_queue_bwd, const float* q, const float* k, const float* queue, const float* save_lse, float* dq,
              int n, int64_t kq, int d, float tau, float scale)
QY_BACKEND_OP(momentum_update, float* theta_k, const float* theta_q, int64_t count, float m)
QY_BACKEND_OP(queue_enqueue, float* queue, int64_t kq, int d, const float* keys, int n, int64_t ptr)
// Scratch bytes of the two contrastive families (no stream: pure functions of the shapes).
int64_t cpu_ntxent_scratch_bytes(int n, int d);
int64_t cuda_ntxent_scratch_bytes(int n, int d);
int64_t cpu_infonce_queue_scratch_bytes(int n, int64_t kq, int d);
int64_t cuda_infonce_queue_scratch_bytes(int n, int64_t kq, int d);

// CUDA runtime services (cuda/runtime.cu); without CUDA, api.cpp never calls them.
int cuda_device_count(int* count);
int cuda_device_info(int ordinal, char* name, int name_len, int64_t* total_bytes, int* cc_major, int* cc_minor,
                     int* driver_version, int* runtime_version);
int cuda_malloc(int64_t bytes, void** out);
int cuda_free(void* ptr);
int cuda_upload(void* stream, void* dst, const void* src, int64_t bytes);
int cuda_download(void* stream, void* dst, const void* src, int64_t bytes);
int cuda_copy(void* stream, void* dst, const void* src, int64_t bytes);
int cuda_stream_create(void** out);
int cuda_stream_destroy(void* stream);
int cuda_stream_sync(void* stream);

#endif
