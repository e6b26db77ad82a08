// Quarry native op tests: every op of quarry.h on the CPU backend against a float64 reference written straight from
// the header and, for the acquisition ops, docs/acquisition.md (the reference is the specification), backward
// ops against central finite differences, bad arguments against their status codes, and, when a GPU is present, every
// op on CUDA against the CPU result on the same inputs.
//
//   cmake -S native -B build -DCMAKE_BUILD_TYPE=Release -DQUARRY_OPENBLAS=OFF && cmake --build build && build/test_ops
//
// Prints one line per test (PASS / FAIL / SKIP and the largest relative error seen), `FAIL <test>: <detail>` for each
// failed check, and exits 1 if any test failed. QUARRY_REQUIRE_GPU=1 makes a missing GPU a failure.
//
// Error measure everywhere: max|got - ref| / max(1, max|ref|). Tolerances:
//   kExact   0      selection or a single correctly rounded operation: fill, relu, maxpool, fill_uniform (bitwise)
//   kElem    1e-6   one or two float32 roundings per element: add, axpy, dropout, avgpool bwd, nll bwd
//   kReduce  1e-5   float32 sums over up to ~1e4 terms: conv, linear, batchnorm, avgpool fwd, log-softmax, nll fwd,
//                   optimizers (several steps), fill_normal (float64 Box-Muller rounded to float32)
//   kFdRef   1e-6   float64 reference backward vs central differences (h = 1e-6) of the float64 reference forward
//   kFdOp    1e-4   float32 backward op vs the same differences: float32 rounding (~1e-6) with a wide margin; the tight
//                   check of the op is against the reference backward at kReduce
//   kAcq     1e-12  acquisition ops (all float64) vs the float64 references: same formulas, other summation orders
//                   (scores, joint entropies); joint_extend and joint_sample's p are bitwise (one product / products
//                   in the header's order), joint_sample's w at 1e-15 elementwise relative, logp_to_probs within
//                   1 ulp of std::exp; golden vectors of docs/acquisition.md at the precision they are printed to
//   CUDA vs CPU: fill_uniform, fill, add, relu and maxpool bitwise; fill_normal within 1 float32 ulp (quarry.h);
//   dropout zero pattern bitwise and values at kElem;
//   acquisition: joint_sample (p and w) and joint_extend bitwise (same Philox draws, products in the same order),
//   logp_to_probs within 1 ulp (CUDA's exp vs glibc's), scores and joint entropies at kAcqParity = 1e-11 (both
//   float64, but a GPU reduction sums in another order; the spec's 1e-12 with a 10x margin for ~1e4-term sums);
//   everything else at the tolerance of the CPU check. Each CUDA op runs twice (default stream, then a created one)
//   and must give bitwise identical results.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "harness.h"
#include "quarry.h"

namespace {


constexpr double kExact = 0.0;
constexpr double kElem = 1e-6;
constexpr double kReduce = 1e-5;
constexpr double kFdRef = 1e-6;
constexpr double kFdOp = 1e-4;
constexpr double kAcq = 1e-12;
constexpr double kAcqParity = 1e-11;

// ---- harness ---------------------------------------------------------------------------------------------------

using namespace qy_test;

// ---- device sessions: every op runs through qy_malloc / qy_upload / qy_download on either backend -------------


double dot(const VecD& a, const VecD& b) {
    double s = 0;
    for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
    return s;
}

// Central differences of loss() over every element of v; h = 1e-6 in float64 keeps truncation (~h^2) and rounding
// (~1e-16 |L| / h) both far below kFdRef.
VecD fd_grad(VecD& v, const std::function<double()>& loss) {
    const double h = 1e-6;
    VecD g(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        double keep = v[i];
        v[i] = keep + h;
        double up = loss();
        v[i] = keep - h;
        double down = loss();
        v[i] = keep;
        g[i] = (up - down) / (2 * h);
    }
    return g;
}

// ---- float64 references, written from quarry.h ------------------------------------------------------------------

namespace ref {

void philox(const uint32_t c[4], uint64_t seed, uint32_t out[4]) {
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    qy_philox4x32_10(c, key, out);
}

// fills: key = seed, counter = {i >> 2 (lo), i >> 34 (hi), stream, 0x80000000}, word = i & 3.
uint32_t fill_word(uint64_t seed, uint32_t stream_id, uint64_t i) {
    const uint32_t c[4] = {(uint32_t)(i >> 2), (uint32_t)(i >> 34), stream_id, 0x80000000u};
    uint32_t o[4];
    philox(c, seed, o);
    return o[i & 3];
}

// quarry.h gives the word-to-[0, 1) mapping only for dropout, (word >> 8) * 2^-24; the fills are assumed to use it.
float unit_float(uint32_t word) { return (float)(word >> 8) * (1.0f / 16777216.0f); }

// dropout: key = seed, counter = {unit >> 2, k_lo, k_hi, layer & 0x3fffffff}, word = unit & 3, keep iff
// (word >> 8) * 2^-24 >= p.
bool dropout_keep(uint64_t seed, uint32_t layer, uint64_t k, uint64_t unit, float p) {
    const uint32_t c[4] = {(uint32_t)(unit >> 2), (uint32_t)k, (uint32_t)(k >> 32), layer & 0x3fffffffu};
    uint32_t o[4];
    philox(c, seed, o);
    return (double)(o[unit & 3] >> 8) * 0x1p-24 >= (double)p;
}

VecD dropout(const VecD& x, int64_t rows, int64_t spatial, int64_t units, float p, uint64_t seed, uint32_t layer,
             uint64_t k0, int64_t rows_per_sample) {
    VecD y(x.size());
    for (int64_t r = 0; r < rows; ++r) {
        uint64_t k = k0 + (uint64_t)(r / rows_per_sample);
        for (int64_t u = 0; u < units; ++u) {
            double keep = dropout_keep(seed, layer, k, (uint64_t)u, p) ? 1.0 : 0.0;
            for (int64_t s = 0; s < spatial; ++s) {
                size_t i = (size_t)((r * spatial + s) * units + u);
                y[i] = x[i] * keep / (1.0 - (double)p);
            }
        }
    }
    return y;
}

struct Conv {
    int n, h, w, cin, cout, kh, kw, sh, sw, ph, pw;
    bool bias;
    int ho() const { return (h + 2 * ph - kh) / sh + 1; }
    int wo() const { return (w + 2 * pw - kw) / sw + 1; }
    size_t xs() const { return (size_t)n * h * w * cin; }
    size_t ws() const { return (size_t)cout * kh * kw * cin; }
    size_t ys() const { return (size_t)n * ho() * wo() * cout; }
    size_t xi(int b, int y, int x, int c) const { return (((size_t)b * h + y) * w + x) * cin + c; }
    size_t wi(int co, int y, int x, int c) const { return (((size_t)co * kh + y) * kw + x) * cin + c; }
    size_t yi(int b, int y, int x, int c) const { return (((size_t)b * ho() + y) * wo() + x) * cout + c; }
    std::string str() const {
        return format("n=%d h=%d w=%d cin=%d cout=%d k=%dx%d s=%d,%d p=%d,%d %s", n, h, w, cin, cout, kh, kw, sh, sw,
                      ph, pw, bias ? "bias" : "no-bias");
    }
};

// y[b][oy][ox][co] = bias[co] + sum x[b][oy*sh - ph + ky][ox*sw - pw + kx][ci] * w[co][ky][kx][ci], zero padding.
VecD conv_fwd(const Conv& s, const VecD& x, const VecD& wt, const VecD* bias) {
    VecD y(s.ys());
    for (int b = 0; b < s.n; ++b)
        for (int oy = 0; oy < s.ho(); ++oy)
            for (int ox = 0; ox < s.wo(); ++ox)
                for (int co = 0; co < s.cout; ++co) {
                    double acc = bias ? (*bias)[co] : 0.0;
                    for (int ky = 0; ky < s.kh; ++ky) {
                        int iy = oy * s.sh - s.ph + ky;
                        if (iy < 0 || iy >= s.h) continue;
                        for (int kx = 0; kx < s.kw; ++kx) {
                            int ix = ox * s.sw - s.pw + kx;
                            if (ix < 0 || ix >= s.w) continue;
                            for (int ci = 0; ci < s.cin; ++ci) acc += x[s.xi(b, iy, ix, ci)] * wt[s.wi(co, ky, kx, ci)];
                        }
                    }
                    y[s.yi(b, oy, ox, co)] = acc;
                }
    return y;
}

// The adjoints of conv_fwd: dx = d/dx sum(y * dy), dw = d/dw sum(y * dy), dbias = sum over b, oy, ox of dy.
VecD conv_bwd_data(const Conv& s, const VecD& dy, const VecD& wt) {
    VecD dx(s.xs(), 0.0);
    for (int b = 0; b < s.n; ++b)
        for (int oy = 0; oy < s.ho(); ++oy)
            for (int ox = 0; ox < s.wo(); ++ox)
                for (int co = 0; co < s.cout; ++co) {
                    double g = dy[s.yi(b, oy, ox, co)];
                    for (int ky = 0; ky < s.kh; ++ky) {
                        int iy = oy * s.sh - s.ph + ky;
                        if (iy < 0 || iy >= s.h) continue;
                        for (int kx = 0; kx < s.kw; ++kx) {
                            int ix = ox * s.sw - s.pw + kx;
                            if (ix < 0 || ix >= s.w) continue;
                            for (int ci = 0; ci < s.cin; ++ci) dx[s.xi(b, iy, ix, ci)] += g * wt[s.wi(co, ky, kx, ci)];
                        }
                    }
                }
    return dx;
}

void conv_bwd_filter(const Conv& s, const VecD& x, const VecD& dy, VecD& dw, VecD& db) {
    dw.assign(s.ws(), 0.0);
    db.assign((size_t)s.cout, 0.0);
    for (int b = 0; b < s.n; ++b)
        for (int oy = 0; oy < s.ho(); ++oy)
            for (int ox = 0; ox < s.wo(); ++ox)
                for (int co = 0; co < s.cout; ++co) {
                    double g = dy[s.yi(b, oy, ox, co)];
                    db[co] += g;
                    for (int ky = 0; ky < s.kh; ++ky) {
                        int iy = oy * s.sh - s.ph + ky;
                        if (iy < 0 || iy >= s.h) continue;
                        for (int kx = 0; kx < s.kw; ++kx) {
                            int ix = ox * s.sw - s.pw + kx;
                            if (ix < 0 || ix >= s.w) continue;
                            for (int ci = 0; ci < s.cin; ++ci) dw[s.wi(co, ky, kx, ci)] += g * x[s.xi(b, iy, ix, ci)];
                        }
                    }
                }
}

// Batch norm over x [m][c]: biased batch variance normalises; running stats take the unbiased variance.
struct Bn {
    VecD y, mean, invstd, rmean, rvar;
};

Bn bn_train(const VecD& x, const VecD& gamma, const VecD& beta, const VecD& rmean, const VecD& rvar, int64_t m, int c,
            double momentum, double eps) {
    Bn o{VecD(x.size()), VecD(c), VecD(c), VecD(c), VecD(c)};
    for (int ch = 0; ch < c; ++ch) {
        double mean = 0, var = 0;
        for (int64_t i = 0; i < m; ++i) mean += x[i * c + ch];
        mean /= (double)m;
        for (int64_t i = 0; i < m; ++i) var += (x[i * c + ch] - mean) * (x[i * c + ch] - mean);
        var /= (double)m;
        double invstd = 1.0 / std::sqrt(var + eps);
        for (int64_t i = 0; i < m; ++i) o.y[i * c + ch] = gamma[ch] * (x[i * c + ch] - mean) * invstd + beta[ch];
        o.mean[ch] = mean;
        o.invstd[ch] = invstd;
        o.rmean[ch] = (1 - momentum) * rmean[ch] + momentum * mean;
        o.rvar[ch] = (1 - momentum) * rvar[ch] + momentum * var * (double)m / (double)(m - 1);
    }
    return o;
}

VecD bn_infer(const VecD& x, const VecD& gamma, const VecD& beta, const VecD& rmean, const VecD& rvar, int64_t m,
              int c, double eps) {
    VecD y(x.size());
    for (int64_t i = 0; i < m; ++i)
        for (int ch = 0; ch < c; ++ch)
            y[i * c + ch] = gamma[ch] * (x[i * c + ch] - rmean[ch]) / std::sqrt(rvar[ch] + eps) + beta[ch];
    return y;
}

// Gradient of the training forward pass given its saved batch mean and 1/sqrt(var + eps).
void bn_bwd(const VecD& x, const VecD& dy, const VecD& gamma, const VecD& mean, const VecD& invstd, int64_t m, int c,
            VecD& dx, VecD& dgamma, VecD& dbeta) {
    dx.assign(x.size(), 0.0);
    dgamma.assign(c, 0.0);
    dbeta.assign(c, 0.0);
    for (int ch = 0; ch < c; ++ch) {
        for (int64_t i = 0; i < m; ++i) {
            dbeta[ch] += dy[i * c + ch];
            dgamma[ch] += dy[i * c + ch] * (x[i * c + ch] - mean[ch]) * invstd[ch];
        }
        for (int64_t i = 0; i < m; ++i) {
            double xhat = (x[i * c + ch] - mean[ch]) * invstd[ch];
            dx[i * c + ch] =
                gamma[ch] * invstd[ch] * (dy[i * c + ch] - dbeta[ch] / (double)m - xhat * dgamma[ch] / (double)m);
        }
    }
}

struct Pool {
    int n, h, w, c;
    size_t xs() const { return (size_t)n * h * w * c; }
    size_t ys() const { return (size_t)n * (h / 2) * (w / 2) * c; }
    std::string str() const { return format("n=%d h=%d w=%d c=%d", n, h, w, c); }
};

// 2x2 windows, stride 2, floor; the backward pass routes dy to the first maximum in row-major window order.
void maxpool(const Pool& s, const VecD& x, const VecD& dy, VecD& y, VecD& dx) {
    int ho = s.h / 2, wo = s.w / 2;
    y.assign(s.ys(), 0.0);
    dx.assign(s.xs(), 0.0);
    for (int b = 0; b < s.n; ++b)
        for (int oy = 0; oy < ho; ++oy)
            for (int ox = 0; ox < wo; ++ox)
                for (int ch = 0; ch < s.c; ++ch) {
                    size_t best = 0;
                    double m = -INFINITY;
                    for (int a = 0; a < 2; ++a)
                        for (int e = 0; e < 2; ++e) {
                            size_t i = (((size_t)b * s.h + 2 * oy + a) * s.w + 2 * ox + e) * s.c + ch;
                            if (x[i] > m) m = x[i], best = i;
                        }
                    size_t o = (((size_t)b * ho + oy) * wo + ox) * s.c + ch;
                    y[o] = m;
                    dx[best] += dy[o];
                }
}

VecD avgpool_fwd(const VecD& x, int n, int hw, int c) {
    VecD y((size_t)n * c, 0.0);
    for (int b = 0; b < n; ++b)
        for (int p = 0; p < hw; ++p)
            for (int ch = 0; ch < c; ++ch) y[(size_t)b * c + ch] += x[((size_t)b * hw + p) * c + ch] / hw;
    return y;
}

VecD avgpool_bwd(const VecD& dy, int n, int hw, int c) {
    VecD dx((size_t)n * hw * c);
    for (int b = 0; b < n; ++b)
        for (int p = 0; p < hw; ++p)
            for (int ch = 0; ch < c; ++ch) dx[((size_t)b * hw + p) * c + ch] = dy[(size_t)b * c + ch] / hw;
    return dx;
}

// y [n][out] = x [n][in] w^T + bias, w [out][in].
VecD linear_fwd(const VecD& x, const VecD& wt, const VecD* bias, int n, int in, int out) {
    VecD y((size_t)n * out);
    for (int i = 0; i < n; ++i)
        for (int o = 0; o < out; ++o) {
            double acc = bias ? (*bias)[o] : 0.0;
            for (int k = 0; k < in; ++k) acc += x[(size_t)i * in + k] * wt[(size_t)o * in + k];
            y[(size_t)i * out + o] = acc;
        }
    return y;
}

VecD linear_bwd_data(const VecD& dy, const VecD& wt, int n, int in, int out) {
    VecD dx((size_t)n * in, 0.0);
    for (int i = 0; i < n; ++i)
        for (int o = 0; o < out; ++o)
            for (int k = 0; k < in; ++k) dx[(size_t)i * in + k] += dy[(size_t)i * out + o] * wt[(size_t)o * in + k];
    return dx;
}

void linear_bwd_weight(const VecD& x, const VecD& dy, int n, int in, int out, VecD& dw, VecD& db) {
    dw.assign((size_t)out * in, 0.0);
    db.assign((size_t)out, 0.0);
    for (int i = 0; i < n; ++i)
        for (int o = 0; o < out; ++o) {
            double g = dy[(size_t)i * out + o];
            db[o] += g;
            for (int k = 0; k < in; ++k) dw[(size_t)o * in + k] += g * x[(size_t)i * in + k];
        }
}

VecD log_softmax(const VecD& x, int n, int c) {
    VecD y(x.size());
    for (int i = 0; i < n; ++i) {
        const double* xr = &x[(size_t)i * c];
        double mx = *std::max_element(xr, xr + c), sum = 0;
        for (int j = 0; j < c; ++j) sum += std::exp(xr[j] - mx);
        for (int j = 0; j < c; ++j) y[(size_t)i * c + j] = xr[j] - mx - std::log(sum);
    }
    return y;
}

// dx = dy - softmax * sum(dy), with softmax = exp(y).
VecD log_softmax_bwd(const VecD& y, const VecD& dy, int n, int c) {
    VecD dx(y.size());
    for (int i = 0; i < n; ++i) {
        double sum = 0;
        for (int j = 0; j < c; ++j) sum += dy[(size_t)i * c + j];
        for (int j = 0; j < c; ++j) {
            size_t at = (size_t)i * c + j;
            dx[at] = dy[at] - std::exp(y[at]) * sum;
        }
    }
    return dx;
}

// loss = mean_i -((1 - s) logp[i][label_i] + (s / c) sum_j logp[i][j]); NaN for a label outside [0, c).
double nll(const VecD& logp, const Labels& labels, int n, int c, double s) {
    double total = 0;
    for (int i = 0; i < n; ++i) {
        if (labels[i] < 0 || labels[i] >= c) return std::numeric_limits<double>::quiet_NaN();
        double row = 0;
        for (int j = 0; j < c; ++j) row += logp[(size_t)i * c + j];
        total -= (1 - s) * logp[(size_t)i * c + labels[i]] + s / c * row;
    }
    return total / n;
}

VecD nll_bwd(const Labels& labels, int n, int c, double s, double scale) {
    VecD d((size_t)n * c);
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < c; ++j) d[(size_t)i * c + j] = scale * (-(1 - s) * (j == labels[i]) - s / c) / n;
    return d;
}

// ---- acquisition (quarry.h and docs/acquisition.md), all float64 -----------------------------------------------

// p log p with 0 log 0 = 0 (xlogy).
double xlogx(double p) { return p > 0 ? p * std::log(p) : 0.0; }

VecD probs(const VecD& logp) {
    VecD p(logp.size());
    for (size_t i = 0; i < p.size(); ++i) p[i] = std::exp(logp[i]);
    return p;
}

// The score of one pool point from its probabilities p [k][c] (quarry.h's QY_SCORE_* table).
double acq_score(const double* p, int k, int c, int kind) {
    VecD mean((size_t)c, 0.0);
    for (int kk = 0; kk < k; ++kk)
        for (int j = 0; j < c; ++j) mean[(size_t)j] += p[(size_t)kk * c + j];
    for (double& v : mean) v /= k;
    double h_mean = 0, h_cond = 0;  // H[p_mean], (1/K) sum_k H[p_k]
    for (double v : mean) h_mean -= xlogx(v);
    for (int kk = 0; kk < k; ++kk) {
        double h = 0;
        for (int j = 0; j < c; ++j) h -= xlogx(p[(size_t)kk * c + j]);
        h_cond += h;
    }
    h_cond /= k;
    switch (kind) {
        case QY_SCORE_ENTROPY:
            return h_mean;
        case QY_SCORE_BALD:
            return h_mean - h_cond;
        case QY_SCORE_COND_ENTROPY:
            return h_cond;
        case QY_SCORE_LEAST_CONFIDENCE:
            return 1.0 - *std::max_element(mean.begin(), mean.end());
        case QY_SCORE_MARGIN: {  // p_mean(2nd) - p_mean(1st); the 2nd is 0 when C = 1
            VecD sorted = mean;
            std::sort(sorted.begin(), sorted.end(), std::greater<double>());
            return (c > 1 ? sorted[1] : 0.0) - sorted[0];
        }
        case QY_SCORE_VARIATION_RATIOS: {  // 1 - f_mode / K over per-sample argmax, ties to the lowest class
            std::vector<int> votes((size_t)c, 0);
            for (int kk = 0; kk < k; ++kk) {
                const double* row = p + (size_t)kk * c;
                votes[(size_t)(std::max_element(row, row + c) - row)]++;  // max_element: the first maximum
            }
            return 1.0 - (double)*std::max_element(votes.begin(), votes.end()) / k;
        }
        case QY_SCORE_MEAN_STD: {  // (1/C) sum_c population std over k
            double total = 0;
            for (int j = 0; j < c; ++j) {
                double var = 0;
                for (int kk = 0; kk < k; ++kk) {
                    double d = p[(size_t)kk * c + j] - mean[(size_t)j];
                    var += d * d;
                }
                total += std::sqrt(var / k);
            }
            return total / c;
        }
        default:
            throw std::invalid_argument("score kind");
    }
}

VecD acq_scores(const VecD& p, int64_t n, int k, int c, int kind) {
    VecD s((size_t)n);
    for (int64_t i = 0; i < n; ++i) s[(size_t)i] = acq_score(&p[(size_t)i * k * c], k, c, kind);
    return s;
}

// p_new[i*c + j][kk] = p[i][kk] * probs_a[kk][j].
VecD joint_extend(const VecD& p, int64_t m, const double* probs_a, int k, int c) {
    VecD y((size_t)(m * c * k));
    for (int64_t i = 0; i < m; ++i)
        for (int j = 0; j < c; ++j)
            for (int kk = 0; kk < k; ++kk)
                y[(size_t)((i * c + j) * k + kk)] = p[(size_t)(i * k + kk)] * probs_a[(size_t)kk * c + j];
    return y;
}

// Advances y (digits in [0, c), the last fastest) to the next configuration; false after the last one.
bool next_config(std::vector<int>& y, int c) {
    int i = (int)y.size() - 1;
    while (i >= 0 && ++y[(size_t)i] == c) y[(size_t)i--] = 0;
    return i >= 0;
}

// All C^a configurations of the points pts (each probs [k][c]), the last point's class fastest (the order of the
// Kronecker update): P[r][kk] = prod_i pts[i][kk][y_i], multiplied in the order i = 0, 1, ... from 1.
VecD enumerate_joint(const std::vector<const double*>& pts, int k, int c) {
    VecD P;
    std::vector<int> y(pts.size(), 0);
    do {
        for (int kk = 0; kk < k; ++kk) {
            double prod = 1.0;
            for (size_t i = 0; i < pts.size(); ++i) prod *= pts[i][(size_t)kk * c + y[i]];
            P.push_back(prod);
        }
    } while (next_config(y, c));
    return P;
}

// qy_joint_entropy from the header: out[x] = -sum_r w[r] sum_j J log J with
// J[r][j] = (1/K) sum_kk P[r][kk] probs[x][kk][j]; w empty: all ones.
VecD joint_entropy(const VecD& P, const VecD& w, int64_t m, const VecD& probs, int64_t n, int k, int c) {
    VecD out((size_t)n);
    for (int64_t x = 0; x < n; ++x) {
        double h = 0;
        for (int64_t r = 0; r < m; ++r) {
            double e = 0;
            for (int j = 0; j < c; ++j) {
                double J = 0;
                for (int kk = 0; kk < k; ++kk) J += P[(size_t)(r * k + kk)] * probs[((size_t)x * k + kk) * c + j];
                e += xlogx(J / k);
            }
            h += (w.empty() ? 1.0 : w[(size_t)r]) * e;
        }
        out[(size_t)x] = -h;
    }
    return out;
}

// The joint entropy of the points pts by definition: -sum over all C^|pts| configurations of J log J with
// J = (1/K) sum_kk prod_i pts[i][kk][y_i].
double joint_entropy_brute(const std::vector<const double*>& pts, int k, int c) {
    std::vector<int> y(pts.size(), 0);
    double h = 0;
    do {
        double J = 0;
        for (int kk = 0; kk < k; ++kk) {
            double prod = 1.0;
            for (size_t i = 0; i < pts.size(); ++i) prod *= pts[i][(size_t)kk * c + y[i]];
            J += prod;
        }
        h -= xlogx(J / k);
    } while (next_config(y, c));
    return h;
}

// A 53-bit uniform in [0, 1) from Philox words 0 (high 27 bits) and 1 (low 26 bits): philox.h's uniform01_f64.
double uniform53(uint32_t w0, uint32_t w1) {
    return (double)(((uint64_t)(w0 >> 6) << 27) | (uint64_t)(w1 >> 5)) * 0x1p-53;
}

// qy_joint_sample from the header: row r = kk * s + j; y_i from Philox key = seed, counter {r lo, i, step,
// 0x40000000 | r hi}, u = uniform53(word 0, word 1), y_i = the first class j with
// u < cumsum(probs_chosen[i][kk][0..j]), else c - 1; p[r][k'] = prod_i probs_chosen[i][k'][y_i] (i ascending),
// w[r] = 1 / (m q_r), q_r = mean_k' p[r][k'].
void joint_sample(const VecD& pc, int a, int k, int c, int64_t s, uint64_t seed, uint32_t step, VecD& p, VecD& w) {
    const int64_t m = (int64_t)k * s;
    p.assign((size_t)(m * k), 0.0);
    w.assign((size_t)m, 0.0);
    std::vector<int> y((size_t)a);
    for (int64_t r = 0; r < m; ++r) {
        const int64_t kk = r / s;
        for (int i = 0; i < a; ++i) {
            const uint32_t ctr[4] = {(uint32_t)r, (uint32_t)i, step, 0x40000000u | (uint32_t)((uint64_t)r >> 32)};
            uint32_t o[4];
            philox(ctr, seed, o);
            const double u = uniform53(o[0], o[1]);
            const double* row = &pc[((size_t)i * k + (size_t)kk) * c];
            int cls = c - 1;
            double cum = 0;
            for (int j = 0; j < c; ++j) {
                cum += row[j];
                if (u < cum) {
                    cls = j;
                    break;
                }
            }
            y[(size_t)i] = cls;
        }
        double q = 0;
        for (int k2 = 0; k2 < k; ++k2) {
            double prod = 1.0;
            for (int i = 0; i < a; ++i) prod *= pc[((size_t)i * k + k2) * c + y[(size_t)i]];
            p[(size_t)(r * k + k2)] = prod;
            q += prod;
        }
        q /= k;
        w[(size_t)r] = 1.0 / ((double)m * q);
    }
}

// augmentation: counter {image, step lo, step hi, 0xC0000000}, key = seed; dy from word 0 and dx from word 1 as
// floor(word * (2 pad + 1) / 2^32) - pad (exact in float64: the product stays below 2^53); flip iff word 2 >= 2^31.
struct CropChoice {
    int dy, dx;
    bool flip;
};

CropChoice crop_flip_choice(uint64_t seed, uint64_t step, uint32_t image, int pad) {
    const uint32_t c[4] = {image, (uint32_t)step, (uint32_t)(step >> 32), 0xC0000000u};
    uint32_t o[4];
    philox(c, seed, o);
    const double span = 2.0 * pad + 1;
    return {(int)std::floor((double)o[0] * span / 4294967296.0) - pad,
            (int)std::floor((double)o[1] * span / 4294967296.0) - pad, o[2] >= 0x80000000u};
}

// y[i][a][b][ch] = x[i][a + dy][flip ? w - 1 - b + dx : b + dx][ch], 0 outside x.
VecD crop_flip(const Vec& x, int n, int h, int w, int c, int pad, uint64_t seed, uint64_t step) {
    VecD y(x.size());
    for (int i = 0; i < n; ++i) {
        const CropChoice d = crop_flip_choice(seed, step, (uint32_t)i, pad);
        for (int a = 0; a < h; ++a)
            for (int b = 0; b < w; ++b) {
                const int sa = a + d.dy, sb = d.flip ? w - 1 - b + d.dx : b + d.dx;
                const bool inside = sa >= 0 && sa < h && sb >= 0 && sb < w;
                for (int ch = 0; ch < c; ++ch)
                    y[(((size_t)i * h + a) * w + b) * c + ch] =
                        inside ? (double)x[(((size_t)i * h + sa) * w + sb) * c + ch] : 0.0;
            }
    }
    return y;
}

}  // namespace ref

