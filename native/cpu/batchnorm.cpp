// Batch norm over x [m][c] (CPU). Statistics accumulate in double over a fixed number of row blocks reduced in
// order, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "backend.h"

namespace {

constexpr int64_t kBlocks = 64;

// sums[c] (and sums2[c] when f2 is given) over rows, each a sum over the row of f(row, channel).
template <class F1, class F2>
void column_sums(int64_t m, int c, F1 f1, F2 f2, std::vector<double>& s1, std::vector<double>& s2) {
    int64_t blocks = std::min<int64_t>(kBlocks, m);
    std::vector<double> part1((size_t)(blocks * c), 0.0), part2((size_t)(blocks * c), 0.0);
#pragma omp parallel for schedule(static) if (m * c > kOmpMinWork)
    for (int64_t b = 0; b < blocks; ++b) {
        int64_t r0 = m * b / blocks, r1 = m * (b + 1) / blocks;
        double* p1 = &part1[(size_t)(b * c)];
        double* p2 = &part2[(size_t)(b * c)];
        for (int64_t r = r0; r < r1; ++r)
            for (int j = 0; j < c; ++j) {
                p1[j] += f1(r, j);
                p2[j] += f2(r, j);
            }
    }
    s1.assign((size_t)c, 0.0);
    s2.assign((size_t)c, 0.0);
    for (int64_t b = 0; b < blocks; ++b)
        for (int j = 0; j < c; ++j) {
            s1[(size_t)j] += part1[(size_t)(b * c + j)];
            s2[(size_t)j] += part2[(size_t)(b * c + j)];
        }
}

}  // namespace

int cpu_batchnorm_fwd_train(void*, const float* x, const float* gamma, const float* beta, float* y, float* save_mean,
                            float* save_invstd, float* running_mean, float* running_var, int64_t m, int c,
                            float momentum, float eps) {
    std::vector<double> sum, unused;
    column_sums(m, c, [&](int64_t r, int j) { return (double)x[r * c + j]; }, [](int64_t, int) { return 0.0; }, sum,
                unused);
    std::vector<double> mean((size_t)c);
    for (int j = 0; j < c; ++j) mean[(size_t)j] = sum[(size_t)j] / (double)m;
    std::vector<double> sq;
    column_sums(m, c,
                [&](int64_t r, int j) {
                    double d = (double)x[r * c + j] - mean[(size_t)j];
                    return d * d;
                },
                [](int64_t, int) { return 0.0; }, sq, unused);
    std::vector<float> scale((size_t)c), shift((size_t)c);
    for (int j = 0; j < c; ++j) {
        double var = sq[(size_t)j] / (double)m;
        double invstd = 1.0 / std::sqrt(var + (double)eps);
        save_mean[j] = (float)mean[(size_t)j];
        save_invstd[j] = (float)invstd;
        running_mean[j] = (1.0f - momentum) * running_mean[j] + momentum * (float)mean[(size_t)j];
        running_var[j] = (1.0f - momentum) * running_var[j] + momentum * (float)(var * (double)m / (double)(m - 1));
        scale[(size_t)j] = (float)(gamma[j] * invstd);
        shift[(size_t)j] = (float)(beta[j] - gamma[j] * invstd * mean[(size_t)j]);
    }
#pragma omp parallel for schedule(static) if (m * c > kOmpMinWork)
    for (int64_t r = 0; r < m; ++r)
        for (int j = 0; j < c; ++j) y[r * c + j] = x[r * c + j] * scale[(size_t)j] + shift[(size_t)j];
    return QY_OK;
}

int cpu_batchnorm_fwd_infer(void*, const float* x, const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, float* y, int64_t m, int c, float eps) {
    std::vector<float> scale((size_t)c), shift((size_t)c);
    for (int j = 0; j < c; ++j) {
        double invstd = 1.0 / std::sqrt((double)running_var[j] + (double)eps);
        scale[(size_t)j] = (float)(gamma[j] * invstd);
        shift[(size_t)j] = (float)(beta[j] - gamma[j] * invstd * running_mean[j]);
    }
#pragma omp parallel for schedule(static) if (m * c > kOmpMinWork)
    for (int64_t r = 0; r < m; ++r)
        for (int j = 0; j < c; ++j) y[r * c + j] = x[r * c + j] * scale[(size_t)j] + shift[(size_t)j];
    return QY_OK;
}

// dx = gamma * invstd / m * (m * dy - dbeta - xhat * dgamma), dbeta = sum dy, dgamma = sum dy * xhat.
int cpu_batchnorm_bwd(void*, const float* x, const float* dy, const float* gamma, const float* save_mean,
                      const float* save_invstd, float* dx, float* dgamma, float* dbeta, int64_t m, int c) {
    std::vector<double> sdy, sdyx;
    column_sums(m, c, [&](int64_t r, int j) { return (double)dy[r * c + j]; },
                [&](int64_t r, int j) {
                    return (double)dy[r * c + j] * ((double)x[r * c + j] - save_mean[j]) * save_invstd[j];
                },
                sdy, sdyx);
    std::vector<float> k1((size_t)c), k2((size_t)c), k3((size_t)c);
    for (int j = 0; j < c; ++j) {
        dbeta[j] = (float)sdy[(size_t)j];
        dgamma[j] = (float)sdyx[(size_t)j];
        double g = (double)gamma[j] * save_invstd[j];
        // dx = g * dy - g/m * dbeta - g/m * dgamma * xhat
        k1[(size_t)j] = (float)g;
        k2[(size_t)j] = (float)(g * sdy[(size_t)j] / (double)m);
        k3[(size_t)j] = (float)(g * sdyx[(size_t)j] / (double)m * save_invstd[j]);
    }
#pragma omp parallel for schedule(static) if (m * c > kOmpMinWork)
    for (int64_t r = 0; r < m; ++r)
        for (int j = 0; j < c; ++j)
            dx[r * c + j] = k1[(size_t)j] * dy[r * c + j] - k2[(size_t)j] -
                            k3[(size_t)j] * (x[r * c + j] - save_mean[j]);
    return QY_OK;
}
