// SimCLR augmentation (CUDA), semantics in quarry.h (qy_simclr_augment); the CPU twin is cpu/ssl_augment.cpp and
// both take the draw and the pixel math from src/simclr.h.
//
// Version 1: one block per image (grid-stride over images). Thread 0 draws the image's parameters into shared
// memory; when jittering, the block first reduces the mean gray level after brightness (contrast needs it), then
// every thread writes pixels. Each output pixel reads 4 source pixels (bilinear), so a batch of 512 CIFAR images
// moves about 5 x 6.3 MB: a few microseconds of an H100's bandwidth, well below the encoder's cost.
#include "common.cuh"
#include "simclr.h"

namespace {

struct Channels {
    float v[4];
};

__global__ void simclr_kernel(const float* __restrict__ x, float* __restrict__ y, int n, int h, int w, int c, Channels mean,
                              Channels stdv, qy::SimclrParams p, uint64_t seed, uint64_t step, uint32_t view) {
    __shared__ qy::SimclrDraw draw;
    __shared__ double partial[256];
    const int64_t image = (int64_t)h * w * c, pixels = (int64_t)h * w;
    for (int i = blockIdx.x; i < n; i += gridDim.x) {
        if (threadIdx.x == 0) draw = qy::simclr_draw(seed, step, (uint32_t)i, view, h, w, p);
        __syncthreads();
        const qy::SimclrDraw d = draw;
        const float* img = x + (int64_t)i * image;
        float v[4];
        float m = 0.0f;
        if (d.jitter) {
            double s = 0;
            for (int64_t px = threadIdx.x; px < pixels; px += blockDim.x) {
                qy::simclr_sample(img, h, w, c, d, (int)(px / w), (int)(px % w), mean.v, stdv.v, v);
                s += qy::simclr_gray(v, c);
            }
            partial[threadIdx.x] = s;
            __syncthreads();
            for (int half = blockDim.x / 2; half > 0; half /= 2) {
                if ((int)threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
                __syncthreads();
            }
            m = (float)(partial[0] / (double)pixels);
        }
        for (int64_t px = threadIdx.x; px < pixels; px += blockDim.x) {
            qy::simclr_sample(img, h, w, c, d, (int)(px / w), (int)(px % w), mean.v, stdv.v, v);
            qy::simclr_finish(v, c, d, m, mean.v, stdv.v);
            float* out = y + (int64_t)i * image + px * c;
            for (int k = 0; k < c; ++k) out[k] = v[k];
        }
        // the next image's draw and partial sums must not be written while this image's are still read
        __syncthreads();
    }
}

}  // namespace

int cuda_simclr_augment(void* stream, const float* x, float* y, int n, int h, int w, int c, const float* mean, const float* std,
                        qy::SimclrParams p, uint64_t seed, uint64_t step, uint32_t view) {
    Channels mv{}, sv{};
    for (int k = 0; k < c; ++k) mv.v[k] = mean[k], sv.v[k] = std[k];
    simclr_kernel<<<(unsigned)std::min(n, 65535), 256, 0, qy::cu::as_stream(stream)>>>(x, y, n, h, w, c, mv, sv, p, seed, step, view);
    return qy::cu::launch_status("qy_simclr_augment");
}