using ref::Conv;
using ref::Pool;

// ---- tests: random numbers --------------------------------------------------------------------------------------

void test_philox_kat(Test& t) {
    // Random123 kat_vectors, philox4x32 10 (counter, key, expected); cross-checked with an independent Python
    // Philox that reproduces numpy.random.Philox (4x64-10) when run at 64-bit width.
    struct Kat {
        uint32_t c[4], k[2], want[4];
    };
    const Kat kats[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
        {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu},
         {0xffffffffu, 0xffffffffu},
         {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
        {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
         {0xa4093822u, 0x299f31d0u},
         {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
    };
    for (const Kat& kat : kats) {
        uint32_t out[4] = {0, 0, 0, 0};
        qy_philox4x32_10(kat.c, kat.k, out);
        for (int i = 0; i < 4; ++i)
            t.expect(out[i] == kat.want[i], format("counter %08x.. key %08x %08x word %d: got %08x, want %08x",
                                                   kat.c[0], kat.k[0], kat.k[1], i, out[i], kat.want[i]));
    }
}

void test_fill(Test& t) {
    for (int64_t n : {int64_t{1}, int64_t{1001}}) {
        const float value = -3.25f;
        Outs o = cpu_case(format("fill n=%lld", (long long)n),
                          [=](Session& s) {
                              float* y = s.out((size_t)n);
                              QY(qy_fill, s.dev, s.stream, y, n, value);
                              return Outs{{"out", s.get(y, (size_t)n)}};
                          },
                          {Measure::Bits, kExact});
        same_bits(t, format("n=%lld", (long long)n), o[0].v, Vec((size_t)n, value));
    }
}

Runner uniform_runner(int64_t n, uint64_t seed, uint32_t stream_id, float lo, float hi) {
    return [=](Session& s) {
        float* y = s.out((size_t)n);
        QY(qy_fill_uniform, s.dev, s.stream, y, n, seed, stream_id, lo, hi);
        return Outs{{"out", s.get(y, (size_t)n)}};
    };
}

void test_fill_uniform(Test& t) {
    const int64_t n = 1000003;  // not a multiple of 4: the last block is partial
    const uint64_t seed = 0x9E3779B97F4A7C15ull;  // both key words non-zero
    const uint32_t stream_id = 7;
    const float lo = -2.0f, hi = 3.0f;
    Vec y = cpu_case("fill_uniform n=1000003", uniform_runner(n, seed, stream_id, lo, hi), {Measure::Bits, kExact})[0].v;

    // Exactly lo + (hi - lo) * u in float32, u from the Philox word (volatile: no contraction into an FMA).
    Vec want((size_t)n);
    for (int64_t i = 0; i < n; ++i) {
        volatile float scaled = (hi - lo) * ref::unit_float(ref::fill_word(seed, stream_id, (uint64_t)i));
        want[(size_t)i] = lo + scaled;
    }
    same_bits(t, "vs lo + (hi - lo) * philox word", y, want);

    double sum = 0, sq = 0;
    float mn = INFINITY, mx = -INFINITY;
    for (float v : y) sum += v, sq += (double)v * v, mn = std::min(mn, v), mx = std::max(mx, v);
    double mean = sum / n, var = sq / n - mean * mean;
    // Standard errors: mean 5/sqrt(12 n) = 1.4e-3, variance ~2e-3; the bounds are about 5 of them.
    t.expect(mn >= lo && mx < hi, format("range [%g, %g] outside [%g, %g)", mn, mx, lo, hi));
    t.expect(mn < lo + 1e-3f && mx > hi - 1e-3f, format("range [%g, %g] does not reach the ends", mn, mx));
    t.expect(std::fabs(mean - 0.5) < 0.01, format("mean %.5f, want 0.5", mean));
    t.expect(std::fabs(var - 25.0 / 12.0) < 0.01, format("variance %.5f, want %.5f", var, 25.0 / 12.0));

    Vec again = run_on(QY_DEV_CPU, nullptr, uniform_runner(n, seed, stream_id, lo, hi))[0].v;
    same_bits(t, "same arguments twice", again, y);
    Vec prefix = run_on(QY_DEV_CPU, nullptr, uniform_runner(5, seed, stream_id, lo, hi))[0].v;
    same_bits(t, "n=5 is the prefix of n=1000003", prefix, Vec(y.begin(), y.begin() + 5));
    Vec other = run_on(QY_DEV_CPU, nullptr, uniform_runner(1000, seed, stream_id + 1, lo, hi))[0].v;
    size_t equal = 0;
    for (size_t i = 0; i < other.size(); ++i) equal += other[i] == y[i];
    t.expect(equal < 10, format("stream %u and %u agree on %zu of 1000 elements", stream_id, stream_id + 1, equal));
}

Runner normal_runner(int64_t n, uint64_t seed, uint32_t stream_id, float mean, float std) {
    return [=](Session& s) {
        float* y = s.out((size_t)n);
        QY(qy_fill_normal, s.dev, s.stream, y, n, seed, stream_id, mean, std);
        return Outs{{"out", s.get(y, (size_t)n)}};
    };
}

void test_fill_normal(Test& t) {
    const int64_t n = 1000000;
    const uint64_t seed = 0xC0FFEE0123456789ull;
    const uint32_t stream_id = 3;
    const float mean = 0.5f, std = 2.0f;
    Vec y = cpu_case("fill_normal n=1000000", normal_runner(n, seed, stream_id, mean, std), {Measure::Ulp1, 1})[0].v;

    // Box-Muller over word pairs (0,1) and (2,3). quarry.h does not fix the word-to-float mappings; this assumes
    // the radius from the first word mapped to (0, 1] as ((w >> 8) + 1) * 2^-24 (finite log) and the angle from
    // the second as (w >> 8) * 2^-24, evaluated in float64.
    VecD want((size_t)n);
    const double two_pi = 6.283185307179586;
    for (int64_t i = 0; i < n; i += 2) {
        uint32_t w0 = ref::fill_word(seed, stream_id, (uint64_t)i);
        uint32_t w1 = ref::fill_word(seed, stream_id, (uint64_t)i + 1);
        double u1 = ((w0 >> 8) + 1.0) * 0x1p-24, u2 = (w1 >> 8) * 0x1p-24;
        double r = std::sqrt(-2.0 * std::log(u1));
        want[(size_t)i] = mean + std * r * std::cos(two_pi * u2);
        if (i + 1 < n) want[(size_t)i + 1] = mean + std * r * std::sin(two_pi * u2);
    }
    close(t, "vs Box-Muller of the philox words", y, want, kReduce);

    double sum = 0, sq = 0, within = 0, bound = 0;
    for (float v : y) {
        double z = ((double)v - mean) / std;
        sum += z, sq += z * z, within += std::fabs(z) < 1.0, bound = std::max(bound, std::fabs(z));
    }
    double m = sum / n, sd = std::sqrt(sq / n - m * m), frac = within / n;
    // Standard errors at n = 1e6: mean 1e-3, std 7e-4, P(|z| < 1) 4.7e-4; bounds are about 5 of them.
    t.expect(std::fabs(m) < 0.005, format("standardised mean %.5f, want 0", m));
    t.expect(std::fabs(sd - 1) < 0.004, format("standardised std %.5f, want 1", sd));
    t.expect(std::fabs(frac - 0.682689) < 0.0025, format("P(|z| < 1) = %.5f, want 0.68269", frac));
    // With 24-bit uniforms the radius is at most sqrt(-2 ln 2^-24) = 5.77.
    t.expect(bound <= 5.7683, format("max |z| %.4f exceeds the Box-Muller bound 5.768", bound));

    Vec odd = run_on(QY_DEV_CPU, nullptr, normal_runner(1001, seed, stream_id, mean, std))[0].v;
    same_bits(t, "n=1001 is the prefix of n=1000000", odd, Vec(y.begin(), y.begin() + 1001));
}

// ---- tests: elementwise -----------------------------------------------------------------------------------------

void test_add_axpy(Test& t) {
    for (int64_t n : {int64_t{1}, int64_t{7}, int64_t{1003}, int64_t{(1 << 20) + 3}}) {
        Vec a = uniform((size_t)n), b = uniform((size_t)n), y0 = uniform((size_t)n);
        const float alpha = -0.7f;
        Outs o = cpu_case(format("add n=%lld", (long long)n),
                          [=](Session& s) {
                              float* y = s.out((size_t)n);
                              QY(qy_add, s.dev, s.stream, s.in(a), s.in(b), y, n);
                              return Outs{{"y", s.get(y, (size_t)n)}};
                          },
                          {Measure::Bits, kExact});
        Outs p = cpu_case(format("axpy n=%lld", (long long)n),
                          [=](Session& s) {
                              float* y = s.in(y0);
                              QY(qy_axpy, s.dev, s.stream, alpha, s.in(a), y, n);
                              return Outs{{"y", s.get(y, (size_t)n)}};
                          },
                          kElem);
        VecD sum((size_t)n), axpy((size_t)n);
        for (size_t i = 0; i < (size_t)n; ++i) sum[i] = (double)a[i] + b[i], axpy[i] = y0[i] + (double)alpha * a[i];
        close(t, format("add n=%lld", (long long)n), o[0].v, sum, kElem);
        close(t, format("axpy n=%lld", (long long)n), p[0].v, axpy, kElem);
    }
}

void test_relu(Test& t, int64_t n) {
    Vec x = uniform(n), dy = uniform(n);
    VecD y(n), dx(n);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0 ? x[i] : 0.0, dx[i] = x[i] > 0 ? dy[i] : 0.0;
    Vec yf = to_f(y);  // the backward pass takes the forward output
    Outs o = cpu_case(format("relu n=%lld", (long long)n),
                      [=](Session& s) {
                          float* yo = s.out(n);
                          float* dxo = s.out(n);
                          QY(qy_relu_fwd, s.dev, s.stream, s.in(x), yo, n);
                          QY(qy_relu_bwd, s.dev, s.stream, s.in(yf), s.in(dy), dxo, n);
                          return Outs{{"y", s.get(yo, n)}, {"dx", s.get(dxo, n)}};
                      },
                      {Measure::Bits, kExact});
    close(t, "relu_fwd", o[0].v, y, kExact);
    close(t, "relu_bwd", o[1].v, dx, kExact);
}

void test_swap01(Test& t, int64_t na, int64_t nb, int64_t nc) {
    int64_t n = na * nb * nc;
    Vec x = uniform(n);
    VecD y((size_t)n);
    for (int64_t a = 0; a < na; ++a)
        for (int64_t b = 0; b < nb; ++b)
            for (int64_t c = 0; c < nc; ++c) y[(size_t)((b * na + a) * nc + c)] = x[(size_t)((a * nb + b) * nc + c)];
    Outs o = cpu_case(format("swap01 %lldx%lldx%lld", (long long)na, (long long)nb, (long long)nc),
                      [=](Session& s) {
                          float* yo = s.out(n);
                          QY(qy_swap01, s.dev, s.stream, s.in(x), yo, na, nb, nc);
                          return Outs{{"y", s.get(yo, n)}};
                      },
                      {Measure::Bits, kExact});
    close(t, "swap01", o[0].v, y, kExact);
}

// ---- tests: conv2d ----------------------------------------------------------------------------------------------

Runner conv_runner(const Conv& s, const Vec& x, const Vec& w, const Vec& b, const Vec& dy) {
    return [=](Session& ss) {
        float *xd = ss.in(x), *wd = ss.in(w), *bd = s.bias ? ss.in(b) : nullptr, *dyd = ss.in(dy);
        float *y = ss.out(s.ys()), *dx = ss.out(s.xs()), *dw = ss.out(s.ws()), *db = s.bias ? ss.out(s.cout) : nullptr;
        QY(qy_conv2d_fwd, ss.dev, ss.stream, xd, wd, bd, y, s.n, s.h, s.w, s.cin, s.cout, s.kh, s.kw, s.sh, s.sw, s.ph,
           s.pw);
        QY(qy_conv2d_bwd_data, ss.dev, ss.stream, dyd, wd, dx, s.n, s.h, s.w, s.cin, s.cout, s.kh, s.kw, s.sh, s.sw,
           s.ph, s.pw);
        QY(qy_conv2d_bwd_filter, ss.dev, ss.stream, xd, dyd, dw, db, s.n, s.h, s.w, s.cin, s.cout, s.kh, s.kw, s.sh,
           s.sw, s.ph, s.pw);
        Outs o{{"y", ss.get(y, s.ys())}, {"dx", ss.get(dx, s.xs())}, {"dw", ss.get(dw, s.ws())}};
        if (s.bias) o.push_back({"dbias", ss.get(db, s.cout)});
        return o;
    };
}

void test_conv(Test& t, const Conv& s) {
    Vec x = uniform(s.xs()), w = uniform(s.ws()), b = uniform(s.cout), dy = uniform(s.ys());
    Outs o = cpu_case("conv2d " + s.str(), conv_runner(s, x, w, b, dy), kReduce);
    VecD bd = to_d(b), dw, db;
    close(t, "fwd y", o[0].v, ref::conv_fwd(s, to_d(x), to_d(w), s.bias ? &bd : nullptr), kReduce);
    close(t, "bwd_data dx", o[1].v, ref::conv_bwd_data(s, to_d(dy), to_d(w)), kReduce);
    ref::conv_bwd_filter(s, to_d(x), to_d(dy), dw, db);
    close(t, "bwd_filter dw", o[2].v, dw, kReduce);
    if (s.bias) close(t, "bwd_filter dbias", o[3].v, db, kReduce);
}

std::vector<Conv> conv_shapes() {
    std::vector<Conv> shapes = {
        {3, 7, 5, 3, 5, 3, 3, 1, 1, 1, 1, true},
        {2, 7, 5, 3, 5, 3, 3, 2, 2, 0, 0, false},
        {1, 8, 9, 1, 4, 5, 5, 1, 1, 2, 2, true},      // Cin = 1
        {2, 6, 7, 4, 3, 1, 1, 2, 2, 0, 0, true},      // 1x1 stride 2: rows and columns of dx no window touches
        {3, 9, 9, 5, 7, 5, 5, 2, 2, 1, 1, false},
        {2, 5, 4, 2, 3, 3, 1, 1, 2, 1, 0, true},      // unequal kernel, stride and padding per axis
        {1, 3, 3, 2, 2, 5, 5, 1, 1, 1, 1, true},      // kernel equal to the padded input: 1x1 output
        {2, 4, 4, 3, 2, 1, 1, 1, 1, 2, 2, false},     // padding wider than the kernel: border outputs see only zeros
        {2, 5, 3, 7, 4, 1, 1, 1, 1, 0, 0, true},      // pointwise: no padding, stride 1
        {4, 16, 16, 16, 32, 3, 3, 1, 1, 1, 1, true},  // large enough for the GEMM's blocking
        {3, 64, 64, 256, 2, 3, 3, 1, 1, 1, 1, true},  // im2col of one image is 36 MiB: per-image chunks on the CPU
    };
    while (shapes.size() < 15) {
        const int ks[] = {1, 3, 5};
        Conv c{rand_int(1, 3), rand_int(1, 9), rand_int(1, 9), rand_int(1, 6), rand_int(1, 6), ks[rand_int(0, 2)],
               ks[rand_int(0, 2)], rand_int(1, 2), rand_int(1, 2), rand_int(0, 2), rand_int(0, 2), rand_int(0, 1) == 1};
        if (c.h + 2 * c.ph >= c.kh && c.w + 2 * c.pw >= c.kw) shapes.push_back(c);
    }
    return shapes;
}

// ---- tests: batch norm ------------------------------------------------------------------------------------------

void test_batchnorm(Test& t, int64_t m, int c, float momentum) {
    const float eps = 1e-5f;
    // Per-channel offsets and scales: a one-pass float32 variance would lose digits here.
    Vec offset = uniform(c, -3, 3), scale = uniform(c, 0.1f, 2.0f), x = uniform((size_t)m * c);
    for (int64_t i = 0; i < m; ++i)
        for (int ch = 0; ch < c; ++ch) x[i * c + ch] = offset[ch] + scale[ch] * x[i * c + ch];
    Vec gamma = uniform(c, 0.5f, 1.5f), beta = uniform(c), rmean = uniform(c), rvar = uniform(c, 0.5f, 2.0f);
    Vec dy = uniform((size_t)m * c);
    ref::Bn r = ref::bn_train(to_d(x), to_d(gamma), to_d(beta), to_d(rmean), to_d(rvar), m, c, momentum, eps);
    // The backward pass gets the reference's saved statistics rounded to float32, as the forward pass would give.
    Vec smean = to_f(r.mean), sinv = to_f(r.invstd);
    VecD dx, dgamma, dbeta;
    ref::bn_bwd(to_d(x), to_d(dy), to_d(gamma), to_d(smean), to_d(sinv), m, c, dx, dgamma, dbeta);
    VecD yi = ref::bn_infer(to_d(x), to_d(gamma), to_d(beta), to_d(rmean), to_d(rvar), m, c, eps);

    size_t n = (size_t)m * c;
    Outs o = cpu_case(format("batchnorm m=%lld c=%d momentum=%g", (long long)m, c, momentum),
                      [=](Session& s) {
                          float *xd = s.in(x), *gd = s.in(gamma), *bd = s.in(beta), *rm = s.in(rmean),
                                *rv = s.in(rvar);
                          float *y = s.out(n), *sm = s.out(c), *si = s.out(c), *y2 = s.out(n);
                          QY(qy_batchnorm_fwd_train, s.dev, s.stream, xd, gd, bd, y, sm, si, rm, rv, m, c, momentum,
                             eps);
                          QY(qy_batchnorm_fwd_infer, s.dev, s.stream, xd, gd, bd, s.in(rmean), s.in(rvar), y2, m, c,
                             eps);
                          float *dxd = s.out(n), *dg = s.out(c), *db = s.out(c);
                          QY(qy_batchnorm_bwd, s.dev, s.stream, xd, s.in(dy), gd, s.in(smean), s.in(sinv), dxd, dg, db,
                             m, c);
                          return Outs{{"y", s.get(y, n)},          {"save_mean", s.get(sm, c)},
                                      {"save_invstd", s.get(si, c)}, {"running_mean", s.get(rm, c)},
                                      {"running_var", s.get(rv, c)}, {"y_infer", s.get(y2, n)},
                                      {"dx", s.get(dxd, n)},         {"dgamma", s.get(dg, c)},
                                      {"dbeta", s.get(db, c)}};
                      },
                      kReduce);
    close(t, "train y", o[0].v, r.y, kReduce);
    close(t, "save_mean", o[1].v, r.mean, kReduce);
    close(t, "save_invstd", o[2].v, r.invstd, kReduce);
    close(t, "running_mean", o[3].v, r.rmean, kReduce);
    close(t, "running_var", o[4].v, r.rvar, kReduce);
    close(t, "infer y", o[5].v, yi, kReduce);
    close(t, "bwd dx", o[6].v, dx, kReduce);
    close(t, "bwd dgamma", o[7].v, dgamma, kReduce);
    close(t, "bwd dbeta", o[8].v, dbeta, kReduce);
}

// ---- tests: pooling ---------------------------------------------------------------------------------------------

Runner maxpool_runner(const Pool& p, const Vec& x, const Vec& dy) {
    return [=](Session& s) {
        float *xd = s.in(x), *y = s.out(p.ys()), *dx = s.out(p.xs());
        QY(qy_maxpool2x2_fwd, s.dev, s.stream, xd, y, p.n, p.h, p.w, p.c);
        QY(qy_maxpool2x2_bwd, s.dev, s.stream, xd, s.in(dy), dx, p.n, p.h, p.w, p.c);
        return Outs{{"y", s.get(y, p.ys())}, {"dx", s.get(dx, p.xs())}};
    };
}

void test_maxpool(Test& t, const Pool& p, bool ties) {
    Vec x = uniform(p.xs()), dy = uniform(p.ys());
    // Ties: values from {1, 2, 3} make most windows hold several maxima; dy must go to the first one only.
    if (ties)
        for (float& v : x) v = (float)rand_int(1, 3);
    Outs o = cpu_case(format("maxpool2x2 %s%s", p.str().c_str(), ties ? " ties" : ""), maxpool_runner(p, x, dy),
                      {Measure::Bits, kExact});
    VecD y, dx;
    ref::maxpool(p, to_d(x), to_d(dy), y, dx);
    close(t, "fwd y", o[0].v, y, kExact);
    close(t, "bwd dx", o[1].v, dx, kExact);
}

void test_avgpool(Test& t, int n, int hw, int c) {
    Vec x = uniform((size_t)n * hw * c), dy = uniform((size_t)n * c);
    size_t xs = x.size(), ys = dy.size();
    Outs o = cpu_case(format("avgpool_global n=%d hw=%d c=%d", n, hw, c),
                      [=](Session& s) {
                          float *y = s.out(ys), *dx = s.out(xs);
                          QY(qy_avgpool_global_fwd, s.dev, s.stream, s.in(x), y, n, hw, c);
                          QY(qy_avgpool_global_bwd, s.dev, s.stream, s.in(dy), dx, n, hw, c);
                          return Outs{{"y", s.get(y, ys)}, {"dx", s.get(dx, xs)}};
                      },
                      kReduce);
    close(t, "fwd y", o[0].v, ref::avgpool_fwd(to_d(x), n, hw, c), kReduce);
    close(t, "bwd dx", o[1].v, ref::avgpool_bwd(to_d(dy), n, hw, c), kElem);
}

// ---- tests: linear ----------------------------------------------------------------------------------------------

Runner linear_runner(int n, int in, int out, bool bias, const Vec& x, const Vec& w, const Vec& b, const Vec& dy) {
    return [=](Session& s) {
        size_t xs = (size_t)n * in, ws = (size_t)out * in, ys = (size_t)n * out;
        float *xd = s.in(x), *wd = s.in(w), *bd = bias ? s.in(b) : nullptr, *dyd = s.in(dy);
        float *y = s.out(ys), *dx = s.out(xs), *dw = s.out(ws), *db = bias ? s.out(out) : nullptr;
        QY(qy_linear_fwd, s.dev, s.stream, xd, wd, bd, y, n, in, out);
        QY(qy_linear_bwd_data, s.dev, s.stream, dyd, wd, dx, n, in, out);
        QY(qy_linear_bwd_weight, s.dev, s.stream, xd, dyd, dw, db, n, in, out);
        Outs o{{"y", s.get(y, ys)}, {"dx", s.get(dx, xs)}, {"dw", s.get(dw, ws)}};
        if (bias) o.push_back({"dbias", s.get(db, out)});
        return o;
    };
}

void test_linear(Test& t, int n, int in, int out, bool bias) {
    Vec x = uniform((size_t)n * in), w = uniform((size_t)out * in), b = uniform(out), dy = uniform((size_t)n * out);
    Outs o = cpu_case(format("linear n=%d in=%d out=%d %s", n, in, out, bias ? "bias" : "no-bias"),
                      linear_runner(n, in, out, bias, x, w, b, dy), kReduce);
    VecD bd = to_d(b), dw, db;
    close(t, "fwd y", o[0].v, ref::linear_fwd(to_d(x), to_d(w), bias ? &bd : nullptr, n, in, out), kReduce);
    close(t, "bwd_data dx", o[1].v, ref::linear_bwd_data(to_d(dy), to_d(w), n, in, out), kReduce);
    ref::linear_bwd_weight(to_d(x), to_d(dy), n, in, out, dw, db);
    close(t, "bwd_weight dw", o[2].v, dw, kReduce);
    if (bias) close(t, "bwd_weight dbias", o[3].v, db, kReduce);
}

// ---- tests: dropout ---------------------------------------------------------------------------------------------

struct Drop {
    int64_t rows, spatial, units;
    float p;
    uint64_t seed;
    uint32_t layer;
    uint64_t k0;
    int64_t rows_per_sample;
    size_t size() const { return (size_t)(rows * spatial * units); }
    std::string str() const {
        return format("rows=%lld spatial=%lld units=%lld p=%g layer=0x%x k0=0x%llx rps=%lld", (long long)rows,
                      (long long)spatial, (long long)units, p, layer, (unsigned long long)k0,
                      (long long)rows_per_sample);
    }
};

Runner dropout_runner(const Drop& d, const Vec& x) {
    return [=](Session& s) {
        float* y = s.out(d.size());
        QY(qy_dropout, s.dev, s.stream, s.in(x), y, d.rows, d.spatial, d.units, d.p, d.seed, d.layer, d.k0,
           d.rows_per_sample);
        return Outs{{"y", s.get(y, d.size())}};
    };
}

VecD dropout_ref(const Drop& d, const Vec& x) {
    return ref::dropout(to_d(x), d.rows, d.spatial, d.units, d.p, d.seed, d.layer, d.k0, d.rows_per_sample);
}

// Whether unit u of row r is kept, read off the output (inputs are never zero).
bool kept(const Drop& d, const Vec& y, int64_t r, int64_t s, int64_t u) {
    return y[(size_t)((r * d.spatial + s) * d.units + u)] != 0.0f;
}

void test_dropout_mask(Test& t) {
    // k crosses 2^32 (k_lo wraps, k_hi counts); the seed fills both key words; the layer's top bit must be masked.
    const Drop cases[] = {
        {12, 1, 37, 0.3f, 0x0123456789ABCDEFull, 0x80000005u, 0xFFFFFFFEull, 3},
        {5, 35, 6, 0.5f, 42, 1, 0, 1},           // Dropout2d on NHWC: spatial = h*w = 7*5, units = c
        {9, 4, 13, 0.1f, 7, 2, 1000, 2},
        {3, 1, 5, 0.0f, 1, 0, 0, 1},             // p = 0 keeps everything and scales by 1
        {7, 1, 9, 0.4f, 3, 0x40000007u, 5, 1},   // bit 30 of the layer is masked too (the joint-sampling stream's)
    };
    for (const Drop& d : cases) {
        Vec x = uniform(d.size());
        Outs o = cpu_case("dropout " + d.str(), dropout_runner(d, x), {Measure::Abs1SameZeros, kElem});
        VecD want = dropout_ref(d, x);
        close(t, d.str(), o[0].v, want, kElem);
        size_t wrong = 0;
        for (size_t i = 0; i < want.size(); ++i) wrong += (want[i] != 0.0) != (o[0].v[i] != 0.0f);
        t.expect(wrong == 0,
                 format("%s: %zu elements kept or dropped against the philox mask", d.str().c_str(), wrong));
        if (d.p == 0.0f) same_bits(t, "p = 0 is the identity", o[0].v, x);
    }
}

void test_dropout_consistency(Test& t) {
    const Drop d{12, 4, 64, 0.5f, 99, 3, 10, 3};  // 4 masks, each shared by 3 rows, broadcast over 4 positions
    Vec x = uniform(d.size());
    Vec y = run_on(QY_DEV_CPU, nullptr, dropout_runner(d, x))[0].v;
    for (int64_t r = 0; r < d.rows; ++r)
        for (int64_t s = 0; s < d.spatial; ++s)
            for (int64_t u = 0; u < d.units; ++u) {
                int64_t first = r - r % d.rows_per_sample;  // the first row with the same k
                if (kept(d, y, r, s, u) != kept(d, y, first, 0, u)) {
                    t.fail(format("row %lld position %lld unit %lld differs from row %lld position 0", (long long)r,
                                  (long long)s, (long long)u, (long long)first));
                    return;
                }
            }
    auto mask_of = [&](const Vec& out, int64_t r) {
        std::vector<bool> m((size_t)d.units);
        for (int64_t u = 0; u < d.units; ++u) m[(size_t)u] = kept(d, out, r, 0, u);
        return m;
    };
    for (int64_t r = d.rows_per_sample; r < d.rows; r += d.rows_per_sample)
        t.expect(mask_of(y, r) != mask_of(y, r - d.rows_per_sample),
                 format("rows %lld and %lld have different k but the same mask", (long long)r,
                        (long long)(r - d.rows_per_sample)));
    // Another layer, another seed, or a shifted k0 change the mask; the data index never enters it.
    Drop layer = d, seed = d, shift = d;
    layer.layer += 1;
    seed.seed += 1;
    shift.k0 += 1;
    Vec yl = run_on(QY_DEV_CPU, nullptr, dropout_runner(layer, x))[0].v;
    Vec ys = run_on(QY_DEV_CPU, nullptr, dropout_runner(seed, x))[0].v;
    Vec yk = run_on(QY_DEV_CPU, nullptr, dropout_runner(shift, x))[0].v;
    t.expect(mask_of(yl, 0) != mask_of(y, 0), "a different layer gives the same mask");
    t.expect(mask_of(ys, 0) != mask_of(y, 0), "a different seed gives the same mask");
    t.expect(mask_of(yk, 0) == mask_of(y, d.rows_per_sample), "k0 + 1 at row 0 differs from k0 at the second sample");
}

void test_dropout_fraction(Test& t) {
    for (float p : {0.1f, 0.25f, 0.5f, 0.9f}) {
        const Drop d{200, 1, 1000, p, 12345, 0, 0, 1};
        Vec x = uniform(d.size());
        Vec y = cpu_case("dropout " + d.str(), dropout_runner(d, x), {Measure::Abs1SameZeros, kElem})[0].v;
        size_t keep = 0;
        for (float v : y) keep += v != 0.0f;
        double frac = (double)keep / (double)y.size();
        // Standard error sqrt(p (1 - p) / 2e5) <= 1.1e-3; the bound is about 5 of them.
        t.error(std::fabs(frac - (1 - p)));
        t.expect(std::fabs(frac - (1 - p)) < 0.0055, format("p=%g: kept %.4f, want %.4f", p, frac, 1 - p));
    }
}

// ---- tests: data augmentation (crop + flip) -----------------------------------------------------------------------

struct Aug {
    int n, h, w, c, pad;
    uint64_t seed, step;
    size_t size() const { return (size_t)n * h * w * c; }
    std::string str() const {
        return format("n=%d h=%d w=%d c=%d pad=%d seed=0x%llx step=0x%llx", n, h, w, c, pad, (unsigned long long)seed,
                      (unsigned long long)step);
    }
};

Runner crop_flip_runner(const Aug& a, const Vec& x) {
    return [=](Session& s) {
        float* y = s.out(a.size());
        QY(qy_crop_flip, s.dev, s.stream, s.in(x), y, a.n, a.h, a.w, a.c, a.pad, a.seed, a.step);
        return Outs{{"y", s.get(y, a.size())}};
    };
}

// A permutation with zeroed margins, so the op must equal the reference bitwise; a second run must repeat it.
void test_crop_flip(Test& t, const Aug& a) {
    Vec x = uniform(a.size());
    Vec y = cpu_case("crop_flip " + a.str(), crop_flip_runner(a, x), {Measure::Bits, kExact})[0].v;
    same_bits(t, a.str(), y, to_f(ref::crop_flip(x, a.n, a.h, a.w, a.c, a.pad, a.seed, a.step)));
    same_bits(t, "the same (seed, step) again", run_on(QY_DEV_CPU, nullptr, crop_flip_runner(a, x))[0].v, y);
}

// Every image holds the same pixels, 1 + (row * w + col) * c + ch, so each output reveals its own (dy, dx, flip):
// the centre pixel (4, 4) gives the source row and column, its left neighbour (4, 3) the direction. With h = 9,
// w = 8 and pad 3 both pixels always come from inside the image.
void test_crop_flip_distribution(Test& t) {
    const Aug a{6000, 9, 8, 2, 3, 0x5EEDull, 17};
    Vec one((size_t)a.h * a.w * a.c), x;
    for (size_t j = 0; j < one.size(); ++j) one[j] = (float)(j + 1);
    for (int i = 0; i < a.n; ++i) x.insert(x.end(), one.begin(), one.end());
    Vec y = cpu_case("crop_flip " + a.str(), crop_flip_runner(a, x), {Measure::Bits, kExact})[0].v;
    const int span = 2 * a.pad + 1;
    std::vector<int> dy_count(span), dx_count(span);
    int flips = 0;
    for (int i = 0; i < a.n; ++i) {
        auto source = [&](int row, int col) {
            float v = y[(((size_t)i * a.h + row) * a.w + col) * a.c];
            return v == 0.0f ? -1 : (int)(v - 1) / a.c;
        };
        const int centre = source(4, 4), left = source(4, 3);
        if (centre < 0 || left < 0) {
            t.fail(format("image %d: the centre of the crop is padding", i));
            return;
        }
        const bool flip = left % a.w > centre % a.w;
        const int dy = centre / a.w - 4, dx = centre % a.w - (flip ? a.w - 1 - 4 : 4);
        if (dy < -a.pad || dy > a.pad || dx < -a.pad || dx > a.pad) {
            t.fail(format("image %d: offset (%d, %d) outside [-%d, %d]", i, dy, dx, a.pad, a.pad));
            return;
        }
        const ref::CropChoice want = ref::crop_flip_choice(a.seed, a.step, (uint32_t)i, a.pad);
        t.expect(dy == want.dy && dx == want.dx && flip == want.flip,
                 format("image %d: (%d, %d, flip %d), the header's draw is (%d, %d, flip %d)", i, dy, dx, flip,
                        want.dy, want.dx, want.flip));
        ++dy_count[dy + a.pad];
        ++dx_count[dx + a.pad];
        flips += flip;
    }
    // Binomial standard errors: flips sqrt(n / 4) = 39, each offset sqrt(n (1/7)(6/7)) = 27; bounds of 5 of them.
    const double frac = (double)flips / a.n;
    t.error(std::fabs(frac - 0.5));
    t.expect(std::fabs(frac - 0.5) < 5 * std::sqrt(0.25 / a.n), format("flipped %.4f of the images", frac));
    const double want = (double)a.n / span, sd = std::sqrt(a.n * (1.0 / span) * (1 - 1.0 / span));
    for (int o = 0; o < span; ++o) {
        t.expect(std::fabs(dy_count[o] - want) < 5 * sd,
                 format("dy = %d drawn %d times, expected %.0f +- %.0f", o - a.pad, dy_count[o], want, 5 * sd));
        t.expect(std::fabs(dx_count[o] - want) < 5 * sd,
                 format("dx = %d drawn %d times, expected %.0f +- %.0f", o - a.pad, dx_count[o], want, 5 * sd));
    }
}

// The choices are a function of (seed, step, index in the batch): another step, another seed (both key words),
// or another slot in the batch give another crop; the pixel values never enter.
void test_crop_flip_streams(Test& t) {
    const Aug a{60, 11, 13, 3, 4, 0x0123456789ABCDEFull, 0xFFFFFFFFull};
    Vec one = uniform((size_t)a.h * a.w * a.c), x;
    for (int i = 0; i < a.n; ++i) x.insert(x.end(), one.begin(), one.end());
    const size_t img = one.size();
    auto images_equal = [&](const Vec& p, int i, const Vec& q, int j) {
        return std::memcmp(&p[(size_t)i * img], &q[(size_t)j * img], img * sizeof(float)) == 0;
    };
    auto same_images = [&](const Vec& p, const Vec& q) {
        int same = 0;
        for (int i = 0; i < a.n; ++i) same += images_equal(p, i, q, i);
        return same;
    };
    Vec y = run_on(QY_DEV_CPU, nullptr, crop_flip_runner(a, x))[0].v;
    Aug step = a, step_hi = a, seed_lo = a, seed_hi = a;
    step.step += 1;
    step_hi.step += 1ull << 32;
    seed_lo.seed += 1;
    seed_hi.seed += 1ull << 32;
    // Two draws collide with probability 1 / (9 * 9 * 2) = 0.6%: a handful of equal images at most.
    for (const Aug* other : {&step, &step_hi, &seed_lo, &seed_hi}) {
        Vec z = run_on(QY_DEV_CPU, nullptr, crop_flip_runner(*other, x))[0].v;
        const int same = same_images(y, z);
        t.expect(same <= 3, format("%s: %d of %d images equal to %s", other->str().c_str(), same, a.n,
                                   a.str().c_str()));
    }
    int same_as_first = 0;
    for (int i = 1; i < a.n; ++i) same_as_first += images_equal(y, i, y, 0);
    t.expect(same_as_first <= 3, format("%d of %d copies of one image got image 0's crop", same_as_first, a.n - 1));
}

// ---- tests: log-softmax and NLL ---------------------------------------------------------------------------------

void test_log_softmax(Test& t, int n, int c, float scale, float offset) {
    Vec x = uniform((size_t)n * c), dy = uniform((size_t)n * c);
    for (float& v : x) v = offset + scale * v;  // logits near 1000: exp overflows even in float64 without the max
    VecD y = ref::log_softmax(to_d(x), n, c);
    Vec yf = to_f(y);
    size_t sz = x.size();
    Outs o = cpu_case(format("log_softmax n=%d c=%d scale=%g offset=%g", n, c, scale, offset),
                      [=](Session& s) {
                          float *yo = s.out(sz), *dx = s.out(sz);
                          QY(qy_log_softmax_fwd, s.dev, s.stream, s.in(x), yo, n, c);
                          QY(qy_log_softmax_bwd, s.dev, s.stream, s.in(yf), s.in(dy), dx, n, c);
                          return Outs{{"y", s.get(yo, sz)}, {"dx", s.get(dx, sz)}};
                      },
                      kReduce);
    close(t, "fwd y", o[0].v, y, kReduce);
    close(t, "bwd dx", o[1].v, ref::log_softmax_bwd(to_d(yf), to_d(dy), n, c), kReduce);
}

Runner nll_runner(const Vec& logp, const Labels& labels, int n, int c, float smoothing, float scale) {
    return [=](Session& s) {
        float *loss = s.out(1), *d = s.out((size_t)n * c);
        int32_t* lab = s.in(labels);
        QY(qy_nll_fwd, s.dev, s.stream, s.in(logp), lab, loss, n, c, smoothing);
        QY(qy_nll_bwd, s.dev, s.stream, lab, d, n, c, smoothing, scale);
        return Outs{{"loss", s.get(loss, 1)}, {"dlogp", s.get(d, (size_t)n * c)}};
    };
}

void test_nll(Test& t, int n, int c, float smoothing, float scale) {
    Vec logp = to_f(ref::log_softmax(to_d(uniform((size_t)n * c, -3, 3)), n, c));
    Labels labels(n);
    for (int32_t& l : labels) l = rand_int(0, c - 1);
    Outs o = cpu_case(format("nll n=%d c=%d smoothing=%g scale=%g", n, c, smoothing, scale),
                      nll_runner(logp, labels, n, c, smoothing, scale), kReduce);
    close(t, "fwd loss", o[0].v, VecD{ref::nll(to_d(logp), labels, n, c, smoothing)}, kReduce);
    close(t, "bwd dlogp", o[1].v, ref::nll_bwd(labels, n, c, smoothing, scale), kElem);
}

void test_nll_bad_label(Test& t) {
    const int n = 4, c = 5;
    Vec logp = to_f(ref::log_softmax(to_d(uniform((size_t)n * c)), n, c));
    for (int32_t bad : {-1, c}) {
        Labels labels = {0, 4, bad, 2};
        Vec loss = run_on(QY_DEV_CPU, nullptr, nll_runner(logp, labels, n, c, 0.1f, 1.0f))[0].v;
        t.expect(std::isnan(loss[0]), format("label %d of c=%d: loss %g, want NaN", bad, c, (double)loss[0]));
    }
}

// ---- tests: optimizers ------------------------------------------------------------------------------------------

struct Sgd {
    float lr, momentum, dampening, weight_decay;
    int nesterov;
    std::string str() const {
        return format("lr=%g momentum=%g dampening=%g wd=%g nesterov=%d", lr, momentum, dampening, weight_decay,
                      nesterov);
    }
};

void test_sgd(Test& t, const Sgd& h) {
    const int64_t n = 1001;
    const int steps = 5;
    Vec p0 = uniform(n);
    std::vector<Vec> grads;
    for (int i = 0; i < steps; ++i) grads.push_back(uniform(n));
    Outs o = cpu_case("sgd " + h.str(),
                      [=](Session& s) {
                          float* p = s.in(p0);
                          // Poisoned: the first step must set the buffer without reading it.
                          float* buf = h.momentum > 0 ? s.out(n) : nullptr;
                          for (int i = 0; i < steps; ++i)
                              QY(qy_sgd_step, s.dev, s.stream, p, s.in(grads[i]), buf, n, h.lr, h.momentum,
                                 h.dampening, h.weight_decay, h.nesterov, i == 0);
                          Outs out{{"param", s.get(p, n)}};
                          if (buf) out.push_back({"momentum_buf", s.get(buf, n)});
                          return out;
                      },
                      kReduce);
    // PyTorch's SGD in float64; with momentum 0 it keeps no buffer.
    VecD p = to_d(p0), buf(n, 0.0);
    for (int i = 0; i < steps; ++i)
        for (int64_t j = 0; j < n; ++j) {
            double g = grads[i][j] + (double)h.weight_decay * p[j];
            if (h.momentum > 0) {
                buf[j] = i == 0 ? g : (double)h.momentum * buf[j] + (1 - (double)h.dampening) * g;
                g = h.nesterov ? g + (double)h.momentum * buf[j] : buf[j];
            }
            p[j] -= (double)h.lr * g;
        }
    close(t, "param", o[0].v, p, kReduce);
    if (h.momentum > 0) close(t, "momentum_buf", o[1].v, buf, kReduce);
}

struct AdamCase {
    float lr, beta1, beta2, eps, weight_decay;
    int decoupled;
    int64_t first_step;  // > 1: resume from random moments
    std::string str() const {
        return format("%s lr=%g betas=%g,%g eps=%g wd=%g from step %lld", decoupled ? "AdamW" : "Adam", lr, beta1,
                      beta2, eps, weight_decay, (long long)first_step);
    }
};

void test_adam(Test& t, const AdamCase& h) {
    const int64_t n = 1001;
    const int steps = 6;
    Vec p0 = uniform(n), m0(n, 0.0f), v0(n, 0.0f);
    if (h.first_step > 1) m0 = uniform(n, -0.1f, 0.1f), v0 = uniform(n, 1e-4f, 1e-2f);
    std::vector<Vec> grads;
    for (int i = 0; i < steps; ++i) grads.push_back(uniform(n));
    Outs o = cpu_case("adam " + h.str(),
                      [=](Session& s) {
                          float *p = s.in(p0), *m = s.in(m0), *v = s.in(v0);
                          for (int i = 0; i < steps; ++i)
                              QY(qy_adam_step, s.dev, s.stream, p, s.in(grads[i]), m, v, n, h.lr, h.beta1, h.beta2,
                                 h.eps, h.weight_decay, h.decoupled, h.first_step + i);
                          return Outs{{"param", s.get(p, n)}, {"m", s.get(m, n)}, {"v", s.get(v, n)}};
                      },
                      kReduce);
    // PyTorch's Adam / AdamW in float64: p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
    VecD p = to_d(p0), m = to_d(m0), v = to_d(v0);
    const double lr = h.lr, b1 = h.beta1, b2 = h.beta2, eps = h.eps, wd = h.weight_decay;
    for (int i = 0; i < steps; ++i) {
        double step = (double)(h.first_step + i);
        double c1 = 1 - std::pow(b1, step), c2 = 1 - std::pow(b2, step);
        for (int64_t j = 0; j < n; ++j) {
            double g = grads[i][j];
            if (h.decoupled)
                p[j] *= 1 - lr * wd;
            else
                g += wd * p[j];
            m[j] = b1 * m[j] + (1 - b1) * g;
            v[j] = b2 * v[j] + (1 - b2) * g * g;
            p[j] -= lr / c1 * m[j] / (std::sqrt(v[j]) / std::sqrt(c2) + eps);
        }
    }
    close(t, "param", o[0].v, p, kReduce);
    close(t, "m", o[1].v, m, kReduce);
    close(t, "v", o[2].v, v, kReduce);
}

// ---- tests: acquisition -----------------------------------------------------------------------------------------
// Inputs are log-softmax MC outputs logp [n][k][c]. The references take exp of exactly the values the op reads (float32
// inputs widened to float64) and follow quarry.h / docs/acquisition.md in float64.

const char* const kScoreNames[] = {"entropy",          "bald",     "least_confidence", "margin",
                                   "variation_ratios", "mean_std", "cond_entropy"};
constexpr int kScoreKinds = QY_SCORE_COND_ENTROPY + 1;
constexpr double kInf = std::numeric_limits<double>::infinity();

const char* dtype_name(int dtype) { return dtype == QY_F32 ? "f32" : "f64"; }

int64_t ipow(int base, int e) {
    int64_t r = 1;
    while (e-- > 0) r *= base;
    return r;
}

// Log-softmax of one row of float64 logits in place; -inf logits stay -inf (p = 0). One logit must be finite.
void log_softmax_row(double* x, int c) {
    VecD y = ref::log_softmax(VecD(x, x + c), 1, c);
    std::copy(y.begin(), y.end(), x);
}

// A seeded pool logp [n][k][c] in float64 whose points cycle through five kinds (by index mod 5):
//   0 random: logits base + noise at a random temperature (peaked to nearly flat);
//   1 deterministic: the same logits for every MC sample (BALD = 0 up to rounding);
//   2 exact zeros: about a third of the classes of each sample at -inf (never class kk % c);
//   3 argmax ties: even samples have two equal largest logits at classes t and t + 1, odd samples the largest at t + 1
//     alone, so ties to the lowest class give variation ratio 1 - ceil(K/2)/K where the highest class would give 0;
//   4 one-hot samples: log p = 0 for one class in {0, 1, 2}, -inf elsewhere (H[p_k] = 0 exactly).
VecD acq_pool(int64_t n, int k, int c) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    const double temps[] = {0.3, 1.0, 3.0, 10.0};
    VecD logp((size_t)n * k * c), base((size_t)c);
    for (int64_t i = 0; i < n; ++i) {
        const int kind = (int)(i % 5);
        const double temp = temps[rand_int(0, 3)];
        for (double& b : base) b = temp * u(g_rng);
        const int t = c > 1 ? rand_int(0, c - 2) : 0;
        for (int kk = 0; kk < k; ++kk) {
            double* x = &logp[((size_t)i * k + kk) * c];
            for (int j = 0; j < c; ++j) x[j] = kind == 1 ? base[j] : base[j] + (kind == 0 ? temp : 1.0) * u(g_rng);
            if (kind == 2)
                for (int j = 0; j < c; ++j)
                    if (j != kk % c && rand_int(0, 2) == 0) x[j] = -kInf;
            if (kind == 3 && c > 1) {
                const double mx = *std::max_element(x, x + c);
                x[t + 1] = mx + 0.5;
                x[t] = kk % 2 == 0 ? mx + 0.5 : mx + 0.25;
            }
            if (kind == 4) {
                const int hot = rand_int(0, std::min(c - 1, 2));
                for (int j = 0; j < c; ++j) x[j] = j == hot ? 0.0 : -kInf;
            }
            log_softmax_row(x, c);
        }
    }
    return logp;
}

// Plain MC pools for the sampled estimator: logits base + per-sample noise, no structure.
VecD mc_probs(int64_t n, int k, int c) {
    std::normal_distribution<double> z(0.0, 1.0);
    VecD logp((size_t)n * k * c), base((size_t)c);
    for (int64_t i = 0; i < n; ++i) {
        for (double& b : base) b = 1.5 * z(g_rng);
        for (int kk = 0; kk < k; ++kk) {
            double* x = &logp[((size_t)i * k + kk) * c];
            for (int j = 0; j < c; ++j) x[j] = base[j] + 1.0 * z(g_rng);
            log_softmax_row(x, c);
        }
    }
    return ref::probs(logp);
}

// Pointers to the [k][c] blocks of points first .. first + count - 1 of a pool.
std::vector<const double*> points(const VecD& probs, int first, int count, int k, int c) {
    std::vector<const double*> pts;
    for (int i = first; i < first + count; ++i) pts.push_back(&probs[(size_t)i * k * c]);
    return pts;
}

Runner acq_score_runner(int64_t n, int k, int c, int dtype, const Vec& lf, const VecD& ld) {
    return [=](Session& s) {
        const void* x = dtype == QY_F32 ? (const void*)s.in(lf) : (const void*)s.in(ld);
        Outs o;
        for (int kind = 0; kind < kScoreKinds; ++kind) {
            double* y = s.out_d((size_t)n);
            QY(qy_acq_score, s.dev, s.stream, x, dtype, n, k, c, kind, y);
            o.push_back({kScoreNames[kind], s.get(y, (size_t)n)});
        }
        return o;
    };
}

void test_acq_score(Test& t, int64_t n, int k, int c, int dtype) {
    VecD logp = acq_pool(n, k, c);
    const Vec lf = to_f(logp);
    if (dtype == QY_F32) logp = to_d(lf);  // what the op reads
    Outs o = cpu_case(format("acq_score n=%lld k=%d c=%d %s", (long long)n, k, c, dtype_name(dtype)),
                      acq_score_runner(n, k, c, dtype, lf, dtype == QY_F64 ? logp : VecD{}), kAcqParity);
    const VecD p = ref::probs(logp);
    for (int kind = 0; kind < kScoreKinds; ++kind)
        close(t, kScoreNames[kind], o[(size_t)kind].d, ref::acq_scores(p, n, k, c, kind), kAcq);
    // BALD is a mutual information: >= 0 (Jensen: H is concave on any non-negative rows) and <= H[p_mean] <= log C;
    // float32 log-probs leave rows normalised only to ~1e-7, which can lift H[p_mean] above log C by about that much.
    const VecD& bald = o[QY_SCORE_BALD].d;
    const double upper = std::log((double)c) + (dtype == QY_F32 ? 1e-6 : 1e-12);
    for (int64_t i = 0; i < n; ++i) {
        if (!(bald[(size_t)i] >= -1e-13 && bald[(size_t)i] <= upper)) {
            t.fail(format("point %lld: BALD %.17g outside [0, log C = %.17g]", (long long)i, bald[(size_t)i],
                          std::log((double)c)));
            break;
        }
    }
    for (int64_t i = 1; i < n; i += 5)
        t.expect(std::fabs(bald[(size_t)i]) <= 1e-13,
                 format("deterministic point %lld: BALD %.3g, want 0 up to rounding", (long long)i, bald[(size_t)i]));
    for (int64_t i = 4; i < n; i += 5)
        t.expect(o[QY_SCORE_COND_ENTROPY].d[(size_t)i] == 0.0,
                 format("one-hot point %lld: conditional entropy %.3g, want exactly 0 (1 log 1, 0 log 0)",
                        (long long)i, o[QY_SCORE_COND_ENTROPY].d[(size_t)i]));
}

void test_logp_to_probs(Test& t, int64_t count, int dtype) {
    // Mostly uniform in [-30, 0], every tenth element special: -inf, zeros, and values whose exp is tiny, subnormal
    // or underflows to 0 in float64.
    const double special[] = {-kInf, 0.0, -0.0, -1e-30, -87.5, -103.9, -700.0, -745.1, -746.0, -1e300};
    std::uniform_real_distribution<double> u(-30.0, 0.0);
    VecD logp((size_t)count);
    for (int64_t i = 0; i < count; ++i) logp[(size_t)i] = i % 10 == 0 ? special[(i / 10) % 10] : u(g_rng);
    const Vec lf = to_f(logp);
    if (dtype == QY_F32) logp = to_d(lf);
    const VecD ld = dtype == QY_F64 ? logp : VecD{};
    Outs o = cpu_case(format("logp_to_probs count=%lld %s", (long long)count, dtype_name(dtype)),
                      [=](Session& s) {
                          const void* x = dtype == QY_F32 ? (const void*)s.in(lf) : (const void*)s.in(ld);
                          double* y = s.out_d((size_t)count);
                          QY(qy_logp_to_probs, s.dev, s.stream, x, dtype, count, y);
                          return Outs{{"probs", s.get(y, (size_t)count)}};
                      },
                      {Measure::Ulp1, 1});
    within_ulps(t, "probs vs std::exp", o[0].d, ref::probs(logp), 1);
    for (int64_t i = 0; i < count; ++i) {
        const double x = logp[(size_t)i], y = o[0].d[(size_t)i];
        if ((x == -kInf && bits(y) != bits(0.0)) || (x == 0.0 && y != 1.0)) {
            t.fail(format("element %lld: exp(%g) = %.17g", (long long)i, x, y));
            break;
        }
    }
}

void test_joint_extend(Test& t, int64_t m, int k, int c) {
    // p: joint probabilities of m configurations (products: spread over magnitudes, some exact zeros).
    std::uniform_real_distribution<double> u(0.0, 1.0);
    VecD p((size_t)(m * k));
    for (double& v : p) v = rand_int(0, 9) == 0 ? 0.0 : u(g_rng) * u(g_rng) * u(g_rng);
    const VecD pa = ref::probs(acq_pool(1, k, c));
    const size_t ns = (size_t)(m * c * k);
    Outs o = cpu_case(format("joint_extend m=%lld k=%d c=%d", (long long)m, k, c),
                      [=](Session& s) {
                          double* y = s.out_d(ns);
                          QY(qy_joint_extend, s.dev, s.stream, s.in(p), m, s.in(pa), k, c, y);
                          return Outs{{"p_new", s.get(y, ns)}};
                      },
                      {Measure::Bits, kExact});
    same_bits(t, "p_new vs p[i][kk] * probs_a[kk][j]", o[0].d, ref::joint_extend(p, m, pa.data(), k, c));
}

// Joint entropies of a chosen points plus each of n candidates, P built on the device by the Kronecker update from a
// row of ones; w empty passes NULL (exact enumeration).
Runner joint_exact_runner(int a, int k, int c, int64_t n, const VecD& chosen, const VecD& cand, const VecD& w) {
    return [=](Session& s) {
        const double* ch = a > 0 ? s.in(chosen) : nullptr;
        double* P = s.in(VecD((size_t)k, 1.0));
        int64_t m = 1;
        for (int i = 0; i < a; ++i) {
            double* next = s.out_d((size_t)(m * c * k));
            QY(qy_joint_extend, s.dev, s.stream, P, m, ch + (size_t)i * k * c, k, c, next);
            P = next;
            m *= c;
        }
        double* h = s.out_d((size_t)n);
        QY(qy_joint_entropy, s.dev, s.stream, P, w.empty() ? nullptr : s.in(w), m, s.in(cand), n, k, c, h);
        return Outs{{"P", s.get(P, (size_t)(m * k))}, {"H", s.get(h, (size_t)n)}};
    };
}

struct JointCase {
    int a, k, c;
    int64_t n;
    bool weights;
    std::string str() const {
        return format("a=%d k=%d c=%d n=%lld m=%lld%s", a, k, c, (long long)n, (long long)ipow(c, a),
                      weights ? " weighted" : "");
    }
};

void test_joint_exact(Test& t, const JointCase& jc) {
    const int a = jc.a, k = jc.k, c = jc.c;
    const int64_t n = jc.n, m = ipow(c, a);
    const VecD chosen = ref::probs(acq_pool(a, k, c)), cand = ref::probs(acq_pool(n, k, c));
    VecD w;
    if (jc.weights) w = to_d(uniform((size_t)m, 0.1f, 2.0f));
    Outs o = cpu_case("joint_entropy exact " + jc.str(), joint_exact_runner(a, k, c, n, chosen, cand, w), kAcqParity);
    const std::vector<const double*> pts = points(chosen, 0, a, k, c);
    const VecD P = ref::enumerate_joint(pts, k, c);
    same_bits(t, "P (joint_extend from a row of ones) vs all C^a configurations", o[0].d, P);
    close(t, "H vs the header's formula on the enumerated P", o[1].d, ref::joint_entropy(P, w, m, cand, n, k, c), kAcq);
    if (!jc.weights && ipow(c, a + 1) * k * n <= 20000000) {
        VecD brute((size_t)n);
        for (int64_t x = 0; x < n; ++x) {
            std::vector<const double*> all = pts;
            all.push_back(&cand[(size_t)x * k * c]);
            brute[(size_t)x] = ref::joint_entropy_brute(all, k, c);
        }
        close(t, "H vs brute force over all C^(a+1) configurations", o[1].d, brute, kAcq);
    }
    if (a == 0) {  // m = 1: the joint entropy of one point is the entropy of its mean (times w[0])
        VecD want = ref::acq_scores(cand, n, k, c, QY_SCORE_ENTROPY);
        for (double& v : want) v *= jc.weights ? w[0] : 1.0;
        close(t, "m=1: H vs the entropy score", o[1].d, want, kAcq);
    }
}

// Greedy BatchBALD (docs/acquisition.md) assembled from the ops with exact joint entropies: the score a(A + {x}) =
// H(y_A, y_x) - sum_{i in A + {x}} H_c(i) of each of b picks (ties to the lower index; chosen points are excluded).
Runner greedy_runner(const VecD& logp, int n, int k, int c, int b) {
    return [=](Session& s) {
        const int64_t nkc = (int64_t)n * k * c;
        const double* lp = s.in(logp);
        double* probs = s.out_d((size_t)nkc);
        QY(qy_logp_to_probs, s.dev, s.stream, lp, QY_F64, nkc, probs);
        double* hc_d = s.out_d((size_t)n);
        QY(qy_acq_score, s.dev, s.stream, lp, QY_F64, n, k, c, QY_SCORE_COND_ENTROPY, hc_d);
        const VecD hc = s.get(hc_d, (size_t)n);
        double* P = s.in(VecD((size_t)k, 1.0));
        int64_t m = 1;
        std::vector<bool> taken((size_t)n, false);
        double hc_sum = 0;
        VecD scores;
        for (int step = 0; step < b; ++step) {
            double* h = s.out_d((size_t)n);
            QY(qy_joint_entropy, s.dev, s.stream, P, nullptr, m, probs, n, k, c, h);
            const VecD hx = s.get(h, (size_t)n);
            int best = -1;
            double best_score = -kInf;
            for (int x = 0; x < n; ++x)
                if (!taken[(size_t)x] && hx[(size_t)x] - hc_sum - hc[(size_t)x] > best_score)
                    best = x, best_score = hx[(size_t)x] - hc_sum - hc[(size_t)x];
            scores.push_back(best_score);
            taken[(size_t)best] = true;
            hc_sum += hc[(size_t)best];
            double* next = s.out_d((size_t)(m * c * k));
            QY(qy_joint_extend, s.dev, s.stream, P, m, probs + (size_t)best * k * c, k, c, next);
            P = next;
            m *= c;
        }
        return Outs{{"greedy scores", scores}};
    };
}

// m_j = linspace(0, 1, K); p(y | w_j) = (1 - m_j) a + m_j b.
void mix_point(double* out, int k, const VecD& a, const VecD& b) {
    const int c = (int)a.size();
    for (int j = 0; j < k; ++j) {
        const double mj = (double)j / (k - 1);
        for (int y = 0; y < c; ++y) out[(size_t)j * c + y] = (1 - mj) * a[(size_t)y] + mj * b[(size_t)y];
    }
}

VecD log_of(const VecD& p) {
    VecD l(p.size());
    for (size_t i = 0; i < p.size(); ++i) l[i] = std::log(p[i]);  // log 0 = -inf
    return l;
}

void test_golden1(Test& t) {
    const int n = 4, k = 20, c = 4;
    const VecD a[4] = {{.7, .1, .1, .1}, {.1, .7, .1, .1}, {.1, .1, .7, .1}, {.1, .1, .1, .7}};
    const VecD b[4] = {{.3, .3, .2, .2}, {.2, .3, .3, .2}, {.2, .2, .3, .3}, {.3, .2, .2, .3}};
    VecD p((size_t)n * k * c);
    for (int i = 0; i < n; ++i) mix_point(&p[(size_t)i * k * c], k, a[i], b[i]);
    // The first pick is a near-tie among all four points (cyclic shifts of one another); the scores do not depend on
    // which one wins.
    Outs o = cpu_case("golden 1: greedy BatchBALD b=4", greedy_runner(log_of(p), n, k, c, 4), kAcqParity);
    close(t, "greedy scores", o[0].d,
          VecD{0.030715639666234917, 0.05961958627158248, 0.0869107051474467, 0.11275304532467878}, kAcq);
}

void test_golden2(Test& t) {
    const int k = 20, c = 4, n = 8;
    VecD p1((size_t)k * c), p2((size_t)k * c), p;
    mix_point(p1.data(), k, {.1, .2, .2, .5}, {.5, .2, .1, .2});
    mix_point(p2.data(), k, {.1, .6, .2, .1}, {0, .5, .5, 0});  // exact zeros in the last sample
    for (int i = 0; i < n; ++i) p.insert(p.end(), (i % 2 ? p2 : p1).begin(), (i % 2 ? p2 : p1).end());
    const VecD logp = log_of(p);
    Outs o = cpu_case("golden 2: exact joint entropies of 4 and 8 points",
                      [=](Session& s) {
                          const int64_t nkc = (int64_t)n * k * c;
                          double* probs = s.out_d((size_t)nkc);
                          QY(qy_logp_to_probs, s.dev, s.stream, s.in(logp), QY_F64, nkc, probs);
                          double* P = s.in(VecD((size_t)k, 1.0));
                          int64_t m = 1;
                          Outs out;
                          for (int i = 0; i < n - 1; ++i) {
                              double* next = s.out_d((size_t)(m * c * k));
                              QY(qy_joint_extend, s.dev, s.stream, P, m, probs + (size_t)i * k * c, k, c, next);
                              P = next;
                              m *= c;
                              if (i == 2 || i == n - 2) {
                                  double* h = s.out_d(1);
                                  QY(qy_joint_entropy, s.dev, s.stream, P, nullptr, m, probs + (size_t)(i + 1) * k * c,
                                     1, k, c, h);
                                  out.push_back({format("H(first %d)", i + 2), s.get(h, 1)});
                              }
                          }
                          return out;
                      },
                      kAcqParity);
    close(t, "H(first 4)", o[0].d, VecD{4.647885441401176}, kAcq);
    close(t, "H(all 8), given to 7 digits", o[1].d, VecD{9.266713}, 5e-7);
}

void test_golden3(Test& t, int dtype) {
    const int n = 3, k = 2, c = 4;
    const VecD p = {.1, .2, .3, .4, .15, .15, .3, .4,   // point 0: two MC samples
                    .1, .2, .3, .4, .15, .15, .3, .4,   // point 1 = point 0
                    .4, .3, .2, .1, .4,  .3,  .16, .14};
    VecD ld = log_of(p);
    const Vec lf = to_f(ld);
    if (dtype == QY_F32) ld.clear();
    Outs o = cpu_case(format("golden 3: BALD and pair scores %s", dtype_name(dtype)),
                      [=](Session& s) {
                          const int64_t nkc = (int64_t)n * k * c;
                          const void* x = dtype == QY_F32 ? (const void*)s.in(lf) : (const void*)s.in(ld);
                          double *bald = s.out_d(n), *hc = s.out_d(n), *probs = s.out_d((size_t)nkc);
                          double *P = s.out_d((size_t)(c * k)), *h = s.out_d(n);
                          QY(qy_acq_score, s.dev, s.stream, x, dtype, n, k, c, QY_SCORE_BALD, bald);
                          QY(qy_acq_score, s.dev, s.stream, x, dtype, n, k, c, QY_SCORE_COND_ENTROPY, hc);
                          QY(qy_logp_to_probs, s.dev, s.stream, x, dtype, nkc, probs);
                          QY(qy_joint_extend, s.dev, s.stream, s.in(VecD((size_t)k, 1.0)), 1, probs, k, c, P);
                          QY(qy_joint_entropy, s.dev, s.stream, P, nullptr, c, probs, n, k, c, h);
                          return Outs{
                              {"bald", s.get(bald, n)}, {"cond_entropy", s.get(hc, n)}, {"H(0, x)", s.get(h, n)}};
                      },
                      kAcqParity);
    // Printed to 4 significant digits: half a unit of the last digit is 5e-7.
    close(t, "BALD", o[0].d, VecD{0.004309, 0.004309, 0.002788}, 5e-7);
    const VecD& hc = o[1].d;
    const VecD& h = o[2].d;
    const double pair01 = h[1] - hc[0] - hc[1], pair02 = h[2] - hc[0] - hc[2];
    close(t, "a({0,1}), a({0,2})", VecD{pair01, pair02}, VecD{0.008581, 0.007073}, 5e-7);
    t.expect(pair01 > pair02, format("the duplicate pair {0,1} (%.6f) must beat {0,2} (%.6f)", pair01, pair02));
}

struct SampleCase {
    int a, k, c;
    int64_t s;
    uint64_t seed;
    uint32_t step;
    bool unnormalised;  // point 0's rows sum to 0.6: u >= 0.6 falls through to class c - 1
    std::string str() const {
        return format("a=%d k=%d c=%d s=%lld seed=0x%llx step=0x%x%s", a, k, c, (long long)s,
                      (unsigned long long)seed, step, unnormalised ? " unnormalised" : "");
    }
};

Runner sample_runner(const SampleCase& sc, const VecD& pc) {
    return [=](Session& s) {
        const int64_t m = (int64_t)sc.k * sc.s;
        double *p = s.out_d((size_t)(m * sc.k)), *w = s.out_d((size_t)m);
        QY(qy_joint_sample, s.dev, s.stream, s.in(pc), sc.a, sc.k, sc.c, sc.s, sc.seed, sc.step, p, w);
        return Outs{{"p", s.get(p, (size_t)(m * sc.k))}, {"w", s.get(w, (size_t)m)}};
    };
}

void test_joint_sample(Test& t, const SampleCase& sc) {
    VecD pc = ref::probs(acq_pool(sc.a, sc.k, sc.c));  // point 0 is a random one: no zeros, so q > 0 on every row
    if (sc.unnormalised)
        for (size_t i = 0; i < (size_t)sc.k * sc.c; ++i) pc[i] *= 0.6;
    Outs o = cpu_case("joint_sample " + sc.str(), sample_runner(sc, pc), {Measure::Bits, kExact});
    // Every row's configuration recomputed from qy_philox4x32_10: p must match bitwise (a wrong class changes it).
    VecD p, w;
    ref::joint_sample(pc, sc.a, sc.k, sc.c, sc.s, sc.seed, sc.step, p, w);
    same_bits(t, "p vs the documented Philox mapping", o[0].d, p);
    close_rel(t, "w = 1 / (m q)", o[1].d, w, 1e-15);
    same_bits(t, "same arguments twice", run_on(QY_DEV_CPU, nullptr, sample_runner(sc, pc))[0].d, o[0].d);
    const int64_t m = (int64_t)sc.k * sc.s;
    if (m >= 50) {  // another step or seed draws other configurations
        SampleCase step = sc, seed = sc;
        step.step += 1;
        seed.seed ^= 1ull << 40;  // the key's high word
        for (const SampleCase& other : {step, seed}) {
            const VecD q = run_on(QY_DEV_CPU, nullptr, sample_runner(other, pc))[0].d;
            int64_t same = 0;
            for (int64_t r = 0; r < m; ++r)
                same += std::equal(q.begin() + r * sc.k, q.begin() + (r + 1) * sc.k, o[0].d.begin() + r * sc.k);
            t.expect(same < m / 2, format("%s: %lld of %lld rows unchanged", other.str().c_str(), (long long)same,
                                          (long long)m));
        }
    }
}

// The importance-sampled estimate -sum_r w[r] sum_j J log J is consistent: docs/acquisition.md golden 4 (5 points,
// C = 10, K = 20: about +-0.14 nats at M = 200, +-0.014 at M = 20,000). 4 chosen points, 3 candidates.
void test_joint_sample_convergence(Test& t) {
    const int a = 4, k = 20, c = 10;
    const int64_t n = 3;
    const VecD chosen = mc_probs(a, k, c), cand = mc_probs(n, k, c);
    const VecD P = ref::enumerate_joint(points(chosen, 0, a, k, c), k, c);
    const VecD exact = ref::joint_entropy(P, {}, ipow(c, a), cand, n, k, c);
    auto runner = [&](int64_t M, uint64_t seed) -> Runner {
        const SampleCase sc{a, k, c, M / k, seed, 3, false};
        return [=](Session& s) {
            const int64_t m = (int64_t)k * sc.s;
            double *p = s.out_d((size_t)(m * k)), *w = s.out_d((size_t)m), *h = s.out_d((size_t)n);
            QY(qy_joint_sample, s.dev, s.stream, s.in(chosen), a, k, c, sc.s, sc.seed, sc.step, p, w);
            QY(qy_joint_entropy, s.dev, s.stream, p, w, m, s.in(cand), n, k, c, h);
            return Outs{{format("sampled H M=%lld", (long long)M), s.get(h, (size_t)n)}};
        };
    };
    const int seeds = 16;
    double err[2] = {0, 0};
    const int64_t sizes[2] = {200, 20000};
    for (int i = 0; i < 2; ++i)
        for (int seed = 1; seed <= seeds; ++seed) {
            const Runner r = runner(sizes[i], (uint64_t)seed);
            const VecD h = seed == 1 ? cpu_case(format("joint_sample + joint_entropy M=%lld", (long long)sizes[i]), r,
                                                kAcqParity)[0].d
                                     : run_on(QY_DEV_CPU, nullptr, r)[0].d;
            for (int64_t x = 0; x < n; ++x) err[i] += std::fabs(h[(size_t)x] - exact[(size_t)x]) / (seeds * n);
        }
    std::printf("     sampled joint entropy (exact %.4f %.4f %.4f nats): mean |error| %.4f at M=200, %.4f at M=20000\n",
                exact[0], exact[1], exact[2], err[0], err[1]);
    t.error(err[1]);
    t.expect(err[1] < err[0] / 3, format("mean |error| %.4f at M=20000 is not clearly below %.4f at M=200", err[1],
                                         err[0]));
    t.expect(err[1] < 0.05 && err[0] < 0.5,
             format("mean |error| %.4f at M=200 and %.4f at M=20000: want about 0.14 and 0.014", err[0], err[1]));
}

// ---- tests: backward ops against central finite differences of the float64 forward ----------------------------
// L = sum(y * r) for a fixed random r, so dL/dy = r is the dy every backward op gets. Each test checks the float64
// reference backward against the differences at kFdRef, then the float32 backward op at kFdOp.

void fd_pair(Test& t, const std::string& what, const VecD& fd, const VecD& ref_grad, const Vec& op_grad) {
    close(t, what + ": reference vs FD", ref_grad, fd, kFdRef);
    close(t, what + ": op vs FD", op_grad, fd, kFdOp);
}


namespace ref {
VecD l2norm_rows(const VecD& x, int64_t n, int64_t d) {
    VecD y(x.size());
    for (int64_t i = 0; i < n; ++i) {
        double ss = 0;
        for (int64_t j = 0; j < d; ++j) ss += x[i * d + j] * x[i * d + j];
        for (int64_t j = 0; j < d; ++j) y[i * d + j] = x[i * d + j] / std::sqrt(ss);
    }
    return y;
}
}  // namespace ref

// Forward against float64, backward against central finite differences of <normalise(x), r>.
void test_l2norm_rows(Test& t, int64_t n, int64_t d) {
    Vec xf = uniform(n * d), rf = uniform(n * d);
    VecD x = to_d(xf), r = to_d(rf);
    VecD y = ref::l2norm_rows(x, n, d);
    VecD gx = fd_grad(x, [&] { return dot(ref::l2norm_rows(x, n, d), r); });
    Outs o = cpu_case(format("l2norm_rows n=%lld d=%lld", (long long)n, (long long)d),
                      [=](Session& s) {
                          float* yo = s.out(n * d);
                          float* inv = s.out(n);
                          float* dxo = s.out(n * d);
                          QY(qy_l2norm_rows_fwd, s.dev, s.stream, s.in(xf), yo, inv, n, d);
                          QY(qy_l2norm_rows_bwd, s.dev, s.stream, yo, inv, s.in(rf), dxo, n, d);
                          return Outs{{"y", s.get(yo, n * d)}, {"dx", s.get(dxo, n * d)}};
                      },
                      kReduce);
    close(t, "l2norm fwd y", o[0].v, y, kReduce);
    VecD dx(x.size());
    for (int64_t i = 0; i < n; ++i) {
        double ss = 0, dt = 0;
        for (int64_t j = 0; j < d; ++j) ss += x[i * d + j] * x[i * d + j], dt += y[i * d + j] * r[i * d + j];
        for (int64_t j = 0; j < d; ++j) dx[i * d + j] = (r[i * d + j] - y[i * d + j] * dt) / std::sqrt(ss);
    }
    fd_pair(t, "l2norm dx", gx, dx, o[1].v);
}

void test_fd_conv(Test& t, const Conv& s) {
    Vec xf = uniform(s.xs()), wf = uniform(s.ws()), bf = uniform(s.cout), rf = uniform(s.ys());
    VecD x = to_d(xf), w = to_d(wf), b = to_d(bf), r = to_d(rf);
    auto loss = [&] { return dot(ref::conv_fwd(s, x, w, s.bias ? &b : nullptr), r); };
    VecD gx = fd_grad(x, loss), gw = fd_grad(w, loss), gb = fd_grad(b, loss);
    Outs o = run_on(QY_DEV_CPU, nullptr, conv_runner(s, xf, wf, bf, rf));
    VecD dw, db;
    ref::conv_bwd_filter(s, x, r, dw, db);
    fd_pair(t, "dx", gx, ref::conv_bwd_data(s, r, w), o[1].v);
    fd_pair(t, "dw", gw, dw, o[2].v);
    if (s.bias) fd_pair(t, "dbias", gb, db, o[3].v);
}

void test_fd_batchnorm(Test& t) {
    const int64_t m = 6;
    const int c = 3;
    const float momentum = 0.1f, eps = 1e-5f;
    Vec xf = uniform(m * c, -2, 2), gf = uniform(c, 0.5f, 1.5f), bf = uniform(c), rf = uniform(m * c);
    VecD x = to_d(xf), gamma = to_d(gf), beta = to_d(bf), r = to_d(rf), rm(c, 0.0), rv(c, 1.0);
    auto loss = [&] { return dot(ref::bn_train(x, gamma, beta, rm, rv, m, c, momentum, eps).y, r); };
    VecD gx = fd_grad(x, loss), gg = fd_grad(gamma, loss), gb = fd_grad(beta, loss);
    ref::Bn fwd = ref::bn_train(x, gamma, beta, rm, rv, m, c, momentum, eps);
    VecD dx, dgamma, dbeta;
    ref::bn_bwd(x, r, gamma, fwd.mean, fwd.invstd, m, c, dx, dgamma, dbeta);
    Vec smean = to_f(fwd.mean), sinv = to_f(fwd.invstd);
    Outs o = run_on(QY_DEV_CPU, nullptr, [&](Session& s) {
        float *d = s.out(m * c), *dg = s.out(c), *db = s.out(c);
        QY(qy_batchnorm_bwd, s.dev, s.stream, s.in(xf), s.in(rf), s.in(gf), s.in(smean), s.in(sinv), d, dg, db, m, c);
        return Outs{{"dx", s.get(d, m * c)}, {"dgamma", s.get(dg, c)}, {"dbeta", s.get(db, c)}};
    });
    fd_pair(t, "dx", gx, dx, o[0].v);
    fd_pair(t, "dgamma", gg, dgamma, o[1].v);
    fd_pair(t, "dbeta", gb, dbeta, o[2].v);
}

void test_fd_pool(Test& t) {
    const Pool p{1, 5, 7, 2};  // odd: the last row and column belong to no window
    Vec xf = uniform(p.xs()), rf = uniform(p.ys());
    VecD x = to_d(xf), r = to_d(rf), y, dx;
    auto loss = [&] {
        VecD yy, unused;
        ref::maxpool(p, x, r, yy, unused);
        return dot(yy, r);
    };
    VecD gx = fd_grad(x, loss);
    ref::maxpool(p, x, r, y, dx);
    fd_pair(t, "maxpool dx", gx, dx, run_on(QY_DEV_CPU, nullptr, maxpool_runner(p, xf, rf))[1].v);

    const int n = 2, hw = 5, c = 3;
    Vec af = uniform((size_t)n * hw * c), ar = uniform((size_t)n * c);
    VecD a = to_d(af), ad = to_d(ar);
    VecD ga = fd_grad(a, [&] { return dot(ref::avgpool_fwd(a, n, hw, c), ad); });
    Vec op = run_on(QY_DEV_CPU, nullptr, [&](Session& s) {
                 float* d = s.out(af.size());
                 QY(qy_avgpool_global_bwd, s.dev, s.stream, s.in(ar), d, n, hw, c);
                 return Outs{{"dx", s.get(d, af.size())}};
             })[0].v;
    fd_pair(t, "avgpool dx", ga, ref::avgpool_bwd(ad, n, hw, c), op);
}

void test_fd_linear(Test& t) {
    const int n = 3, in = 4, out = 5;
    Vec xf = uniform(n * in), wf = uniform(out * in), bf = uniform(out), rf = uniform(n * out);
    VecD x = to_d(xf), w = to_d(wf), b = to_d(bf), r = to_d(rf);
    auto loss = [&] { return dot(ref::linear_fwd(x, w, &b, n, in, out), r); };
    VecD gx = fd_grad(x, loss), gw = fd_grad(w, loss), gb = fd_grad(b, loss);
    Outs o = run_on(QY_DEV_CPU, nullptr, linear_runner(n, in, out, true, xf, wf, bf, rf));
    VecD dw, db;
    ref::linear_bwd_weight(x, r, n, in, out, dw, db);
    fd_pair(t, "dx", gx, ref::linear_bwd_data(r, w, n, in, out), o[1].v);
    fd_pair(t, "dw", gw, dw, o[2].v);
    fd_pair(t, "dbias", gb, db, o[3].v);
}

void test_fd_softmax_nll(Test& t) {
    const int n = 3, c = 6;
    Vec xf = uniform(n * c, -3, 3), rf = uniform(n * c);
    VecD x = to_d(xf), r = to_d(rf);
    VecD gx = fd_grad(x, [&] { return dot(ref::log_softmax(x, n, c), r); });
    VecD y = ref::log_softmax(x, n, c);
    Vec yf = to_f(y);
    Vec op = run_on(QY_DEV_CPU, nullptr, [&](Session& s) {
                 float* d = s.out(xf.size());
                 QY(qy_log_softmax_bwd, s.dev, s.stream, s.in(yf), s.in(rf), d, n, c);
                 return Outs{{"dx", s.get(d, xf.size())}};
             })[0].v;
    fd_pair(t, "log_softmax dx", gx, ref::log_softmax_bwd(y, r, n, c), op);

    Labels labels = {2, 0, 5};
    for (float smoothing : {0.0f, 0.1f}) {
        const float scale = 0.37f;
        VecD logp = y;
        VecD gl = fd_grad(logp, [&] { return (double)scale * ref::nll(logp, labels, n, c, smoothing); });
        Vec opd = run_on(QY_DEV_CPU, nullptr, nll_runner(yf, labels, n, c, smoothing, scale))[1].v;
        fd_pair(t, format("nll dlogp smoothing=%g", smoothing), gl, ref::nll_bwd(labels, n, c, smoothing, scale),
                opd);
    }
}

void test_fd_relu_dropout(Test& t) {
    const int64_t n = 50;
    Vec xf = uniform(n), rf = uniform(n);
    VecD x = to_d(xf), r = to_d(rf);
    auto relu = [](const VecD& v) {
        VecD y(v.size());
        for (size_t i = 0; i < v.size(); ++i) y[i] = v[i] > 0 ? v[i] : 0.0;
        return y;
    };
    VecD gx = fd_grad(x, [&] { return dot(relu(x), r); });
    VecD y = relu(x), dx(n);
    for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0 ? r[i] : 0.0;
    Vec yf = to_f(y);
    Vec op = run_on(QY_DEV_CPU, nullptr, [&](Session& s) {
                 float* d = s.out(n);
                 QY(qy_relu_bwd, s.dev, s.stream, s.in(yf), s.in(rf), d, n);
                 return Outs{{"dx", s.get(d, n)}};
             })[0].v;
    fd_pair(t, "relu dx", gx, dx, op);

    // The backward pass of dropout is the same op applied to dy.
    const Drop d{4, 3, 5, 0.4f, 77, 9, 2, 2};
    Vec df = uniform(d.size()), drf = uniform(d.size());
    VecD dxv = to_d(df);
    VecD gd = fd_grad(dxv, [&] {
        return dot(ref::dropout(dxv, d.rows, d.spatial, d.units, d.p, d.seed, d.layer, d.k0, d.rows_per_sample),
                   to_d(drf));
    });
    fd_pair(t, "dropout dx", gd, dropout_ref(d, drf), run_on(QY_DEV_CPU, nullptr, dropout_runner(d, drf))[0].v);
}

// ---- tests: argument errors -------------------------------------------------------------------------------------

void test_errors(Test& t) {
    Vec buf(4096, 1.0f);
    float* f = buf.data();
    Labels lab(64, 0);
    const int cpu = QY_DEV_CPU, E = QY_ERR_INVALID;
    expect_status(t, "conv 5x5 kernel on a 3x3 input, pad 0",
                  qy_conv2d_fwd(cpu, nullptr, f, f, nullptr, f, 1, 3, 3, 1, 1, 5, 5, 1, 1, 0, 0), E, "qy_conv2d_fwd");
    expect_status(t, "conv_bwd_filter stride 0",
                  qy_conv2d_bwd_filter(cpu, nullptr, f, f, f, nullptr, 1, 4, 4, 1, 1, 3, 3, 0, 1, 0, 0), E,
                  "qy_conv2d_bwd_filter");
    expect_status(t, "conv_bwd_data negative padding",
                  qy_conv2d_bwd_data(cpu, nullptr, f, f, f, 1, 4, 4, 1, 1, 3, 3, 1, 1, -1, 0), E,
                  "qy_conv2d_bwd_data");
    expect_status(t, "add with a null input", qy_add(cpu, nullptr, nullptr, f, f, 4), E, "qy_add");
    expect_status(t, "dropout p = 1", qy_dropout(cpu, nullptr, f, f, 2, 1, 4, 1.0f, 1, 0, 0, 1), E, "qy_dropout");
    expect_status(t, "dropout p < 0", qy_dropout(cpu, nullptr, f, f, 2, 1, 4, -0.1f, 1, 0, 0, 1), E, "qy_dropout");
    expect_status(t, "dropout p = NaN", qy_dropout(cpu, nullptr, f, f, 2, 1, 4, kNaN, 1, 0, 0, 1), E, "qy_dropout");
    expect_status(t, "linear in = 0", qy_linear_fwd(cpu, nullptr, f, f, nullptr, f, 2, 0, 3), E, "qy_linear_fwd");
    expect_status(t, "linear_bwd_weight null dw", qy_linear_bwd_weight(cpu, nullptr, f, f, nullptr, nullptr, 2, 3, 3),
                  E, "qy_linear_bwd_weight");
    expect_status(t, "batchnorm c = 0",
                  qy_batchnorm_fwd_train(cpu, nullptr, f, f, f, f, f, f, f, f, 8, 0, 0.1f, 1e-5f), E,
                  "qy_batchnorm_fwd_train");
    expect_status(t, "maxpool null x", qy_maxpool2x2_fwd(cpu, nullptr, nullptr, f, 1, 4, 4, 1), E,
                  "qy_maxpool2x2_fwd");
    expect_status(t, "log_softmax n = -1", qy_log_softmax_fwd(cpu, nullptr, f, f, -1, 3), E, "qy_log_softmax_fwd");
    expect_status(t, "nll null labels", qy_nll_fwd(cpu, nullptr, f, nullptr, f, 2, 3, 0.0f), E, "qy_nll_fwd");
    expect_status(t, "sgd momentum without a buffer",
                  qy_sgd_step(cpu, nullptr, f, f, nullptr, 4, 0.1f, 0.9f, 0.0f, 0.0f, 0, 1), E, "qy_sgd_step");
    expect_status(t, "adam step 0", qy_adam_step(cpu, nullptr, f, f, f, f, 4, 1e-3f, 0.9f, 0.999f, 1e-8f, 0, 0, 0),
                  E, "qy_adam_step");
    void* p = nullptr;
    expect_status(t, "malloc on device 7", qy_malloc(7, 64, &p), E, "qy_malloc");

    // The message belongs to the calling thread.
    qy_linear_fwd(cpu, nullptr, f, f, nullptr, f, 2, 0, 3);
    std::string other;
    std::thread([&] {
        qy_add(cpu, nullptr, nullptr, f, f, 4);
        other = qy_last_error();
    }).join();
    t.expect(other.find("qy_add") != std::string::npos, "the other thread's message: " + other);
    t.expect(std::strstr(qy_last_error(), "qy_linear_fwd") != nullptr,
             format("an error on another thread replaced this thread's message: %s", qy_last_error()));
}

void test_acq_errors(Test& t) {
    VecD buf(4096, 0.5);
    double* d = buf.data();
    const int cpu = QY_DEV_CPU, E = QY_ERR_INVALID, B = QY_SCORE_BALD;
    const char *acq = "qy_acq_score", *probs = "qy_logp_to_probs", *ext = "qy_joint_extend",
               *smp = "qy_joint_sample", *ent = "qy_joint_entropy";
    expect_status(t, "acq_score dtype 2", qy_acq_score(cpu, nullptr, d, 2, 2, 3, 4, B, d), E, acq);
    expect_status(t, "acq_score dtype -1", qy_acq_score(cpu, nullptr, d, -1, 2, 3, 4, B, d), E, acq);
    expect_status(t, "acq_score kind -1", qy_acq_score(cpu, nullptr, d, QY_F64, 2, 3, 4, -1, d), E, acq);
    expect_status(t, "acq_score kind 7", qy_acq_score(cpu, nullptr, d, QY_F64, 2, 3, 4, QY_SCORE_COND_ENTROPY + 1, d),
                  E, acq);
    expect_status(t, "acq_score n = 0", qy_acq_score(cpu, nullptr, d, QY_F64, 0, 3, 4, B, d), E, acq);
    expect_status(t, "acq_score k = 0", qy_acq_score(cpu, nullptr, d, QY_F64, 2, 0, 4, B, d), E, acq);
    expect_status(t, "acq_score c = 0", qy_acq_score(cpu, nullptr, d, QY_F32, 2, 3, 0, B, d), E, acq);
    expect_status(t, "acq_score null logp", qy_acq_score(cpu, nullptr, nullptr, QY_F64, 2, 3, 4, B, d), E, acq);
    expect_status(t, "acq_score null scores", qy_acq_score(cpu, nullptr, d, QY_F64, 2, 3, 4, B, nullptr), E, acq);
    expect_status(t, "logp_to_probs dtype 2", qy_logp_to_probs(cpu, nullptr, d, 2, 8, d), E, probs);
    expect_status(t, "logp_to_probs count 0", qy_logp_to_probs(cpu, nullptr, d, QY_F32, 0, d), E, probs);
    expect_status(t, "logp_to_probs null probs", qy_logp_to_probs(cpu, nullptr, d, QY_F64, 8, nullptr), E, probs);
    expect_status(t, "joint_extend m = 0", qy_joint_extend(cpu, nullptr, d, 0, d, 3, 4, d), E, ext);
    expect_status(t, "joint_extend k = 0", qy_joint_extend(cpu, nullptr, d, 2, d, 0, 4, d), E, ext);
    expect_status(t, "joint_extend c = 0", qy_joint_extend(cpu, nullptr, d, 2, d, 3, 0, d), E, ext);
    expect_status(t, "joint_extend null p", qy_joint_extend(cpu, nullptr, nullptr, 2, d, 3, 4, d), E, ext);
    expect_status(t, "joint_sample a = 0", qy_joint_sample(cpu, nullptr, d, 0, 3, 4, 5, 1, 0, d, d), E, smp);
    expect_status(t, "joint_sample k = 0", qy_joint_sample(cpu, nullptr, d, 2, 0, 4, 5, 1, 0, d, d), E, smp);
    expect_status(t, "joint_sample c = 0", qy_joint_sample(cpu, nullptr, d, 2, 3, 0, 5, 1, 0, d, d), E, smp);
    expect_status(t, "joint_sample s = 0", qy_joint_sample(cpu, nullptr, d, 2, 3, 4, 0, 1, 0, d, d), E, smp);
    expect_status(t, "joint_sample null w", qy_joint_sample(cpu, nullptr, d, 2, 3, 4, 5, 1, 0, d, nullptr), E, smp);
    expect_status(t, "joint_entropy m = 0", qy_joint_entropy(cpu, nullptr, d, nullptr, 0, d, 2, 3, 4, d), E, ent);
    expect_status(t, "joint_entropy n = 0", qy_joint_entropy(cpu, nullptr, d, nullptr, 5, d, 0, 3, 4, d), E, ent);
    expect_status(t, "joint_entropy k = 0", qy_joint_entropy(cpu, nullptr, d, nullptr, 5, d, 2, 0, 4, d), E, ent);
    expect_status(t, "joint_entropy c = 0", qy_joint_entropy(cpu, nullptr, d, nullptr, 5, d, 2, 3, 0, d), E, ent);
    expect_status(t, "joint_entropy null probs", qy_joint_entropy(cpu, nullptr, d, d, 5, nullptr, 2, 3, 4, d), E, ent);
    expect_status(t, "joint_entropy null out", qy_joint_entropy(cpu, nullptr, d, d, 5, d, 2, 3, 4, nullptr), E, ent);
    t.expect(std::all_of(buf.begin(), buf.end(), [](double v) { return v == 0.5; }),
             "a rejected call wrote its output");
}

void test_crop_flip_errors(Test& t) {
    Vec buf(8 * 5 * 6 * 2, 1.0f), out(buf.size(), 2.0f);
    const float* x = buf.data();
    float* y = out.data();
    const int cpu = QY_DEV_CPU, E = QY_ERR_INVALID;
    const char* op = "qy_crop_flip";
    expect_status(t, "pad -1", qy_crop_flip(cpu, nullptr, x, y, 4, 5, 6, 2, -1, 1, 0), E, op);
    expect_status(t, "pad 6 > h 5", qy_crop_flip(cpu, nullptr, x, y, 4, 5, 6, 2, 6, 1, 0), E, op);
    expect_status(t, "n = 0", qy_crop_flip(cpu, nullptr, x, y, 0, 5, 6, 2, 1, 1, 0), E, op);
    expect_status(t, "c = 0", qy_crop_flip(cpu, nullptr, x, y, 4, 5, 6, 0, 1, 1, 0), E, op);
    expect_status(t, "null x", qy_crop_flip(cpu, nullptr, nullptr, y, 4, 5, 6, 2, 1, 1, 0), E, op);
    expect_status(t, "y == x", qy_crop_flip(cpu, nullptr, x, buf.data(), 4, 5, 6, 2, 1, 1, 0), E, op);
    expect_status(t, "y starts inside the last image of x",
                  qy_crop_flip(cpu, nullptr, x, buf.data() + 3 * 5 * 6 * 2 + 1, 4, 5, 6, 2, 1, 1, 0), E, op);
    t.expect(std::all_of(out.begin(), out.end(), [](float v) { return v == 2.0f; }), "a rejected call wrote y");
    t.expect(std::all_of(buf.begin(), buf.end(), [](float v) { return v == 1.0f; }), "a rejected call wrote x");
}


// CUDA requested where there is none: QY_ERR_NO_DEVICE, from the runtime calls and from an op.
// Without a GPU, CUDA calls fail cleanly (run by the CUDA pass only then).
void test_no_device(Test& t) {
    Vec host(16, 1.0f);
    void* p = nullptr;
    expect_status(t, "qy_malloc on CUDA", qy_malloc(QY_DEV_CUDA, 64, &p), QY_ERR_NO_DEVICE, "qy_malloc");
    expect_status(t, "qy_fill on CUDA", qy_fill(QY_DEV_CUDA, nullptr, host.data(), 16, 0.0f), QY_ERR_NO_DEVICE,
                  "qy_fill");
    expect_status(t, "qy_relu_fwd on CUDA", qy_relu_fwd(QY_DEV_CUDA, nullptr, host.data(), host.data(), 16),
                  QY_ERR_NO_DEVICE, "qy_relu_fwd");
    VecD d(16, 0.0);
    expect_status(t, "qy_acq_score on CUDA",
                  qy_acq_score(QY_DEV_CUDA, nullptr, d.data(), QY_F64, 2, 2, 4, QY_SCORE_BALD, d.data()),
                  QY_ERR_NO_DEVICE, "qy_acq_score");
}

}  // namespace

int main() {
    begin_program(20240611u);

    run_test("philox4x32_10 known answers", test_philox_kat);
    run_test("fill", test_fill);
    run_test("fill_uniform", test_fill_uniform);
    run_test("fill_normal", test_fill_normal);
    run_test("add, axpy", test_add_axpy);
    run_test("relu fwd/bwd n=1003", [](Test& t) { test_relu(t, 1003); });
    run_test("relu fwd/bwd n=1048579", [](Test& t) { test_relu(t, (1 << 20) + 3); });
    run_test("swap01 7x5x3", [](Test& t) { test_swap01(t, 7, 5, 3); });
    run_test("l2norm_rows n=5 d=7", [](Test& t) { test_l2norm_rows(t, 5, 7); });
    run_test("l2norm_rows n=3 d=129", [](Test& t) { test_l2norm_rows(t, 3, 129); });
    run_test("swap01 1x9x10", [](Test& t) { test_swap01(t, 1, 9, 10); });
    run_test("swap01 100x33x1", [](Test& t) { test_swap01(t, 100, 33, 1); });
    for (const Conv& s : conv_shapes()) run_test("conv2d " + s.str(), [&](Test& t) { test_conv(t, s); });
    run_test("batchnorm m=70 c=3", [](Test& t) { test_batchnorm(t, 70, 3, 0.1f); });
    run_test("batchnorm m=2 c=1", [](Test& t) { test_batchnorm(t, 2, 1, 0.1f); });
    run_test("batchnorm m=1000 c=17", [](Test& t) { test_batchnorm(t, 1000, 17, 0.1f); });
    run_test("batchnorm m=4096 c=64", [](Test& t) { test_batchnorm(t, 4096, 64, 0.1f); });
    run_test("batchnorm m=32768 c=16", [](Test& t) { test_batchnorm(t, 32768, 16, 0.1f); });
    run_test("batchnorm m=50 c=5 momentum=1", [](Test& t) { test_batchnorm(t, 50, 5, 1.0f); });
    for (const Pool& p : {Pool{2, 7, 5, 3}, Pool{1, 2, 2, 1}, Pool{3, 9, 6, 4}, Pool{2, 16, 16, 8}, Pool{1, 3, 3, 5},
                        Pool{8, 32, 32, 64}})
        run_test("maxpool2x2 " + p.str(), [&](Test& t) { test_maxpool(t, p, false); });
    run_test("maxpool2x2 ties", [](Test& t) { test_maxpool(t, Pool{2, 6, 7, 3}, true); });
    run_test("avgpool_global n=2 hw=35 c=3", [](Test& t) { test_avgpool(t, 2, 35, 3); });
    run_test("avgpool_global n=1 hw=1 c=5", [](Test& t) { test_avgpool(t, 1, 1, 5); });
    run_test("avgpool_global n=3 hw=49 c=64", [](Test& t) { test_avgpool(t, 3, 49, 64); });
    run_test("avgpool_global n=32 hw=64 c=512", [](Test& t) { test_avgpool(t, 32, 64, 512); });
    struct Lin {
        int n, in, out;
        bool bias;
    };
    std::vector<Lin> lins = {{3, 7, 5, true}, {1, 1, 1, true}, {5, 300, 17, false}, {64, 128, 10, true},
                             {7, 33, 65, false}, {256, 512, 300, true}};
    for (int i = 0; i < 3; ++i) lins.push_back({rand_int(1, 20), rand_int(1, 70), rand_int(1, 40), i % 2 == 0});
    for (const Lin& l : lins)
        run_test(format("linear n=%d in=%d out=%d %s", l.n, l.in, l.out, l.bias ? "bias" : "no-bias"),
                 [&](Test& t) { test_linear(t, l.n, l.in, l.out, l.bias); });
    run_test("dropout mask vs philox", test_dropout_mask);
    run_test("dropout consistency (shared k, broadcast, layer/seed/k0)", test_dropout_consistency);
    run_test("dropout kept fraction", test_dropout_fraction);
    for (const Aug& a : {Aug{5, 7, 9, 3, 2, 42, 0}, Aug{3, 32, 32, 3, 4, 0xFFFFFFFF00000001ull, 123456789},
                         Aug{7, 28, 28, 1, 4, 7, 1ull << 33}, Aug{4, 5, 6, 7, 5, 9, 3}, Aug{2, 13, 11, 5, 0, 1, 2},
                         Aug{1, 1, 1, 1, 1, 3, 4}, Aug{64, 11, 13, 5, 3, 77, 99}, Aug{70000, 2, 2, 1, 1, 5, 6}})
        run_test("crop_flip " + a.str(), [&](Test& t) { test_crop_flip(t, a); });
    run_test("crop_flip offsets and flips: range and frequencies", test_crop_flip_distribution);
    run_test("crop_flip draws depend on seed, step and batch index", test_crop_flip_streams);
    run_test("crop_flip argument errors", test_crop_flip_errors);
    run_test("log_softmax n=3 c=10", [](Test& t) { test_log_softmax(t, 3, 10, 1, 0); });
    run_test("log_softmax n=1 c=1", [](Test& t) { test_log_softmax(t, 1, 1, 1, 0); });
    run_test("log_softmax n=5 c=1000", [](Test& t) { test_log_softmax(t, 5, 1000, 3, 0); });
    run_test("log_softmax n=128 c=10", [](Test& t) { test_log_softmax(t, 128, 10, 2, 0); });
    run_test("log_softmax n=4 c=7 logits near 1000", [](Test& t) { test_log_softmax(t, 4, 7, 100, 1000); });
    run_test("nll n=5 c=10 smoothing=0", [](Test& t) { test_nll(t, 5, 10, 0.0f, 1.0f); });
    run_test("nll n=5 c=10 smoothing=0.1", [](Test& t) { test_nll(t, 5, 10, 0.1f, 1.0f); });
    run_test("nll n=64 c=1000 smoothing=0.1 scale=0.37", [](Test& t) { test_nll(t, 64, 1000, 0.1f, 0.37f); });
    run_test("nll n=1 c=1 smoothing=0", [](Test& t) { test_nll(t, 1, 1, 0.0f, 1.0f); });
    run_test("nll label outside [0, c) gives NaN", test_nll_bad_label);
    for (const Sgd& h : {Sgd{0.1f, 0, 0, 0, 0}, Sgd{0.05f, 0, 0, 1e-2f, 0}, Sgd{0.1f, 0.9f, 0, 0, 0},
                         Sgd{0.1f, 0.9f, 0.1f, 5e-4f, 0}, Sgd{0.1f, 0.9f, 0, 1e-3f, 1}})
        run_test("sgd " + h.str(), [&](Test& t) { test_sgd(t, h); });
    for (const AdamCase& h : {AdamCase{1e-2f, 0.9f, 0.999f, 1e-8f, 0, 0, 1},
                              AdamCase{1e-2f, 0.9f, 0.999f, 1e-8f, 1e-2f, 0, 1},
                              AdamCase{1e-2f, 0.9f, 0.999f, 1e-8f, 1e-2f, 1, 1},
                              AdamCase{3e-3f, 0.8f, 0.99f, 1e-3f, 5e-2f, 1, 4}})
        run_test("adam " + h.str(), [&](Test& t) { test_adam(t, h); });
    run_test("fd conv2d n=2 h=5 w=4 cin=2 cout=3 k=3x3 s=2 p=1 bias",
             [](Test& t) { test_fd_conv(t, Conv{2, 5, 4, 2, 3, 3, 3, 2, 2, 1, 1, true}); });
    run_test("fd conv2d n=1 h=4 w=5 cin=1 cout=2 k=5x3 s=1,2 p=2,0 no-bias",
             [](Test& t) { test_fd_conv(t, Conv{1, 4, 5, 1, 2, 5, 3, 1, 2, 2, 0, false}); });
    run_test("fd batchnorm (train) dx dgamma dbeta", test_fd_batchnorm);
    run_test("fd maxpool2x2, avgpool_global", test_fd_pool);
    run_test("fd linear dx dw dbias", test_fd_linear);
    run_test("fd log_softmax, nll", test_fd_softmax_nll);
    run_test("fd relu, dropout", test_fd_relu_dropout);
    struct Acq {
        int64_t n;
        int k, c;
    };
    std::vector<Acq> acqs = {{1, 1, 2},   {7, 1, 5},    {5, 3, 2},   {13, 50, 37}, {33, 7, 37},
                             {9, 20, 10}, {3, 4, 1},    {11, 49, 3}, {2000, 20, 10},
                             {2, 3, 12300}};  // variation ratios' counters above 48 KiB of shared memory (opt-in)
    for (int i = 0; i < 2; ++i) acqs.push_back({rand_int(1, 40), rand_int(1, 50), rand_int(2, 37)});
    for (const Acq& a : acqs)
        for (int dtype : {QY_F32, QY_F64})
            run_test(format("acq_score n=%lld k=%d c=%d %s", (long long)a.n, a.k, a.c, dtype_name(dtype)),
                     [&](Test& t) { test_acq_score(t, a.n, a.k, a.c, dtype); });
    for (int64_t count : {int64_t{1}, int64_t{7}, int64_t{1003}, int64_t{(1 << 20) + 3}})
        for (int dtype : {QY_F32, QY_F64})
            run_test(format("logp_to_probs count=%lld %s", (long long)count, dtype_name(dtype)),
                     [&](Test& t) { test_logp_to_probs(t, count, dtype); });
    for (const Acq& a : {Acq{1, 1, 1}, Acq{1, 3, 2}, Acq{7, 5, 3}, Acq{37, 50, 37}, Acq{1000, 20, 10}})
        run_test(format("joint_extend m=%lld k=%d c=%d", (long long)a.n, a.k, a.c),
                 [&](Test& t) { test_joint_extend(t, a.n, a.k, a.c); });
    for (const JointCase& jc : {JointCase{0, 5, 7, 5, false},   JointCase{1, 7, 5, 4, false},
                                JointCase{2, 7, 5, 4, false},   JointCase{3, 7, 5, 4, false},
                                JointCase{3, 1, 2, 3, false},   JointCase{1, 50, 37, 1, false},
                                JointCase{2, 20, 10, 6, false}, JointCase{3, 50, 3, 5, false},
                                JointCase{2, 9, 6, 7, true},    JointCase{0, 3, 4, 1, true},
                                JointCase{1, 50, 37, 290, false},  // two candidate chunks on the CPU
                                JointCase{3, 3, 10, 2000, true},   // several row chunks on the CPU, weighted
                                JointCase{1, 211, 3, 40, true},    // K >= 209: CUDA streams the probabilities
                                JointCase{2, 250, 4, 33, false}})
        run_test("joint_entropy exact " + jc.str(), [&](Test& t) { test_joint_exact(t, jc); });
    run_test("golden 1: greedy BatchBALD b=4", test_golden1);
    run_test("golden 2: exact joint entropies of 4 and 8 points", test_golden2);
    for (int dtype : {QY_F32, QY_F64})
        run_test(format("golden 3: BALD and pair scores %s", dtype_name(dtype)),
                 [&](Test& t) { test_golden3(t, dtype); });
    for (const SampleCase& sc : {SampleCase{3, 5, 7, 13, 0x0123456789ABCDEFull, 7, true},
                                 SampleCase{1, 1, 2, 1, 0, 0, false},
                                 SampleCase{4, 20, 10, 50, 0xFFFFFFFF00000001ull, 0xFFFFFFFFu, false},
                                 SampleCase{2, 50, 37, 3, 42, 1, false}})
        run_test("joint_sample " + sc.str(), [&](Test& t) { test_joint_sample(t, sc); });
    run_test("joint_sample: sampled joint entropy converges", test_joint_sample_convergence);
    run_test("argument errors", test_errors);
    run_test("acquisition argument errors", test_acq_errors);

    run_cuda_pass(test_no_device);
    return end_program();
}
