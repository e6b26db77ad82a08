// Elementwise ops and optimizer updates (CPU). Semantics in quarry.h; CUDA twin in cuda/elementwise.cu.
#include <algorithm>
#include <cmath>

#include "backend.h"

int cpu_add(void*, const float* a, const float* b, float* y, int64_t n) {
    parallel_for(n, [=](int64_t i) { y[i] = a[i] + b[i]; });
    return QY_OK;
}

int cpu_axpy(void*, float alpha, const float* x, float* y, int64_t n) {
    parallel_for(n, [=](int64_t i) { y[i] += alpha * x[i]; });
    return QY_OK;
}

int cpu_swap01(void*, const float* x, float* y, int64_t na, int64_t nb, int64_t nc) {
    // one task per output row y[b][a][*], a contiguous copy of nc floats
    parallel_for(na * nb, [=](int64_t r) {
        int64_t b = r / na, a = r % na;
        const float* src = x + (a * nb + b) * nc;
        float* dst = y + r * nc;
        for (int64_t c = 0; c < nc; ++c) dst[c] = src[c];
    });
    return QY_OK;
}

int cpu_l2norm_rows_fwd(void*, const float* x, float* y, float* invnorm, int64_t n, int64_t d) {
    parallel_for(n, [=](int64_t i) {
        const float* xi = x + i * d;
        double ss = 0;
        for (int64_t j = 0; j < d; ++j) ss += (double)xi[j] * xi[j];
        double inv = 1.0 / std::max(std::sqrt(ss), 1e-12);
        invnorm[i] = (float)inv;
        for (int64_t j = 0; j < d; ++j) y[i * d + j] = (float)(xi[j] * inv);
    });
    return QY_OK;
}

int cpu_l2norm_rows_bwd(void*, const float* y, const float* invnorm, const float* dy, float* dx, int64_t n, int64_t d) {
    parallel_for(n, [=](int64_t i) {
        const float *yi = y + i * d, *gi = dy + i * d;
        double dot = 0;
        for (int64_t j = 0; j < d; ++j) dot += (double)yi[j] * gi[j];
        for (int64_t j = 0; j < d; ++j) dx[i * d + j] = (float)(invnorm[i] * (gi[j] - yi[j] * dot));
    });
    return QY_OK;
}

int cpu_relu_fwd(void*, const float* x, float* y, int64_t n) {
    parallel_for(n, [=](int64_t i) { y[i] = x[i] > 0.0f ? x[i] : 0.0f; });
    return QY_OK;
}

int cpu_relu_bwd(void*, const float* y, const float* dy, float* dx, int64_t n) {
    parallel_for(n, [=](int64_t i) { dx[i] = y[i] > 0.0f ? dy[i] : 0.0f; });
    return QY_OK;
}

int cpu_sgd_step(void*, float* param, const float* grad, float* buf, int64_t n, float lr, float momentum,
                 float dampening, float weight_decay, int nesterov, int first_step) {
    parallel_for(n, [=](int64_t i) {
        float g = grad[i] + weight_decay * param[i];
        if (momentum > 0.0f) {
            float b = first_step ? g : momentum * buf[i] + (1.0f - dampening) * g;
            buf[i] = b;
            g = nesterov ? g + momentum * b : b;
        }
        param[i] -= lr * g;
    });
    return QY_OK;
}

int cpu_adam_step(void*, float* param, const float* grad, float* m, float* v, int64_t n, float lr, float beta1,
                  float beta2, float eps, float weight_decay, int decoupled, int64_t step) {
    const float bias1 = (float)(1.0 - std::pow((double)beta1, (double)step));
    const float bias2 = (float)(1.0 - std::pow((double)beta2, (double)step));
    parallel_for(n, [=](int64_t i) {
        float p = param[i];
        float g = grad[i];
        if (decoupled)
            p *= 1.0f - lr * weight_decay;
        else
            g += weight_decay * p;
        float mi = beta1 * m[i] + (1.0f - beta1) * g;
        float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] = p - lr * (mi / bias1) / (std::sqrt(vi / bias2) + eps);
    });
    return QY_OK;
}
