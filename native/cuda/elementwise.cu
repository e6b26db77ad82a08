// Elementwise ops, Philox fills, dropout and optimizer steps (CUDA). CPU twins: cpu/elementwise.cpp, cpu/rng.cpp.
// Semantics in quarry.h. All are memory-bound grid-stride loops: e.g. adam reads p, g, m, v and writes p, m, v,
// 28 bytes per element, so 1e8 parameters take >= 0.93 ms at an H100's ~3 TB/s.
//
// Float expressions that mix a product and a sum use __fmul_rn/__fadd_rn: nvcc would otherwise fuse them into
// FMAs, which the CPU build (x86-64-v2, no FMA) does not, and fills, dropout and optimizer updates are meant to be
// bit-identical across the two backends.
#include <cmath>

#include "common.cuh"
#include "philox.h"

namespace {

using qy::cu::grid_for;
using qy::cu::kThreads;

__global__ void fill_kernel(float* __restrict__ out, int64_t n, float value) {
    QY_GRID_STRIDE(i, n) out[i] = value;
}

// One thread per Philox block b: elements 4b..4b+3 take words 0..3.
__global__ void fill_uniform_kernel(float* __restrict__ out, int64_t n, uint64_t seed, uint32_t stream_id, float lo,
                                    float span) {
    QY_GRID_STRIDE(b, (n + 3) / 4) {
        const qy::U4 r = qy::fill_block(seed, stream_id, (uint64_t)b);
#pragma unroll
        for (int j = 0; j < 4; ++j)
            if (4 * b + j < n) out[4 * b + j] = __fadd_rn(lo, __fmul_rn(span, qy::uniform01(qy::word(r, j))));
    }
}

// Box-Muller on word pairs (0,1) and (2,3), in double exactly as the CPU writes it.
__global__ void fill_normal_kernel(float* __restrict__ out, int64_t n, uint64_t seed, uint32_t stream_id, float mean,
                                   float stdev) {
    const double two_pi = 6.283185307179586;
    QY_GRID_STRIDE(b, (n + 3) / 4) {
        const qy::U4 r = qy::fill_block(seed, stream_id, (uint64_t)b);
#pragma unroll
        for (int pair = 0; pair < 2; ++pair) {
            const double rad = sqrt(-2.0 * log((double)qy::uniform01_open0(qy::word(r, 2 * pair))));
            const double theta = two_pi * (double)qy::uniform01(qy::word(r, 2 * pair + 1));
            const int64_t i = 4 * b + 2 * pair;
            if (i < n) out[i] = __fadd_rn(mean, __fmul_rn(stdev, (float)(rad * cos(theta))));
            if (i + 1 < n) out[i + 1] = __fadd_rn(mean, __fmul_rn(stdev, (float)(rad * sin(theta))));
        }
    }
}

__global__ void add_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ y,
                           int64_t n) {
    QY_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}

__global__ void axpy_kernel(float alpha, const float* __restrict__ x, float* __restrict__ y, int64_t n) {
    QY_GRID_STRIDE(i, n) y[i] = __fadd_rn(y[i], __fmul_rn(alpha, x[i]));
}

