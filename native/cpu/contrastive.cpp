// Contrastive losses (CPU): NT-Xent (SimCLR) and InfoNCE with a queue (MoCo), forward and backward, plus MoCo's
// momentum update and ring-buffer enqueue. CUDA twin: cuda/contrastive.cu. Semantics: quarry.h.
//
// Both losses are a softmax over a row of logits s_ij = a_i . b_j / tau. The rows are processed in panels of kRows
// and the columns in blocks of kCols: one float32 block of logits (1 MiB) comes from one SGEMM, then each of the
// panel's rows (see kRowTeam for which threads) updates an online log-sum-exp (running max m_i and sum l_i, in
// double) with that block. The full logit matrix (2n x 2n, or n x kq) never exists. The backward pass recomputes
// each block, turns it into the weights dL/ds in place and folds it into the gradient with a second SGEMM
// (G += W . B_block).
//
// Napkin math: NT-Xent at n = 1024 pairs, d = 128: the logits are 2048^2 = 4.2M elements; forward 1.1 GFLOP of
// GEMM and 4.2M exponentials, backward 2.1 GFLOP and 8.4M exponentials. With OpenBLAS at ~175 GFLOP/s on two cores
// the GEMMs take ~18 ms and the vectorised exponentials a few more; measured: 26 ms per forward + backward.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "backend.h"
#include "gemm.h"

namespace {

constexpr int64_t kRows = 128, kCols = 2048;

// With OpenBLAS, its own threads run the GEMMs, and an OpenMP team woken between two GEMM calls keeps spinning
// (libgomp's default wait policy) on the cores OpenBLAS needs: measured on 2 cores at n = 1024 pairs, d = 128, one
// forward + backward took 286 ms that way, 26 ms with OMP_WAIT_POLICY=passive. So the per-row work stays on the
// calling thread there; with the built-in GEMM (an OpenMP loop itself) the rows use the team as well.
#ifdef QUARRY_WITH_OPENBLAS
constexpr bool kRowTeam = false;
#else
constexpr bool kRowTeam = true;
#endif
constexpr double kNormEps = 1e-12;  // torch.nn.functional.normalize's eps
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int64_t panel_rows(int64_t rows) { return std::min(rows, kRows); }
int64_t block_cols(int64_t cols) { return std::min(cols, kCols); }

inline float from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}
inline uint32_t to_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

// exp(x) without libm so the loops below vectorise (Cephes expf: x = n ln 2 + r, |r| <= ln2 / 2, degree-6
// polynomial, about 1 ulp). Exactly 0 below -87 (where 2^n would leave the normal range), so a -inf logit (the
// masked diagonal) contributes nothing; NaN stays NaN.
inline float exp_fast(float x) {
    const float magic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits
    const float xc = x > 88.0f ? 88.0f : (x < -87.0f ? -87.0f : x);
    const float t = xc * 1.44269504088896341f + magic;
    const float nf = t - magic;
    const int32_t ni = (int32_t)(to_bits(t) - to_bits(magic));
    float r = xc - nf * 0.693359375f;
    r = r - nf * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const float y = p * from_bits((uint32_t)(ni + 127) << 23);
    return x < -87.0f ? 0.0f : (x != x ? x : y);
}

__attribute__((target_clones("avx512f", "avx2", "default"))) float row_max(const float* __restrict s, int64_t n) {
    float m = kNegInf;
#pragma omp simd reduction(max : m)
    for (int64_t j = 0; j < n; ++j) m = s[j] > m ? s[j] : m;
    return m;
}

// sum_j exp(s_j - shift): float lanes over one block (at most kCols terms of at most 1 each), returned as double.
__attribute__((target_clones("avx512f", "avx2", "default"))) double row_sumexp(const float* __restrict s, int64_t n,
                                                                               float shift) {
    float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
    for (int64_t j = 0; j < n; ++j) acc += exp_fast(s[j] - shift);
    return (double)acc;
}

