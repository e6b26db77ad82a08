// SimCLR augmentation (CPU), semantics in quarry.h (qy_simclr_augment); draw and pixel math in src/simclr.h,
// shared with cuda/ssl_augment.cu. Two passes per image when jittering: the mean gray level after brightness
// (contrast needs it), then every output pixel.
#include "backend.h"
#include "simclr.h"

int cpu_simclr_augment(void*, const float* x, float* y, int n, int h, int w, int c, const float* mean, const float* std,
                       qy::SimclrParams p, uint64_t seed, uint64_t step, uint32_t view) {
    const int64_t image = (int64_t)h * w * c;
#pragma omp parallel for schedule(dynamic, 1) if ((int64_t)n * image > kOmpMinWork)
    for (int i = 0; i < n; ++i) {
        const qy::SimclrDraw d = qy::simclr_draw(seed, step, (uint32_t)i, view, h, w, p);
        const float* img = x + i * image;
        float v[4];
        float m = 0.0f;
        if (d.jitter) {
            double sum = 0;
            for (int a = 0; a < h; ++a)
                for (int b = 0; b < w; ++b) {
                    qy::simclr_sample(img, h, w, c, d, a, b, mean, std, v);
                    sum += qy::simclr_gray(v, c);
                }
            m = (float)(sum / ((double)h * w));
        }
        for (int a = 0; a < h; ++a)
            for (int b = 0; b < w; ++b) {
                qy::simclr_sample(img, h, w, c, d, a, b, mean, std, v);
                qy::simclr_finish(v, c, d, m, mean, std);
                float* out = y + i * image + ((int64_t)a * w + b) * c;
                for (int k = 0; k < c; ++k) out[k] = v[k];
            }
    }
    return QY_OK;
}
