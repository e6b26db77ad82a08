// Philox-based random fills and dropout (CPU). The counter layout is the contract in quarry.h; the CUDA twin in
// cuda/elementwise.cu uses the same philox.h, so both backends draw identical numbers.
#include <cmath>
#include <vector>

#include "backend.h"
#include "philox.h"

extern "C" void qy_philox4x32_10(const uint32_t* c, const uint32_t* k, uint32_t* out) {
    qy::U4 r = qy::philox4x32_10(qy::U4{c[0], c[1], c[2], c[3]}, k[0], k[1]);
    out[0] = r.x;
    out[1] = r.y;
    out[2] = r.z;
    out[3] = r.w;
}

int cpu_fill(void*, float* out, int64_t n, float value) {
    parallel_for(n, [=](int64_t i) { out[i] = value; });
    return QY_OK;
}

int cpu_fill_uniform(void*, float* out, int64_t n, uint64_t seed, uint32_t stream_id, float lo, float hi) {
    int64_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > kOmpMinWork)
    for (int64_t b = 0; b < blocks; ++b) {
        qy::U4 r = qy::fill_block(seed, stream_id, (uint64_t)b);
        for (int j = 0; j < 4 && 4 * b + j < n; ++j) out[4 * b + j] = lo + (hi - lo) * qy::uniform01(qy::word(r, j));
    }
    return QY_OK;
}

int cpu_fill_normal(void*, float* out, int64_t n, uint64_t seed, uint32_t stream_id, float mean, float std) {
    const double two_pi = 6.283185307179586;
    int64_t blocks = (n + 3) / 4;
#pragma omp parallel for schedule(static) if (n > kOmpMinWork)
    for (int64_t b = 0; b < blocks; ++b) {
        qy::U4 r = qy::fill_block(seed, stream_id, (uint64_t)b);
        for (int pair = 0; pair < 2; ++pair) {
            double rad = std::sqrt(-2.0 * std::log((double)qy::uniform01_open0(qy::word(r, 2 * pair))));
            double theta = two_pi * (double)qy::uniform01(qy::word(r, 2 * pair + 1));
            int64_t i = 4 * b + 2 * pair;
            if (i < n) out[i] = mean + std * (float)(rad * std::cos(theta));
            if (i + 1 < n) out[i + 1] = mean + std * (float)(rad * std::sin(theta));
        }
    }
    return QY_OK;
}

int cpu_dropout(void*, const float* x, float* y, int64_t rows, int64_t spatial, int64_t units, float p, uint64_t seed,
                uint32_t layer, uint64_t k0, int64_t rows_per_sample) {
    const float scale = 1.0f / (1.0f - p);
#pragma omp parallel if (rows * spatial * units > kOmpMinWork)
    {
        std::vector<float> mask((size_t)units);
        uint64_t mask_k = 0;
        bool have_mask = false;
#pragma omp for schedule(static)
        for (int64_t r = 0; r < rows; ++r) {
            uint64_t k = k0 + (uint64_t)(r / rows_per_sample);
            if (!have_mask || k != mask_k) {
                for (int64_t u = 0; u < units; ++u)
                    mask[(size_t)u] = qy::dropout_keep(seed, layer, k, (uint64_t)u, p) ? scale : 0.0f;
                mask_k = k;
                have_mask = true;
            }
            const float* xr = x + r * spatial * units;
            float* yr = y + r * spatial * units;
            for (int64_t s = 0; s < spatial; ++s)
                for (int64_t u = 0; u < units; ++u) yr[s * units + u] = xr[s * units + u] * mask[(size_t)u];
        }
    }
    return QY_OK;
}
