// SimCLR view augmentation (CUDA): random resized crop, flip, colour jitter and grayscale, semantics in quarry.h
// (qy_simclr_augment); the CPU twin is cpu/ssl_augment.cpp. Both draw through qy::simclr_draw and share the pixel
// math of simclr_pixel.h.
//
// Version 1, three launches on the op's stream:
//   draw_kernel      one thread per image: its SimclrDraw (up to 8 Philox blocks) into scratch, once per image;
//   contrast_kernel  one block per jittered image: mean gray level of the brightness-adjusted crop (recomputed from
//                    x, not stored), float64 partial sums reduced in a fixed tree, so repeated runs agree bit for bit;
//   pixel_kernel     one thread per output pixel (all c channels): resample, jitter, grayscale, renormalise.
// Napkin math: each output pixel reads its 2x2 source taps (mostly L1/L2 hits: neighbouring outputs share them) and
// writes c floats, so at least 8 c bytes per pixel; a batch of 512 CIFAR images (1.57 M floats, 12.6 MB in + out)
// needs >= 4 us at an H100's ~3 TB/s. Jittered images (80% by default) read x a second time in contrast_kernel.
#include "common.cuh"
#include "simclr_draw.h"
#include "simclr_pixel.h"

namespace {

using qy::cu::kThreads;

__global__ void draw_kernel(qy_simclr_params p, int n, int h, int w, uint64_t seed, uint64_t step, uint32_t view,
                            qy::SimclrDraw* __restrict__ draws) {
    QY_GRID_STRIDE(i, n) draws[i] = qy::simclr_draw(p, h, w, seed, step, (uint32_t)i, view);
}

__global__ void contrast_kernel(const float* __restrict__ x, int n, int h, int w, int c, qy::SimclrNorm norm,
                                const qy::SimclrDraw* __restrict__ draws, float* __restrict__ means) {
    __shared__ double partial[kThreads];
    const int64_t hw = (int64_t)h * w, image = hw * c;
    for (int i = blockIdx.x; i < n; i += gridDim.x) {
        const qy::SimclrDraw d = draws[i];
        if (!d.jitter) continue;  // the same for every thread of the block: no thread skips a barrier alone
        double sum = 0.0;
        float v[3];
        for (int64_t pix = threadIdx.x; pix < hw; pix += blockDim.x) {
            qy::simclr_resample(x + i * image, h, w, c, d, (int)(pix / w), (int)(pix % w), v);
            qy::simclr_to_pixels(v, c, norm, d);
            sum += (double)qy::simclr_gray(v, c);
        }
        partial[threadIdx.x] = sum;
        __syncthreads();
        for (int half = blockDim.x / 2; half > 0; half /= 2) {
            if ((int)threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
            __syncthreads();
        }
        if (threadIdx.x == 0) means[i] = (float)(partial[0] / (double)hw);
        // partial[0] must be read before the next image's sums overwrite it.
        __syncthreads();
    }
}

__global__ void pixel_kernel(const float* __restrict__ x, float* __restrict__ y, int n, int h, int w, int c,
                             qy::SimclrNorm norm, const qy::SimclrDraw* __restrict__ draws,
                             const float* __restrict__ means) {
    const int64_t hw = (int64_t)h * w, image = hw * c;
    QY_GRID_STRIDE(e, (int64_t)n * hw) {
        const int64_t i = e / hw, pix = e % hw;
        const qy::SimclrDraw d = draws[i];
        float v[3];
        qy::simclr_resample(x + i * image, h, w, c, d, (int)(pix / w), (int)(pix % w), v);
        if (qy::simclr_colour(d, c)) {
            qy::simclr_to_pixels(v, c, norm, d);
            qy::simclr_finish(v, c, norm, d, d.jitter ? means[i] : 0.0f);
        }
        float* out = y + i * image + pix * c;
        for (int ch = 0; ch < c; ++ch) out[ch] = v[ch];
    }
}

}  // namespace

int cuda_simclr_augment(void* stream, const float* x, float* y, int n, int h, int w, int c, const float* mean,
                        const float* std, const qy_simclr_params* params, uint64_t seed, uint64_t step,
                        uint32_t view) {
    const char* op = "qy_simclr_augment";
    const cudaStream_t s = qy::cu::as_stream(stream);
    qy::SimclrNorm norm{};
    for (int ch = 0; ch < c; ++ch) norm.mean[ch] = mean[ch], norm.std[ch] = std[ch];
    // Draws first, then the means, each aligned for its type.
    const size_t draws_bytes = ((sizeof(qy::SimclrDraw) * (size_t)n + 15) / 16) * 16;
    qy::cu::Scratch scratch(s);
    if (int rc = scratch.alloc(draws_bytes + sizeof(float) * (size_t)n, op)) return rc;
    qy::SimclrDraw* draws = scratch.as<qy::SimclrDraw>();
    float* means = reinterpret_cast<float*>(scratch.as<char>() + draws_bytes);
    QY_LAUNCH(qy::cu::grid_for(n), kThreads, 0, s, draw_kernel)(*params, n, h, w, seed, step, view, draws);
    QY_LAUNCH_CHECK(op);
    QY_LAUNCH((unsigned)std::min(n, 65535), kThreads, 0, s, contrast_kernel)(x, n, h, w, c, norm, draws, means);
    QY_LAUNCH_CHECK(op);
    QY_LAUNCH(qy::cu::grid_for((int64_t)n * h * w), kThreads, 0, s, pixel_kernel)(x, y, n, h, w, c, norm, draws, means);
    return qy::cu::launch_status(op);
}
