// Acquisition scores and the BatchBALD joint-entropy machinery (CPU), all in float64.
// The CPU joint entropy lowers to GEMM: for a chunk of candidates, J[r][(x, j)] = (1/K) P[r][:] . B[:][(x, j)] with
// B the chunk's probabilities transposed to [kk][x][j], then each column block is reduced by x log x and weighted.
// That writes J chunk by chunk into a bounded scratch buffer; the CUDA twin fuses the reduction instead.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "backend.h"
#include "gemm.h"
#include "philox.h"

namespace {

inline double xlogx(double p) { return p > 0.0 ? p * std::log(p) : 0.0; }

// x log x without branches or libm calls so the column loop below vectorises: x = 2^e m with m in
// [sqrt(1/2), sqrt(2)), log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.1716, series to s^21 (truncation
// below 1e-16 relative). x = 0 gives 0 (the bit pattern decodes to a finite log); subnormal x (< 2.3e-308) is
// decoded inexactly, but there x log x is below 1e-305 in magnitude.
inline double xlogx_fast(double x) {
    uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    // exponent as a double without an int64 conversion (AVX2 has none): 2^52 + biased exponent, minus 2^52 + 1023
    uint64_t ebits = ((bits >> 52) & 0x7ff) | 0x4330000000000000ull;
    double e;
    std::memcpy(&e, &ebits, sizeof e);
    e -= 4503599627371519.0;
    uint64_t mbits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
    double m;
    std::memcpy(&m, &mbits, sizeof m);
    const bool big = m > 1.4142135623730951;
    m = big ? 0.5 * m : m;
    e = big ? e + 1.0 : e;
    const double s = (m - 1.0) / (m + 1.0), s2 = s * s;
    double poly = 1.0 / 21;
    poly = poly * s2 + 1.0 / 19;
    poly = poly * s2 + 1.0 / 17;
    poly = poly * s2 + 1.0 / 15;
    poly = poly * s2 + 1.0 / 13;
    poly = poly * s2 + 1.0 / 11;
    poly = poly * s2 + 1.0 / 9;
    poly = poly * s2 + 1.0 / 7;
    poly = poly * s2 + 1.0 / 5;
    poly = poly * s2 + 1.0 / 3;
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double log_x = e * ln2_hi + (e * ln2_lo + 2.0 * s + 2.0 * s * s2 * poly);
    return x * log_x;
}

// colsum[j] += w * x log x over one row of J; compiled for AVX-512, AVX2 and baseline, chosen at load time.
__attribute__((target_clones("avx512f", "avx2", "default"))) void accumulate_xlogx(const double* __restrict row,
                                                                                   int64_t cols, double w,
                                                                                   double* __restrict colsum) {
#pragma omp simd
    for (int64_t j = 0; j < cols; ++j) colsum[j] += w * xlogx_fast(row[j]);
}

inline double load(const void* logp, int dtype, int64_t i) {
    return dtype == QY_F32 ? (double)static_cast<const float*>(logp)[i] : static_cast<const double*>(logp)[i];
}

// One pool point: p [k][c] probabilities in float64 (scratch of k*c), its score of the given kind.
double score_point(const double* p, int k, int c, int kind, std::vector<double>& mean, std::vector<int>& votes) {
    mean.assign((size_t)c, 0.0);
    for (int kk = 0; kk < k; ++kk)
        for (int j = 0; j < c; ++j) mean[(size_t)j] += p[kk * c + j];
    for (int j = 0; j < c; ++j) mean[(size_t)j] /= k;
    auto entropy_of_mean = [&] {
        double h = 0.0;
        for (int j = 0; j < c; ++j) h -= xlogx(mean[(size_t)j]);
        return h;
    };
    auto mean_entropy = [&] {
        double h = 0.0;
        for (int i = 0; i < k * c; ++i) h -= xlogx(p[i]);
        return h / k;
    };
    switch (kind) {
        case QY_SCORE_ENTROPY:
            return entropy_of_mean();
        case QY_SCORE_BALD:
            return entropy_of_mean() - mean_entropy();
        case QY_SCORE_COND_ENTROPY:
            return mean_entropy();
        case QY_SCORE_LEAST_CONFIDENCE:
            return 1.0 - *std::max_element(mean.begin(), mean.end());
        case QY_SCORE_MARGIN: {
            // with c = 1 the missing second class counts as probability 0
            double first = -1.0, second = 0.0;
            for (double v : mean) {
                if (v > first) {
                    second = std::max(second, first);
                    first = v;
                } else {
                    second = std::max(second, v);
                }
            }
            return second - first;
        }
        case QY_SCORE_VARIATION_RATIOS: {
            votes.assign((size_t)c, 0);
            for (int kk = 0; kk < k; ++kk) {
                const double* row = p + (int64_t)kk * c;
                int best = 0;
                for (int j = 1; j < c; ++j)
                    if (row[j] > row[best]) best = j;
                votes[(size_t)best]++;
            }
            return 1.0 - (double)*std::max_element(votes.begin(), votes.end()) / k;
        }
        case QY_SCORE_MEAN_STD: {
            double total = 0.0;
            for (int j = 0; j < c; ++j) {
                double var = 0.0;
                for (int kk = 0; kk < k; ++kk) {
                    double d = p[kk * c + j] - mean[(size_t)j];
                    var += d * d;
                }
                total += std::sqrt(var / k);
            }
            return total / c;
        }
        default:
            return 0.0;
    }
}

}  // namespace