// w_j = exp(s_j - lse_row) (+ exp(s_j - lse_col[j]) when lse_col is given), in place; returns sum_j exp(s_j - lse_row),
// the row's probability mass in this block. Masked logits are -inf and get weight 0.
__attribute__((target_clones("avx512f", "avx2", "default"))) double row_weights(float* __restrict s, int64_t n,
                                                                                float lse_row,
                                                                                const float* __restrict lse_col) {
    float mass = 0.0f;
    if (lse_col) {
#pragma omp simd reduction(+ : mass)
        for (int64_t j = 0; j < n; ++j) {
            const float a = exp_fast(s[j] - lse_row);
            mass += a;
            s[j] = a + exp_fast(s[j] - lse_col[j]);
        }
    } else {
#pragma omp simd reduction(+ : mass)
        for (int64_t j = 0; j < n; ++j) {
            s[j] = exp_fast(s[j] - lse_row);
            mass += s[j];
        }
    }
    return (double)mass;
}

// Folds one block row into the running (m, l): m = max, l = sum exp(s - m). A block whose logits are all -inf (only
// the masked diagonal) changes nothing.
inline void online_update(double& m, double& l, const float* s, int64_t n) {
    const float bm = row_max(s, n);  // NaN logits are skipped here but make l NaN below
    if (!(bm > kNegInf)) return;
    const double mn = std::max(m, (double)bm);
    l = l * std::exp(m - mn) + row_sumexp(s, n, (float)mn) * std::exp((double)(float)mn - mn);
    m = mn;
}

double dot_d(const float* a, const float* b, int d) {
    double s = 0.0;
    for (int k = 0; k < d; ++k) s += (double)a[k] * b[k];
    return s;
}

double row_norm(const float* zr, int d) { return std::sqrt(dot_d(zr, zr, d)); }

// u = z * invnorm row by row. Forward: invnorm_i = 1 / max(|z_i|, eps) is computed into computed_inv; backward:
// the saved one is passed as saved_inv, so both passes scale by the same float.
void normalise(const float* z, int64_t rows, int d, const float* saved_inv, float* computed_inv, float* u) {
#pragma omp parallel for schedule(static) if (kRowTeam && rows * d > kOmpMinWork)
    for (int64_t i = 0; i < rows; ++i) {
        const float* zr = z + i * d;
        const float inv = saved_inv ? saved_inv[i] : (float)(1.0 / std::max(row_norm(zr, d), kNormEps));
        if (computed_inv) computed_inv[i] = inv;
        for (int k = 0; k < d; ++k) u[i * d + k] = zr[k] * inv;
    }
}

// Mean over rows of (lse_i - positive_i) in double, written as float.
float mean_loss(const double* lse, const double* pos, int64_t rows) {
    double s = 0.0;
    for (int64_t i = 0; i < rows; ++i) s += lse[i] - pos[i];
    return (float)(s / (double)rows);
}

}  // namespace

int64_t cpu_ntxent_scratch_bytes(int n, int d) {
    const int64_t rows = 2 * (int64_t)n, r = panel_rows(rows), c = block_cols(rows);
    const int64_t common = 4 * rows * d + 4 * r * c;  // normalised rows, one block of logits
    return common + std::max(3 * 8 * rows, 4 * rows * d + 8 * rows);  // forward: m, l, pos; backward: g, nm
}

int64_t cpu_infonce_queue_scratch_bytes(int n, int64_t kq, int d) {
    const int64_t r = panel_rows(n), c = block_cols(kq);
    return 4 * r * c + std::max<int64_t>(3 * 8 * (int64_t)n, 4 * r * d + 8 * (int64_t)n);
}

int cpu_ntxent_fwd(void*, const float* z, float* loss, float* save_lse, float* save_invnorm, int n, int d,
                   float tau) {
    const int64_t rows = 2 * (int64_t)n, R = panel_rows(rows), C = block_cols(rows);
    const float inv_tau = 1.0f / tau;
    std::vector<float> u((size_t)(rows * d)), s((size_t)(R * C));
    std::vector<double> m((size_t)rows, -INFINITY), l((size_t)rows, 0.0), pos((size_t)rows, 0.0);
    normalise(z, rows, d, nullptr, save_invnorm, u.data());
    for (int64_t r0 = 0; r0 < rows; r0 += R) {
        const int64_t rr = std::min(R, rows - r0);
        for (int64_t c0 = 0; c0 < rows; c0 += C) {
            const int64_t cc = std::min(C, rows - c0);
            qy::sgemm(false, true, rr, cc, d, inv_tau, u.data() + r0 * d, d, u.data() + c0 * d, d, 0.0f, s.data(), cc);
#pragma omp parallel for schedule(static) if (kRowTeam && rr * cc > kOmpMinWork)
            for (int64_t i = r0; i < r0 + rr; ++i) {
                float* sr = s.data() + (i - r0) * cc;
                const int64_t p = (i + n) % rows;
                if (p >= c0 && p < c0 + cc) pos[i] = sr[p - c0];
                if (i >= c0 && i < c0 + cc) sr[i - c0] = kNegInf;
                online_update(m[i], l[i], sr, cc);
            }
        }
    }
    for (int64_t i = 0; i < rows; ++i) {
        m[i] += std::log(l[i]);  // m now holds lse
        save_lse[i] = (float)m[i];
    }
    loss[0] = mean_loss(m.data(), pos.data(), rows);
    return QY_OK;
}