__global__ void relu_fwd_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t n) {
    QY_GRID_STRIDE(i, n) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

__global__ void relu_bwd_kernel(const float* __restrict__ y, const float* __restrict__ dy, float* __restrict__ dx,
                                int64_t n) {
    QY_GRID_STRIDE(i, n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

// x as [lines = rows*spatial][units]. One thread per (line, group of 4 units): the 4 units of a group share one
// Philox block (counter word 0 is unit >> 2), so this is qy::dropout_keep with a quarter of the Philox calls.
// y = x * (keep ? 1/(1-p) : 0) as on the CPU (a NaN in x stays NaN even where dropped).
__global__ void dropout_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t lines, int64_t spatial,
                               int64_t units, float p, float scale, uint64_t seed, uint32_t layer, uint64_t k0,
                               int64_t rows_per_sample) {
    const int64_t groups = (units + 3) / 4;
    QY_GRID_STRIDE(j, lines * groups) {
        const int64_t q = j % groups, line = j / groups;
        const uint64_t k = k0 + (uint64_t)(line / spatial / rows_per_sample);
        const qy::U4 r = qy::philox4x32_10(qy::U4{(uint32_t)q, (uint32_t)k, (uint32_t)(k >> 32), layer & 0x3fffffffu},
                                           (uint32_t)seed, (uint32_t)(seed >> 32));
        const int64_t base = line * units + 4 * q;
#pragma unroll
        for (int w = 0; w < 4; ++w)
            if (4 * q + w < units) {
                const float mask = qy::uniform01(qy::word(r, w)) >= p ? scale : 0.0f;
                y[base + w] = __fmul_rn(x[base + w], mask);
            }
    }
}

__global__ void sgd_kernel(float* __restrict__ param, const float* __restrict__ grad, float* __restrict__ buf,
                           int64_t n, float lr, float momentum, float dampening, float weight_decay, int nesterov,
                           int first_step) {
    QY_GRID_STRIDE(i, n) {
        float g = __fadd_rn(grad[i], __fmul_rn(weight_decay, param[i]));
        if (momentum > 0.0f) {
            const float b =
                first_step ? g : __fadd_rn(__fmul_rn(momentum, buf[i]), __fmul_rn(1.0f - dampening, g));
            buf[i] = b;
            g = nesterov ? __fadd_rn(g, __fmul_rn(momentum, b)) : b;
        }
        param[i] = __fsub_rn(param[i], __fmul_rn(lr, g));
    }
}

__global__ void adam_kernel(float* __restrict__ param, const float* __restrict__ grad, float* __restrict__ m,
                            float* __restrict__ v, int64_t n, float lr, float beta1, float beta2, float eps,
                            float weight_decay, int decoupled, float bias1, float bias2) {
    QY_GRID_STRIDE(i, n) {
        float p = param[i];
        float g = grad[i];
        if (decoupled)
            p = __fmul_rn(p, __fsub_rn(1.0f, __fmul_rn(lr, weight_decay)));
        else
            g = __fadd_rn(g, __fmul_rn(weight_decay, p));
        const float mi = __fadd_rn(__fmul_rn(beta1, m[i]), __fmul_rn(1.0f - beta1, g));
        const float vi = __fadd_rn(__fmul_rn(beta2, v[i]), __fmul_rn(__fmul_rn(1.0f - beta2, g), g));
        m[i] = mi;
        v[i] = vi;
        const float denom = __fadd_rn(__fsqrt_rn(__fdiv_rn(vi, bias2)), eps);
        param[i] = __fsub_rn(p, __fdiv_rn(__fmul_rn(lr, __fdiv_rn(mi, bias1)), denom));
    }
}

}  // namespace

int cuda_fill(void* stream, float* out, int64_t n, float value) {
    QY_LAUNCH(grid_for(n), kThreads, 0, qy::cu::as_stream(stream), fill_kernel)(out, n, value);
    return qy::cu::launch_status("qy_fill");
}

int cuda_fill_uniform(void* stream, float* out, int64_t n, uint64_t seed, uint32_t stream_id, float lo, float hi) {
    QY_LAUNCH(grid_for((n + 3) / 4), kThreads, 0, qy::cu::as_stream(stream), fill_uniform_kernel)(out, n, seed, stream_id,
                                                                                          lo, hi - lo);
    return qy::cu::launch_status("qy_fill_uniform");
}

int cuda_fill_normal(void* stream, float* out, int64_t n, uint64_t seed, uint32_t stream_id, float mean, float std) {
    QY_LAUNCH(grid_for((n + 3) / 4), kThreads, 0, qy::cu::as_stream(stream), fill_normal_kernel)(out, n, seed, stream_id,
                                                                                         mean, std);
    return qy::cu::launch_status("qy_fill_normal");
}

int cuda_add(void* stream, const float* a, const float* b, float* y, int64_t n) {
    QY_LAUNCH(grid_for(n), kThreads, 0, qy::cu::as_stream(stream), add_kernel)(a, b, y, n);
    return qy::cu::launch_status("qy_add");
}

// One thread per output element; consecutive threads write consecutive floats of y (coalesced stores).
__global__ void swap01_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t na, int64_t nb, int64_t nc) {
    int64_t n = na * nb * nc;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = i % nc, r = i / nc, b = r / na, a = r % na;
        y[i] = x[(a * nb + b) * nc + c];
    }
}

int cuda_swap01(void* stream, const float* x, float* y, int64_t na, int64_t nb, int64_t nc) {
    QY_LAUNCH(grid_for(na * nb * nc), kThreads, 0, qy::cu::as_stream(stream), swap01_kernel)(x, y, na, nb, nc);
    return qy::cu::launch_status("qy_swap01");
}

// One warp per row: lanes stride over d, the sums are reduced with shuffles in double.
__device__ double warp_sum(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return __shfl_sync(0xffffffffu, v, 0);
}