int cpu_acq_score(void*, const void* logp, int dtype, int64_t n, int k, int c, int kind, double* scores) {
    const int64_t kc = (int64_t)k * c;
#pragma omp parallel if (n * kc > kOmpMinWork)
    {
        std::vector<double> p((size_t)kc), mean;
        std::vector<int> votes;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; ++i) {
            for (int64_t e = 0; e < kc; ++e) p[(size_t)e] = std::exp(load(logp, dtype, i * kc + e));
            scores[i] = score_point(p.data(), k, c, kind, mean, votes);
        }
    }
    return QY_OK;
}

int cpu_logp_to_probs(void*, const void* logp, int dtype, int64_t count, double* probs) {
#pragma omp parallel for schedule(static) if (count > kOmpMinWork)
    for (int64_t i = 0; i < count; ++i) probs[i] = std::exp(load(logp, dtype, i));
    return QY_OK;
}

int cpu_joint_extend(void*, const double* p, int64_t m, const double* probs_a, int k, int c, double* p_new) {
#pragma omp parallel for schedule(static) if (m * c * k > kOmpMinWork)
    for (int64_t i = 0; i < m; ++i)
        for (int j = 0; j < c; ++j)
            for (int kk = 0; kk < k; ++kk) p_new[(i * c + j) * k + kk] = p[i * k + kk] * probs_a[(int64_t)kk * c + j];
    return QY_OK;
}

int cpu_joint_sample(void*, const double* probs_chosen, int a, int k, int c, int64_t s, uint64_t seed, uint32_t step,
                     double* p, double* w) {
    const int64_t m = (int64_t)k * s;
#pragma omp parallel if (m * a * k > kOmpMinWork)
    {
        std::vector<int> y((size_t)a);
#pragma omp for schedule(static)
        for (int64_t r = 0; r < m; ++r) {
            const int64_t kk = r / s;
            for (int i = 0; i < a; ++i) {
                qy::U4 blk = qy::joint_sample_block(seed, (uint64_t)r, (uint32_t)i, step);
                double u = qy::uniform01_f64(blk.x, blk.y);
                const double* row = probs_chosen + ((int64_t)i * k + kk) * c;
                int cls = c - 1;
                double cum = 0.0;
                for (int j = 0; j < c; ++j) {
                    cum += row[j];
                    if (u < cum) {
                        cls = j;
                        break;
                    }
                }
                y[(size_t)i] = cls;
            }
            double q = 0.0;
            for (int k2 = 0; k2 < k; ++k2) {
                double prod = 1.0;
                for (int i = 0; i < a; ++i) prod *= probs_chosen[((int64_t)i * k + k2) * c + y[(size_t)i]];
                p[r * k + k2] = prod;
                q += prod;
            }
            q /= k;
            w[r] = q > 0.0 ? 1.0 / ((double)m * q) : 0.0;
        }
    }
    return QY_OK;
}

int cpu_joint_entropy(void*, const double* p, const double* w, int64_t m, const double* probs, int64_t n, int k, int c,
                      double* out) {
    // Scratch bounds: candidates per chunk so B is ~4 MB, rows per chunk so J is ~32 MB.
    const int64_t cand = std::max<int64_t>(1, std::min<int64_t>(n, (4ll << 20) / 8 / ((int64_t)k * c)));
    const int64_t cols = cand * c;
    const int64_t rows = std::max<int64_t>(1, std::min<int64_t>(m, (32ll << 20) / 8 / cols));
    std::vector<double> b((size_t)(k * cols)), j((size_t)(rows * cols));
    for (int64_t x0 = 0; x0 < n; x0 += cand) {
        const int64_t nx = std::min(cand, n - x0), ncols = nx * c;
        for (int64_t x = 0; x < nx; ++x)
            for (int kk = 0; kk < k; ++kk)
                for (int jj = 0; jj < c; ++jj)
                    b[(size_t)(kk * ncols + x * c + jj)] = probs[((x0 + x) * k + kk) * c + jj];
        // Column sums of w[r] J log J in fixed row order (deterministic), split over threads by column block.
        std::vector<double> colsum((size_t)ncols, 0.0);
        for (int64_t r0 = 0; r0 < m; r0 += rows) {
            const int64_t nr = std::min(rows, m - r0);
            qy::dgemm(false, false, nr, ncols, k, 1.0 / k, p + r0 * k, k, b.data(), ncols, 0.0, j.data(), ncols);
            const int64_t block = 512;
#pragma omp parallel for schedule(static) if (nr * ncols > kOmpMinWork)
            for (int64_t c0 = 0; c0 < ncols; c0 += block) {
                const int64_t nc = std::min(block, ncols - c0);
                for (int64_t r = 0; r < nr; ++r)
                    accumulate_xlogx(j.data() + r * ncols + c0, nc, w ? w[r0 + r] : 1.0, colsum.data() + c0);
            }
        }
        std::vector<double> acc((size_t)nx, 0.0);
        for (int64_t x = 0; x < nx; ++x)
            for (int jj = 0; jj < c; ++jj) acc[(size_t)x] -= colsum[(size_t)(x * c + jj)];
        for (int64_t x = 0; x < nx; ++x) out[x0 + x] = acc[(size_t)x];
    }
    return QY_OK;
}