// dL/ds_ij + dL/ds_ji = (P_ij + P_ji - 2 [j = p(i)]) / 2n with P_ij = exp(s_ij - lse_i) and P_ii = 0, so
// dL/du_i = (1 / (2n tau)) sum_j (P_ij + P_ji - 2 [j = p(i)]) u_j, and dz_i = invnorm_i (g_i - (g_i . u_i) u_i).
// The positive's weight P_ip + P_pi - 2 cancels badly in float32 when the positive dominates (late training, small
// tau); it equals -(nm_i + nm_p) with nm_i = 1 - P_ip = sum over i's negatives of P_ij, which the sweep sums directly.
// So the sweep masks i and p(i), collects nm, and the positive term is added once every row's nm is known.
int cpu_ntxent_bwd(void*, const float* z, const float* save_lse, const float* save_invnorm, float* dz, int n, int d,
                   float tau, float scale) {
    const int64_t rows = 2 * (int64_t)n, R = panel_rows(rows), C = block_cols(rows);
    const float inv_tau = 1.0f / tau;
    const double coef = (double)scale / ((double)rows * (double)tau);
    std::vector<float> u((size_t)(rows * d)), s((size_t)(R * C)), g((size_t)(rows * d));
    std::vector<double> nm((size_t)rows, 0.0);
    normalise(z, rows, d, save_invnorm, nullptr, u.data());
    for (int64_t r0 = 0; r0 < rows; r0 += R) {
        const int64_t rr = std::min(R, rows - r0);
        for (int64_t c0 = 0; c0 < rows; c0 += C) {
            const int64_t cc = std::min(C, rows - c0);
            qy::sgemm(false, true, rr, cc, d, inv_tau, u.data() + r0 * d, d, u.data() + c0 * d, d, 0.0f, s.data(), cc);
#pragma omp parallel for schedule(static) if (kRowTeam && rr * cc > kOmpMinWork)
            for (int64_t i = r0; i < r0 + rr; ++i) {
                float* sr = s.data() + (i - r0) * cc;
                const int64_t p = (i + n) % rows;
                if (p >= c0 && p < c0 + cc) sr[p - c0] = kNegInf;
                if (i >= c0 && i < c0 + cc) sr[i - c0] = kNegInf;
                nm[i] += row_weights(sr, cc, save_lse[i], save_lse + c0);
            }
            qy::sgemm(false, false, rr, d, cc, 1.0f, s.data(), cc, u.data() + c0 * d, d, c0 == 0 ? 0.0f : 1.0f,
                      g.data() + r0 * d, d);
        }
    }
#pragma omp parallel for schedule(static) if (kRowTeam && rows * d > kOmpMinWork)
    for (int64_t i = 0; i < rows; ++i) {
        const int64_t p = (i + n) % rows;
        const double wp = -(nm[i] + nm[p]);
        const float* ui = u.data() + i * d;
        const float* up = u.data() + p * d;
        double proj = 0.0;
        const bool clamped = row_norm(z + i * d, d) < kNormEps;  // below the eps clamp u = z / eps: no projection
        if (!clamped)
            for (int k = 0; k < d; ++k) proj += ((double)g[i * d + k] + wp * up[k]) * ui[k];
        const double inv = save_invnorm[i];
        for (int k = 0; k < d; ++k)
            dz[i * d + k] = (float)(coef * inv * ((double)g[i * d + k] + wp * up[k] - proj * ui[k]));
    }
    return QY_OK;
}

