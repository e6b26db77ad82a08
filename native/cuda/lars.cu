// LARS (CUDA): one layer-wise adaptive step per parameter tensor, semantics in quarry.h (qy_lars_step); the CPU twin
// is cpu/lars.cpp, and both take the step size from qy::lars_scale (lars.h). The norms never leave the device:
//   norms_kernel   blocks of 256 threads sum w^2 and g^2 in float64 over a grid-stride range, reduce in a fixed tree,
//                  and write one partial pair per block (the block count depends on n only, so results repeat);
//   scale_kernel   one block sums the partials in order and stores lr * trust and the weight decay in scratch;
//   update_kernel  v = momentum v + scale (g + decay w), w -= v, reading the step size from scratch (or from its
//                  arguments when adapt = 0, which launches only this kernel).
// Napkin math: with adaptation, w and g are read twice and w, v written once: 24 bytes per element, so an 11 M
// parameter ResNet-18 needs >= 90 us per step at ~3 TB/s, plus two small launches per tensor.
#include "common.cuh"
#include "lars.h"

namespace {

using qy::cu::D2;
using qy::cu::kThreads;

__global__ void norms_kernel(const float* __restrict__ param, const float* __restrict__ grad, int64_t n,
                             D2* __restrict__ partial) {
    __shared__ D2 lanes[kThreads];
    D2 acc{0.0, 0.0};
    QY_GRID_STRIDE(i, n) {
        const double w = param[i], g = grad[i];
        acc.a += w * w;
        acc.b += g * g;
    }
    lanes[threadIdx.x] = acc;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) lanes[threadIdx.x] += lanes[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = lanes[0];
}

__global__ void scale_kernel(const D2* __restrict__ partial, int blocks, float lr, float weight_decay, float eta,
                             float* __restrict__ step) {
    __shared__ D2 lanes[kThreads];
    D2 acc{0.0, 0.0};
    for (int b = threadIdx.x; b < blocks; b += blockDim.x) acc += partial[b];
    lanes[threadIdx.x] = acc;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) lanes[threadIdx.x] += lanes[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        step[0] = qy::lars_scale(lanes[0].a, lanes[0].b, lr, weight_decay, eta);
        step[1] = weight_decay;
    }
}

__global__ void update_kernel(float* __restrict__ param, const float* __restrict__ grad, float* __restrict__ buf,
                              int64_t n, float momentum, float scale, float decay, const float* __restrict__ step) {
    if (step) scale = step[0], decay = step[1];
    QY_GRID_STRIDE(i, n) {
        buf[i] = momentum * buf[i] + scale * (grad[i] + decay * param[i]);
        param[i] -= buf[i];
    }
}

}  // namespace

int cuda_lars_step(void* stream, float* param, const float* grad, float* momentum_buf, int64_t n, float lr,
                   float momentum, float weight_decay, float eta, int adapt) {
    const char* op = "qy_lars_step";
    const cudaStream_t s = qy::cu::as_stream(stream);
    if (!adapt) {
        QY_LAUNCH(qy::cu::grid_for(n), kThreads, 0, s, update_kernel)(param, grad, momentum_buf, n, momentum, lr, 0.0f,
                                                                nullptr);
        return qy::cu::launch_status(op);
    }
    // About 8 elements per thread, at most 1024 blocks: a split that depends on n alone.
    const int blocks = (int)std::min<int64_t>(qy::cu::ceil_div(n, 8 * kThreads), 1024);
    qy::cu::Scratch scratch(s);
    if (int rc = scratch.alloc(sizeof(D2) * (size_t)blocks + 2 * sizeof(float), op)) return rc;
    D2* partial = scratch.as<D2>();
    float* step = reinterpret_cast<float*>(partial + blocks);
    QY_LAUNCH(blocks, kThreads, 0, s, norms_kernel)(param, grad, n, partial);
    QY_LAUNCH_CHECK(op);
    QY_LAUNCH(1, kThreads, 0, s, scale_kernel)(partial, blocks, lr, weight_decay, eta, step);
    QY_LAUNCH_CHECK(op);
    QY_LAUNCH(qy::cu::grid_for(n), kThreads, 0, s, update_kernel)(param, grad, momentum_buf, n, momentum, 0.0f, 0.0f, step);
    return qy::cu::launch_status(op);
}