__global__ void l2norm_rows_fwd_kernel(const float* __restrict__ x, float* __restrict__ y, float* __restrict__ invnorm, int64_t n,
                                       int64_t d) {
    int64_t row = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (row >= n) return;
    const float* xi = x + row * d;
    double ss = 0;
    for (int64_t j = lane; j < d; j += 32) ss += (double)xi[j] * xi[j];
    ss = warp_sum(ss);
    double inv = 1.0 / fmax(sqrt(ss), 1e-12);
    if (lane == 0) invnorm[row] = (float)inv;
    for (int64_t j = lane; j < d; j += 32) y[row * d + j] = (float)(xi[j] * inv);
}

__global__ void l2norm_rows_bwd_kernel(const float* __restrict__ y, const float* __restrict__ invnorm, const float* __restrict__ dy,
                                       float* __restrict__ dx, int64_t n, int64_t d) {
    int64_t row = (blockIdx.x * (int64_t)blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (row >= n) return;
    const float *yi = y + row * d, *gi = dy + row * d;
    double dot = 0;
    for (int64_t j = lane; j < d; j += 32) dot += (double)yi[j] * gi[j];
    dot = warp_sum(dot);
    for (int64_t j = lane; j < d; j += 32) dx[row * d + j] = (float)(invnorm[row] * (gi[j] - yi[j] * dot));
}

int cuda_l2norm_rows_fwd(void* stream, const float* x, float* y, float* invnorm, int64_t n, int64_t d) {
    QY_LAUNCH((unsigned)((n * 32 + 255) / 256), 256, 0, qy::cu::as_stream(stream), l2norm_rows_fwd_kernel)(x, y, invnorm, n, d);
    return qy::cu::launch_status("qy_l2norm_rows_fwd");
}

int cuda_l2norm_rows_bwd(void* stream, const float* y, const float* invnorm, const float* dy, float* dx, int64_t n, int64_t d) {
    QY_LAUNCH((unsigned)((n * 32 + 255) / 256), 256, 0, qy::cu::as_stream(stream), l2norm_rows_bwd_kernel)(y, invnorm, dy, dx, n, d);
    return qy::cu::launch_status("qy_l2norm_rows_bwd");
}

int cuda_axpy(void* stream, float alpha, const float* x, float* y, int64_t n) {
    QY_LAUNCH(grid_for(n), kThreads, 0, qy::cu::as_stream(stream), axpy_kernel)(alpha, x, y, n);
    return qy::cu::launch_status("qy_axpy");
}

int cuda_relu_fwd(void* stream, const float* x, float* y, int64_t n) {
    QY_LAUNCH(grid_for(n), kThreads, 0, qy::cu::as_stream(stream), relu_fwd_kernel)(x, y, n);
    return qy::cu::launch_status("qy_relu_fwd");
}

int cuda_relu_bwd(void* stream, const float* y, const float* dy, float* dx, int64_t n) {
    QY_LAUNCH(grid_for(n), kThreads, 0, qy::cu::as_stream(stream), relu_bwd_kernel)(y, dy, dx, n);
    return qy::cu::launch_status("qy_relu_bwd");
}

int cuda_dropout(void* stream, const float* x, float* y, int64_t rows, int64_t spatial, int64_t units, float p,
                 uint64_t seed, uint32_t layer, uint64_t k0, int64_t rows_per_sample) {
    const float scale = 1.0f / (1.0f - p);
    const int64_t lines = rows * spatial;
    QY_LAUNCH(grid_for(lines * ((units + 3) / 4)), kThreads, 0, qy::cu::as_stream(stream), dropout_kernel)(
        x, y, lines, spatial, units, p, scale, seed, layer, k0, rows_per_sample);
    return qy::cu::launch_status("qy_dropout");
}

int cuda_sgd_step(void* stream, float* param, const float* grad, float* momentum_buf, int64_t n, float lr,
                  float momentum, float dampening, float weight_decay, int nesterov, int first_step) {
    QY_LAUNCH(grid_for(n), kThreads, 0, qy::cu::as_stream(stream), sgd_kernel)(param, grad, momentum_buf, n, lr, momentum,
                                                                       dampening, weight_decay, nesterov, first_step);
    return qy::cu::launch_status("qy_sgd_step");
}

int cuda_adam_step(void* stream, float* param, const float* grad, float* m, float* v, int64_t n, float lr, float beta1,
                   float beta2, float eps, float weight_decay, int decoupled, int64_t step) {
    // Bias corrections in double on the host, rounded to float as the CPU does.
    const float bias1 = (float)(1.0 - std::pow((double)beta1, (double)step));
    const float bias2 = (float)(1.0 - std::pow((double)beta2, (double)step));
    QY_LAUNCH(grid_for(n), kThreads, 0, qy::cu::as_stream(stream), adam_kernel)(param, grad, m, v, n, lr, beta1, beta2, eps,
                                                                        weight_decay, decoupled, bias1, bias2);
    return qy::cu::launch_status("qy_adam_step");
}