int cpu_infonce_queue_fwd(void*, const float* q, const float* k, const float* queue, float* loss, float* save_lse,
                          int n, int64_t kq, int d, float tau) {
    const int64_t R = panel_rows(n), C = block_cols(kq);
    const float inv_tau = 1.0f / tau;
    std::vector<float> s((size_t)(R * C));
    std::vector<double> m((size_t)n), l((size_t)n, 1.0), pos((size_t)n);
    for (int64_t i = 0; i < n; ++i) m[i] = pos[i] = dot_d(q + i * d, k + i * d, d) * inv_tau;  // exp(l_pos - m) = 1
    for (int64_t r0 = 0; r0 < n; r0 += R) {
        const int64_t rr = std::min(R, n - r0);
        for (int64_t c0 = 0; c0 < kq; c0 += C) {
            const int64_t cc = std::min(C, kq - c0);
            qy::sgemm(false, true, rr, cc, d, inv_tau, q + r0 * d, d, queue + c0 * d, d, 0.0f, s.data(), cc);
#pragma omp parallel for schedule(static) if (kRowTeam && rr * cc > kOmpMinWork)
            for (int64_t i = r0; i < r0 + rr; ++i) online_update(m[i], l[i], s.data() + (i - r0) * cc, cc);
        }
    }
    for (int64_t i = 0; i < n; ++i) {
        m[i] += std::log(l[i]);
        save_lse[i] = (float)m[i];
    }
    loss[0] = mean_loss(m.data(), pos.data(), n);
    return QY_OK;
}

// dL/dl_neg_ij = P_ij / n, dL/dl_pos_i = (P_i0 - 1) / n: dq_i = (1 / (n tau)) (sum_j P_ij queue_j - nm_i k_i) with
// nm_i = 1 - P_i0 = sum_j P_ij summed directly (1 - P_i0 cancels in float32 when the positive dominates).
int cpu_infonce_queue_bwd(void*, const float* q, const float* k, const float* queue, const float* save_lse, float* dq,
                          int n, int64_t kq, int d, float tau, float scale) {
    const int64_t R = panel_rows(n), C = block_cols(kq);
    const float inv_tau = 1.0f / tau;
    const double coef = (double)scale / ((double)n * (double)tau);
    std::vector<float> s((size_t)(R * C)), g((size_t)(R * d));
    std::vector<double> nm((size_t)n, 0.0);
    for (int64_t r0 = 0; r0 < n; r0 += R) {
        const int64_t rr = std::min(R, n - r0);
        for (int64_t c0 = 0; c0 < kq; c0 += C) {
            const int64_t cc = std::min(C, kq - c0);
            qy::sgemm(false, true, rr, cc, d, inv_tau, q + r0 * d, d, queue + c0 * d, d, 0.0f, s.data(), cc);
#pragma omp parallel for schedule(static) if (kRowTeam && rr * cc > kOmpMinWork)
            for (int64_t i = r0; i < r0 + rr; ++i) nm[i] += row_weights(s.data() + (i - r0) * cc, cc, save_lse[i], nullptr);
            qy::sgemm(false, false, rr, d, cc, 1.0f, s.data(), cc, queue + c0 * d, d, c0 == 0 ? 0.0f : 1.0f, g.data(),
                      d);
        }
#pragma omp parallel for schedule(static) if (kRowTeam && rr * d > kOmpMinWork)
        for (int64_t i = r0; i < r0 + rr; ++i) {
            const float* gi = g.data() + (i - r0) * d;
            for (int c = 0; c < d; ++c) dq[i * d + c] = (float)(coef * ((double)gi[c] - nm[i] * k[i * d + c]));
        }
    }
    return QY_OK;
}

int cpu_momentum_update(void*, float* theta_k, const float* theta_q, int64_t count, float m) {
    const float keep = m, take = 1.0f - m;
    parallel_for(count, [=](int64_t i) { theta_k[i] = keep * theta_k[i] + take * theta_q[i]; });
    return QY_OK;
}

int cpu_queue_enqueue(void*, float* queue, int64_t kq, int d, const float* keys, int n, int64_t ptr) {
    const int64_t first = std::min<int64_t>(n, kq - ptr);
    std::memmove(queue + ptr * d, keys, sizeof(float) * (size_t)(first * d));
    if (first < n) std::memmove(queue, keys + first * d, sizeof(float) * (size_t)((n - first) * d));
    return QY_OK;
}
