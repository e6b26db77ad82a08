// LARS (CPU): one layer-wise adaptive step per parameter tensor, semantics in quarry.h (qy_lars_step); the CUDA twin
// is cuda/lars.cu and both take the step size from qy::lars_scale (lars.h). The two sums of squares are float64 over
// fixed chunks combined in chunk order, so the result does not depend on the number of threads.
#include <algorithm>
#include <vector>

#include "backend.h"
#include "lars.h"

int cpu_lars_step(void*, float* param, const float* grad, float* momentum_buf, int64_t n, float lr, float momentum,
                  float weight_decay, float eta, int adapt) {
    float scale = lr, decay = 0.0f;
    if (adapt) {
        constexpr int64_t kChunk = 1 << 14;
        const int64_t chunks = (n + kChunk - 1) / kChunk;
        std::vector<double> ww((size_t)chunks), gg((size_t)chunks);
#pragma omp parallel for schedule(static) if (n > kOmpMinWork)
        for (int64_t k = 0; k < chunks; ++k) {
            double sw = 0.0, sg = 0.0;
            for (int64_t i = k * kChunk, end = std::min(n, i + kChunk); i < end; ++i) {
                sw += (double)param[i] * param[i];
                sg += (double)grad[i] * grad[i];
            }
            ww[(size_t)k] = sw;
            gg[(size_t)k] = sg;
        }
        double sw = 0.0, sg = 0.0;
        for (int64_t k = 0; k < chunks; ++k) sw += ww[(size_t)k], sg += gg[(size_t)k];
        scale = qy::lars_scale(sw, sg, lr, weight_decay, eta);
        decay = weight_decay;
    }
    parallel_for(n, [&](int64_t i) {
        momentum_buf[i] = momentum * momentum_buf[i] + scale * (grad[i] + decay * param[i]);
        param[i] -= momentum_buf[i];
    });
    return QY_OK;
}
