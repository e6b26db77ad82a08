// Max pool 2x2 (stride 2, floor) and global average pool (CPU), NHWC.
#include <cstring>

#include "backend.h"

int cpu_maxpool2x2_fwd(void*, const float* x, float* y, int n, int h, int w, int c) {
    const int ho = h / 2, wo = w / 2;
#pragma omp parallel for collapse(2) schedule(static) if ((int64_t)n * h * w * c > kOmpMinWork)
    for (int i = 0; i < n; ++i)
        for (int oy = 0; oy < ho; ++oy)
            for (int ox = 0; ox < wo; ++ox) {
                const float* p00 = x + (((int64_t)i * h + 2 * oy) * w + 2 * ox) * c;
                const float* p01 = p00 + c;
                const float* p10 = p00 + (int64_t)w * c;
                const float* p11 = p10 + c;
                float* out = y + (((int64_t)i * ho + oy) * wo + ox) * c;
                for (int j = 0; j < c; ++j) {
                    float m = p00[j];
                    if (p01[j] > m) m = p01[j];
                    if (p10[j] > m) m = p10[j];
                    if (p11[j] > m) m = p11[j];
                    out[j] = m;
                }
            }
    return QY_OK;
}

int cpu_maxpool2x2_bwd(void*, const float* x, const float* dy, float* dx, int n, int h, int w, int c) {
    const int ho = h / 2, wo = w / 2;
    std::memset(dx, 0, sizeof(float) * (size_t)n * h * w * c);
#pragma omp parallel for collapse(2) schedule(static) if ((int64_t)n * h * w * c > kOmpMinWork)
    for (int i = 0; i < n; ++i)
        for (int oy = 0; oy < ho; ++oy)
            for (int ox = 0; ox < wo; ++ox) {
                const int64_t base = (((int64_t)i * h + 2 * oy) * w + 2 * ox) * c;
                const int64_t offs[4] = {0, c, (int64_t)w * c, (int64_t)w * c + c};
                const float* g = dy + (((int64_t)i * ho + oy) * wo + ox) * c;
                for (int j = 0; j < c; ++j) {
                    int best = 0;
                    for (int q = 1; q < 4; ++q)
                        if (x[base + offs[q] + j] > x[base + offs[best] + j]) best = q;
                    dx[base + offs[best] + j] = g[j];
                }
            }
    return QY_OK;
}

int cpu_avgpool_global_fwd(void*, const float* x, float* y, int n, int hw, int c) {
#pragma omp parallel for schedule(static) if ((int64_t)n * hw * c > kOmpMinWork)
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < c; ++j) {
            double acc = 0.0;
            for (int p = 0; p < hw; ++p) acc += x[((int64_t)i * hw + p) * c + j];
            y[(int64_t)i * c + j] = (float)(acc / hw);
        }
    return QY_OK;
}

int cpu_avgpool_global_bwd(void*, const float* dy, float* dx, int n, int hw, int c) {
    const float inv = 1.0f / (float)hw;
#pragma omp parallel for schedule(static) if ((int64_t)n * hw * c > kOmpMinWork)
    for (int i = 0; i < n; ++i)
        for (int p = 0; p < hw; ++p)
            for (int j = 0; j < c; ++j) dx[((int64_t)i * hw + p) * c + j] = dy[(int64_t)i * c + j] * inv;
    return QY_OK;
}
