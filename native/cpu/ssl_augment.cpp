// SimCLR view augmentation (CPU): random resized crop, flip, colour jitter and grayscale, semantics in quarry.h
// (qy_simclr_augment). The CUDA twin is cuda/ssl_augment.cu; both draw their choices through qy::simclr_draw
// (simclr_draw.h) and share the per-pixel math (simclr_pixel.h), so they differ only in the loops.
// One image per iteration: the contrast step needs the mean gray level of the whole jittered image, so a jittered
// image makes two passes, the first writing clamped, brightness-adjusted pixels into y while summing their gray levels
// in float64, the second finishing the pixels in place.
#include "backend.h"
#include "simclr_draw.h"
#include "simclr_pixel.h"

int cpu_simclr_augment(void*, const float* x, float* y, int n, int h, int w, int c, const float* mean,
                       const float* std, const qy_simclr_params* params, uint64_t seed, uint64_t step,
                       uint32_t view) {
    qy::SimclrNorm norm{};
    for (int ch = 0; ch < c; ++ch) norm.mean[ch] = mean[ch], norm.std[ch] = std[ch];
    const qy_simclr_params p = *params;
    const int64_t image = (int64_t)h * w * c;
#pragma omp parallel for schedule(dynamic, 1) if ((int64_t)n * image > kOmpMinWork)
    for (int i = 0; i < n; ++i) {
        const qy::SimclrDraw d = qy::simclr_draw(p, h, w, seed, step, (uint32_t)i, view);
        const float* in = x + i * image;
        float* out = y + i * image;
        const bool colour = qy::simclr_colour(d, c);
        double gray_sum = 0.0;
        for (int a = 0; a < h; ++a)
            for (int b = 0; b < w; ++b) {
                float* v = out + ((int64_t)a * w + b) * c;
                qy::simclr_resample(in, h, w, c, d, a, b, v);
                if (!colour) continue;
                qy::simclr_to_pixels(v, c, norm, d);
                gray_sum += (double)qy::simclr_gray(v, c);
            }
        if (!colour) continue;
        const float contrast_mean = (float)(gray_sum / ((double)h * w));
        for (int64_t pix = 0; pix < (int64_t)h * w; ++pix) qy::simclr_finish(out + pix * c, c, norm, d, contrast_mean);
    }
    return QY_OK;
}
