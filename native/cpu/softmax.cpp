// Log-softmax and negative log-likelihood with label smoothing (CPU). Row sums accumulate in double.
#include <cmath>
#include <limits>

#include "backend.h"

int cpu_log_softmax_fwd(void*, const float* x, float* y, int n, int c) {
#pragma omp parallel for schedule(static) if ((int64_t)n * c > kOmpMinWork)
    for (int i = 0; i < n; ++i) {
        const float* xr = x + (int64_t)i * c;
        float mx = xr[0];
        for (int j = 1; j < c; ++j) mx = xr[j] > mx ? xr[j] : mx;
        double s = 0.0;
        for (int j = 0; j < c; ++j) s += std::exp((double)(xr[j] - mx));
        float lse = mx + (float)std::log(s);
        for (int j = 0; j < c; ++j) y[(int64_t)i * c + j] = xr[j] - lse;
    }
    return QY_OK;
}

int cpu_log_softmax_bwd(void*, const float* y, const float* dy, float* dx, int n, int c) {
#pragma omp parallel for schedule(static) if ((int64_t)n * c > kOmpMinWork)
    for (int i = 0; i < n; ++i) {
        const int64_t o = (int64_t)i * c;
        double s = 0.0;
        for (int j = 0; j < c; ++j) s += dy[o + j];
        for (int j = 0; j < c; ++j) dx[o + j] = dy[o + j] - std::exp(y[o + j]) * (float)s;
    }
    return QY_OK;
}

int cpu_nll_fwd(void*, const float* logp, const int32_t* labels, float* loss, int n, int c, float smoothing) {
    double total = 0.0;
    for (int i = 0; i < n; ++i) {
        int32_t t = labels[i];
        if (t < 0 || t >= c) {
            loss[0] = std::numeric_limits<float>::quiet_NaN();
            return QY_OK;
        }
        const float* row = logp + (int64_t)i * c;
        double all = 0.0;
        if (smoothing > 0.0f)
            for (int j = 0; j < c; ++j) all += row[j];
        total -= (1.0 - smoothing) * row[t] + (double)smoothing / c * all;
    }
    loss[0] = (float)(total / n);
    return QY_OK;
}

int cpu_nll_bwd(void*, const int32_t* labels, float* dlogp, int n, int c, float smoothing, float scale) {
    const float off = -scale * smoothing / (float)c / (float)n;
    const float on = off - scale * (1.0f - smoothing) / (float)n;
#pragma omp parallel for schedule(static) if ((int64_t)n * c > kOmpMinWork)
    for (int i = 0; i < n; ++i) {
        int32_t t = labels[i];
        bool ok = t >= 0 && t < c;
        for (int j = 0; j < c; ++j)
            dlogp[(int64_t)i * c + j] = !ok ? std::numeric_limits<float>::quiet_NaN() : (j == t ? on : off);
    }
    return QY_OK;
}
