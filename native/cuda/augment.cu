// Data augmentation (CUDA): seeded random crop with zero padding and horizontal flip, semantics in quarry.h
// (qy_crop_flip); the CPU twin is cpu/augment.cpp, and both draw their choices through qy::crop_flip_draw.
//
// Version 1: grid (element chunks, images); thread 0 of a block draws the image's Philox block into shared memory,
// then every thread writes output elements with a grid-stride loop over the image. Napkin math: one 4-byte read
// (none in the margins) and one 4-byte write per element, so a batch of 512 CIFAR images (1.57 M elements, 12.6 MB)
// needs >= 4 us at an H100's ~3 TB/s; the Philox block per image and block is noise next to that.
#include "common.cuh"
#include "philox.h"

namespace {

using qy::cu::kThreads;

__global__ void crop_flip_kernel(const float* __restrict__ x, float* __restrict__ y, int n, int h, int w, int c,
                                 int pad, uint64_t seed, uint64_t step) {
    __shared__ qy::CropFlip draw;
    const int64_t row = (int64_t)w * c, image = (int64_t)h * row;
    for (int i = blockIdx.y; i < n; i += gridDim.y) {
        if (threadIdx.x == 0) draw = qy::crop_flip_draw(seed, step, (uint32_t)i, pad);
        __syncthreads();
        const qy::CropFlip d = draw;
        const float* in = x + (int64_t)i * image;
        float* out = y + (int64_t)i * image;
        QY_GRID_STRIDE(e, image) {
            const int ch = (int)(e % c);
            const int64_t pix = e / c;
            const int a = (int)(pix / w), b = (int)(pix % w);
            const int src_a = a + d.dy, src_b = d.flip ? w - 1 - b + d.dx : b + d.dx;
            out[e] = src_a >= 0 && src_a < h && src_b >= 0 && src_b < w ? in[((int64_t)src_a * w + src_b) * c + ch]
                                                                        : 0.0f;
        }
        // The next image's draw must not overwrite `draw` while a thread of this block still reads it.
        __syncthreads();
    }
}

}  // namespace

int cuda_crop_flip(void* stream, const float* x, float* y, int n, int h, int w, int c, int pad, uint64_t seed,
                   uint64_t step) {
    const int64_t image = (int64_t)h * w * c;
    const dim3 grid((unsigned)std::min<int64_t>(qy::cu::ceil_div(image, kThreads), 1024),
                    (unsigned)std::min(n, 65535));
    QY_LAUNCH(grid, kThreads, 0, qy::cu::as_stream(stream), crop_flip_kernel)(x, y, n, h, w, c, pad, seed, step);
    return qy::cu::launch_status("qy_crop_flip");
}
