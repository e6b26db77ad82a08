// Data augmentation (CPU): seeded random crop with zero padding and horizontal flip, semantics in quarry.h
// (qy_crop_flip). The CUDA twin is cuda/augment.cu; both take their choices from qy::crop_flip_draw in philox.h.
// A pure copy: each output row is one run of source pixels between zero margins, so it is memory-bound.
#include <cstring>

#include "backend.h"
#include "philox.h"

int cpu_crop_flip(void*, const float* x, float* y, int n, int h, int w, int c, int pad, uint64_t seed,
                  uint64_t step) {
    const int64_t row = (int64_t)w * c, image = (int64_t)h * row;
    // Threaded by element count, not row count: parallel_for would keep a whole CIFAR batch on one thread.
#pragma omp parallel for schedule(static) if ((int64_t)n * image > kOmpMinWork)
    for (int64_t ia = 0; ia < (int64_t)n * h; ++ia) {
        const int64_t i = ia / h;
        const int a = (int)(ia % h);
        // Each row redraws its image's Philox block (10 rounds): rows stay independent, with no per-image table.
        const qy::CropFlip d = qy::crop_flip_draw(seed, step, (uint32_t)i, pad);
        float* out = y + i * image + (int64_t)a * row;
        const int src_a = a + d.dy;
        if (src_a < 0 || src_a >= h) {
            std::memset(out, 0, sizeof(float) * (size_t)row);
            continue;
        }
        const float* in = x + i * image + (int64_t)src_a * row;
        for (int b = 0; b < w; ++b) {
            const int src_b = d.flip ? w - 1 - b + d.dx : b + d.dx;
            if (src_b < 0 || src_b >= w)
                std::memset(out + (int64_t)b * c, 0, sizeof(float) * (size_t)c);
            else
                std::memcpy(out + (int64_t)b * c, in + (int64_t)src_b * c, sizeof(float) * (size_t)c);
        }
    }
    return QY_OK;
}
