// Log-softmax and negative log-likelihood with label smoothing (CUDA), rows of c classes. CPU twin:
// cpu/softmax.cpp, whose arithmetic this follows: float max, row sums in double, float outputs.
// One warp per row (c is small: 10 for MNIST/CIFAR-10, 1000 for ImageNet); the NLL mean is a two-stage
// reduction (per-row terms, then one block summing them in a fixed order), so it is deterministic.
// Napkin math: memory-bound and tiny: a 64 x 10 batch is 2.5 KB; pool scoring of 60000 x 10 log-probabilities
// reads 2.4 MB, about 1 us of bandwidth, so launch latency dominates.
#include <cmath>

#include "common.cuh"

namespace {

using qy::cu::grid_for;
using qy::cu::kThreads;

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float u = __shfl_xor_sync(0xffffffffu, v, o);
        v = u > v ? u : v;
    }
    return v;
}

// Butterfly sum: every lane ends with the same value (each step adds a commutative pair).
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// for (int64_t row = this warp; row < n; row += all warps of the grid); the loop is uniform within a warp.
#define QY_WARP_ROWS(row, n)                                                                          \
    for (int64_t row = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5; row < (int64_t)(n); \
         row += ((int64_t)blockDim.x * gridDim.x) >> 5)

inline unsigned warp_grid(int n) { return grid_for((int64_t)n * 32); }

__global__ void log_softmax_fwd_kernel(const float* __restrict__ x, float* __restrict__ y, int n, int c) {
    const int lane = threadIdx.x & 31;
    QY_WARP_ROWS(row, n) {
        const float* xr = x + row * c;
        float mx = xr[0];
        for (int j = lane; j < c; j += 32) mx = xr[j] > mx ? xr[j] : mx;
        mx = warp_max(mx);
        double s = 0.0;
        for (int j = lane; j < c; j += 32) s += exp((double)(xr[j] - mx));
        s = warp_sum(s);
        const float lse = mx + (float)log(s);
        for (int j = lane; j < c; j += 32) y[row * c + j] = xr[j] - lse;
    }
}

// dx = dy - exp(y) * sum_j dy_j.
__global__ void log_softmax_bwd_kernel(const float* __restrict__ y, const float* __restrict__ dy,
                                       float* __restrict__ dx, int n, int c) {
    const int lane = threadIdx.x & 31;
    QY_WARP_ROWS(row, n) {
        const int64_t o = row * c;
        double s = 0.0;
        for (int j = lane; j < c; j += 32) s += dy[o + j];
        const float sf = (float)warp_sum(s);
        for (int j = lane; j < c; j += 32) dx[o + j] = __fsub_rn(dy[o + j], __fmul_rn(expf(y[o + j]), sf));
    }
}

// term[i] = (1 - s) * logp[i][label_i] + (s / c) * sum_j logp[i][j]; NaN for a label outside [0, c).
__global__ void nll_terms_kernel(const float* __restrict__ logp, const int32_t* __restrict__ labels,
                                 double* __restrict__ term, int n, int c, float smoothing) {
    const int lane = threadIdx.x & 31;
    QY_WARP_ROWS(row, n) {
        const float* lr = logp + row * c;
        double all = 0.0;
        if (smoothing > 0.0f) {
            for (int j = lane; j < c; j += 32) all += lr[j];
            all = warp_sum(all);
        }
        if (lane == 0) {
            const int32_t t = labels[row];
            term[row] = (t < 0 || t >= c) ? (double)NAN
                                          : (1.0 - smoothing) * lr[t] + (double)smoothing / c * all;
        }
    }
}

// loss[0] = -sum_i term[i] / n, one block of 1024 threads in a fixed order.
__global__ void nll_mean_kernel(const double* __restrict__ term, int n, float* __restrict__ loss) {
    __shared__ double part[1024];
    double s = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += term[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half >>= 1) {
        if ((int)threadIdx.x < half) part[threadIdx.x] += part[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) loss[0] = (float)(-part[0] / n);
}

__global__ void nll_bwd_kernel(const int32_t* __restrict__ labels, float* __restrict__ dlogp, int n, int c, float on,
                               float off) {
    const int lane = threadIdx.x & 31;
    QY_WARP_ROWS(row, n) {
        const int32_t t = labels[row];
        const bool ok = t >= 0 && t < c;
        for (int j = lane; j < c; j += 32) dlogp[row * c + j] = !ok ? NAN : (j == t ? on : off);
    }
}

}  // namespace

int cuda_log_softmax_fwd(void* stream, const float* x, float* y, int n, int c) {
    QY_LAUNCH(warp_grid(n), kThreads, 0, qy::cu::as_stream(stream), log_softmax_fwd_kernel)(x, y, n, c);
    return qy::cu::launch_status("qy_log_softmax_fwd");
}

int cuda_log_softmax_bwd(void* stream, const float* y, const float* dy, float* dx, int n, int c) {
    QY_LAUNCH(warp_grid(n), kThreads, 0, qy::cu::as_stream(stream), log_softmax_bwd_kernel)(y, dy, dx, n, c);
    return qy::cu::launch_status("qy_log_softmax_bwd");
}

int cuda_nll_fwd(void* stream, const float* logp, const int32_t* labels, float* loss, int n, int c, float smoothing) {
    const char* op = "qy_nll_fwd";
    cudaStream_t s = qy::cu::as_stream(stream);
    qy::cu::Scratch term(s);
    if (int st = term.alloc(sizeof(double) * (size_t)n, op)) return st;
    QY_LAUNCH(warp_grid(n), kThreads, 0, s, nll_terms_kernel)(logp, labels, term.as<double>(), n, c, smoothing);
    QY_LAUNCH_CHECK(op);
    QY_LAUNCH(1, 1024, 0, s, nll_mean_kernel)(term.as<double>(), n, loss);
    return qy::cu::launch_status(op);
}

int cuda_nll_bwd(void* stream, const int32_t* labels, float* dlogp, int n, int c, float smoothing, float scale) {
    // Same float expressions as the CPU, evaluated once on the host.
    const float off = -scale * smoothing / (float)c / (float)n;
    const float on = off - scale * (1.0f - smoothing) / (float)n;
    QY_LAUNCH(warp_grid(n), kThreads, 0, qy::cu::as_stream(stream), nll_bwd_kernel)(labels, dlogp, n, c, on, off);
    return qy::cu::launch_status("qy_nll_bwd");
}
