// Fully connected layer (CPU): y = x W^T + b, W [out][in]; three GEMMs through qy::sgemm.
#include "backend.h"
#include "gemm.h"

int cpu_linear_fwd(void*, const float* x, const float* wt, const float* bias, float* y, int n, int in, int out) {
    qy::sgemm(false, true, n, out, in, 1.0f, x, in, wt, in, 0.0f, y, out);
    if (bias) {
#pragma omp parallel for schedule(static) if ((int64_t)n * out > kOmpMinWork)
        for (int i = 0; i < n; ++i)
            for (int j = 0; j < out; ++j) y[(int64_t)i * out + j] += bias[j];
    }
    return QY_OK;
}

int cpu_linear_bwd_data(void*, const float* dy, const float* wt, float* dx, int n, int in, int out) {
    qy::sgemm(false, false, n, in, out, 1.0f, dy, out, wt, in, 0.0f, dx, in);
    return QY_OK;
}

int cpu_linear_bwd_weight(void*, const float* x, const float* dy, float* dwt, float* dbias, int n, int in, int out) {
    qy::sgemm(true, false, out, in, n, 1.0f, dy, out, x, in, 0.0f, dwt, in);
    if (dbias) {
#pragma omp parallel for schedule(static) if ((int64_t)n * out > kOmpMinWork)
        for (int j = 0; j < out; ++j) {
            double acc = 0.0;
            for (int i = 0; i < n; ++i) acc += dy[(int64_t)i * out + j];
            dbias[j] = (float)acc;
        }
    }
    return QY_OK;
}
