// Quarry native op tests: every op of quarry.h up to the optimizers (the acquisition section is not covered here)
// on the CPU backend against a float64 reference written straight from the header (the reference is the
// specification), backward ops against central finite differences, bad arguments against their status codes, and,
// when a GPU is present, every op on CUDA against the CPU result on the same inputs.
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
//   CUDA vs CPU: RNG ops, fill, add, relu and maxpool bitwise; dropout zero pattern bitwise and values at kElem;
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

#include "quarry.h"

namespace {

using Vec = std::vector<float>;
using VecD = std::vector<double>;
using Labels = std::vector<int32_t>;

constexpr double kExact = 0.0;
constexpr double kElem = 1e-6;
constexpr double kReduce = 1e-5;
constexpr double kFdRef = 1e-6;
constexpr double kFdOp = 1e-4;
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// ---- harness ---------------------------------------------------------------------------------------------------

std::string format(const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return buf;
}

class Test {
public:
    explicit Test(std::string test_name) : name(std::move(test_name)) {}
    void fail(const std::string& detail) {
        if (++failures <= kMaxPrinted) std::printf("FAIL %s: %s\n", name.c_str(), detail.c_str());
    }
    void expect(bool cond, const std::string& detail) {
        if (!cond) fail(detail);
    }
    void error(double e) { max_err = std::max(max_err, std::isnan(e) ? INFINITY : e); }
    void skip(std::string why) { skip_reason = std::move(why); }

    std::string name;
    int failures = 0;
    double max_err = 0;
    std::string skip_reason;
    static constexpr int kMaxPrinted = 6;
};

struct Tally {
    int pass = 0, fail = 0, skip = 0;
} g_tally;

void run_test(const std::string& name, const std::function<void(Test&)>& body) {
    Test t(name);
    auto start = std::chrono::steady_clock::now();
    try {
        body(t);
    } catch (const std::exception& e) {
        t.fail(std::string("exception: ") + e.what());
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    if (t.failures > 0) {
        ++g_tally.fail;
        std::printf("FAIL %-62s max_err=%.2e  %d failed check(s)  %.0f ms\n", name.c_str(), t.max_err, t.failures, ms);
    } else if (!t.skip_reason.empty()) {
        ++g_tally.skip;
        std::printf("SKIP %s: %s\n", name.c_str(), t.skip_reason.c_str());
    } else {
        ++g_tally.pass;
        std::printf("PASS %-62s max_err=%.2e  %.0f ms\n", name.c_str(), t.max_err, ms);
    }
    std::fflush(stdout);
}

void ok(int rc, const char* call) {
    if (rc != QY_OK) throw std::runtime_error(format("%s returned %d: %s", call, rc, qy_last_error()));
}
#define QY(fn, ...) ok(fn(__VA_ARGS__), #fn)

// Relative error of a result against a float64 reference. A NaN where the reference is finite is an element the op
// never wrote (outputs are poisoned with NaN before every call).
template <class G>
void close(Test& t, const std::string& what, const std::vector<G>& got, const VecD& ref, double tol) {
    if (got.size() != ref.size()) {
        t.fail(format("%s: %zu elements, reference has %zu", what.c_str(), got.size(), ref.size()));
        return;
    }
    double scale = 1.0, worst = 0.0;
    size_t at = 0;
    for (double r : ref) scale = std::max(scale, std::fabs(r));
    for (size_t i = 0; i < got.size(); ++i) {
        double d = std::fabs((double)got[i] - ref[i]);
        if (std::isnan(d)) {
            t.error(INFINITY);
            t.fail(format("%s: element %zu is %g, reference %.9g (unwritten or NaN)", what.c_str(), i, (double)got[i],
                          ref[i]));
            return;
        }
        if (d > worst) worst = d, at = i;
    }
    double e = worst / scale;
    t.error(e);
    if (e > tol)
        t.fail(format("%s: rel err %.3g > %.1g at element %zu of %zu: got %.9g, reference %.9g", what.c_str(), e, tol,
                      at, got.size(), (double)got[at], ref[at]));
}

uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}

// Bitwise equality of two float32 results (NaN poison included: compare with a validated result to catch it).
void same_bits(Test& t, const std::string& what, const Vec& got, const Vec& want) {
    if (got.size() != want.size()) {
        t.fail(format("%s: %zu elements, expected %zu", what.c_str(), got.size(), want.size()));
        return;
    }
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < got.size(); ++i)
        if (bits(got[i]) != bits(want[i]) && bad++ == 0) first = i;
    if (bad > 0) {
        t.error(INFINITY);
        t.fail(format("%s: %zu of %zu elements differ bitwise; first at %zu: got %.9g (0x%08x), want %.9g (0x%08x)",
                      what.c_str(), bad, got.size(), first, (double)got[first], bits(got[first]),
                      (double)want[first], bits(want[first])));
    }
}

// ---- device sessions: every op runs through qy_malloc / qy_upload / qy_download on either backend -------------

class Session {
public:
    Session(int device, void* queue) : dev(device), stream(queue) {}
    ~Session() {
        for (void* p : ptrs_) qy_free(dev, p);
    }
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    float* in(const Vec& v) {
        float* p = alloc<float>(v.size());
        QY(qy_upload, dev, stream, p, v.data(), (int64_t)(v.size() * sizeof(float)));
        return p;
    }
    int32_t* in(const Labels& v) {
        int32_t* p = alloc<int32_t>(v.size());
        QY(qy_upload, dev, stream, p, v.data(), (int64_t)(v.size() * sizeof(int32_t)));
        return p;
    }
    // An output buffer filled with NaN, so elements an op fails to write show up.
    float* out(size_t n) { return in(Vec(n, kNaN)); }
    Vec get(const float* p, size_t n) {
        Vec v(n);
        QY(qy_download, dev, stream, v.data(), p, (int64_t)(n * sizeof(float)));
        return v;
    }

    const int dev;
    void* const stream;

private:
    template <class T>
    T* alloc(size_t n) {
        void* p = nullptr;
        QY(qy_malloc, dev, (int64_t)(n * sizeof(T)), &p);
        ptrs_.push_back(p);
        return static_cast<T*>(p);
    }
    std::vector<void*> ptrs_;
};

struct Out {
    std::string name;
    Vec v;
};
using Outs = std::vector<Out>;
using Runner = std::function<Outs(Session&)>;

Outs run_on(int dev, void* stream, const Runner& run) {
    Session s(dev, stream);
    Outs o = run(s);
    QY(qy_stream_sync, dev, stream);
    return o;
}

// How a CUDA result must match the CPU one.
enum class Match { Close, Exact, CloseSameZeros };

struct ParityCase {
    std::string name;
    Runner run;
    Outs cpu;
    double tol;
    Match match;
};
std::vector<ParityCase> g_parity;

// Runs on the CPU and records the case, with its inputs, for the CUDA parity pass.
Outs cpu_case(const std::string& name, const Runner& run, double tol, Match match = Match::Close) {
    Outs o = run_on(QY_DEV_CPU, nullptr, run);
    g_parity.push_back({name, run, o, tol, match});
    return o;
}

// ---- inputs ----------------------------------------------------------------------------------------------------

std::mt19937 g_rng(20240611u);

// Uniform in [lo, hi), never exactly zero.
Vec uniform(size_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> d(lo, hi);
    Vec v(n);
    for (float& x : v) {
        do x = d(g_rng);
        while (x == 0.0f);
    }
    return v;
}

int rand_int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g_rng); }

VecD to_d(const Vec& v) { return VecD(v.begin(), v.end()); }
Vec to_f(const VecD& v) { return Vec(v.begin(), v.end()); }

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

// dropout: key = seed, counter = {unit >> 2, k_lo, k_hi, layer & 0x7fffffff}, word = unit & 3, keep iff
// (word >> 8) * 2^-24 >= p.
bool dropout_keep(uint64_t seed, uint32_t layer, uint64_t k, uint64_t unit, float p) {
    const uint32_t c[4] = {(uint32_t)(unit >> 2), (uint32_t)k, (uint32_t)(k >> 32), layer & 0x7fffffffu};
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
                          kExact, Match::Exact);
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
    Vec y = cpu_case("fill_uniform n=1000003", uniform_runner(n, seed, stream_id, lo, hi), kExact, Match::Exact)[0].v;

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
    Vec y = cpu_case("fill_normal n=1000000", normal_runner(n, seed, stream_id, mean, std), kExact, Match::Exact)[0].v;

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
                          kExact, Match::Exact);
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
                      kExact, Match::Exact);
    close(t, "relu_fwd", o[0].v, y, kExact);
    close(t, "relu_bwd", o[1].v, dx, kExact);
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
                      kExact, Match::Exact);
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
    };
    for (const Drop& d : cases) {
        Vec x = uniform(d.size());
        Outs o = cpu_case("dropout " + d.str(), dropout_runner(d, x), kElem, Match::CloseSameZeros);
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
        Vec y = cpu_case("dropout " + d.str(), dropout_runner(d, x), kElem, Match::CloseSameZeros)[0].v;
        size_t keep = 0;
        for (float v : y) keep += v != 0.0f;
        double frac = (double)keep / (double)y.size();
        // Standard error sqrt(p (1 - p) / 2e5) <= 1.1e-3; the bound is about 5 of them.
        t.error(std::fabs(frac - (1 - p)));
        t.expect(std::fabs(frac - (1 - p)) < 0.0055, format("p=%g: kept %.4f, want %.4f", p, frac, 1 - p));
    }
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

// ---- tests: backward ops against central finite differences of the float64 forward ----------------------------
// L = sum(y * r) for a fixed random r, so dL/dy = r is the dy every backward op gets. Each test checks the float64
// reference backward against the differences at kFdRef, then the float32 backward op at kFdOp.

void fd_pair(Test& t, const std::string& what, const VecD& fd, const VecD& ref_grad, const Vec& op_grad) {
    close(t, what + ": reference vs FD", ref_grad, fd, kFdRef);
    close(t, what + ": op vs FD", op_grad, fd, kFdOp);
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

void expect_status(Test& t, const char* what, int rc, int want, const char* op) {
    const char* msg = qy_last_error();
    if (rc != want) {
        t.fail(format("%s: status %d, want %d (last error: %s)", what, rc, want, msg));
        return;
    }
    t.expect(std::strstr(msg, op) != nullptr, format("%s: message \"%s\" does not name %s", what, msg, op));
    t.expect(std::strchr(msg, '\n') == nullptr, format("%s: message \"%s\" is not one line", what, msg));
}

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

// CUDA requested where there is none: QY_ERR_NO_DEVICE, from the runtime calls and from an op.
void test_no_device(Test& t, int count_rc, int count) {
    if (count_rc == QY_OK && count > 0) {
        t.skip("a GPU is present");
        return;
    }
    t.expect(count_rc == QY_ERR_NO_DEVICE && count == 0,
             format("qy_cuda_device_count: status %d count %d, want %d and 0", count_rc, count, QY_ERR_NO_DEVICE));
    Vec host(16, 1.0f);
    void* p = nullptr;
    expect_status(t, "qy_malloc on CUDA", qy_malloc(QY_DEV_CUDA, 64, &p), QY_ERR_NO_DEVICE, "qy_malloc");
    expect_status(t, "qy_fill on CUDA", qy_fill(QY_DEV_CUDA, nullptr, host.data(), 16, 0.0f), QY_ERR_NO_DEVICE,
                  "qy_fill");
    expect_status(t, "qy_relu_fwd on CUDA", qy_relu_fwd(QY_DEV_CUDA, nullptr, host.data(), host.data(), 16),
                  QY_ERR_NO_DEVICE, "qy_relu_fwd");
}

// ---- CUDA parity ------------------------------------------------------------------------------------------------

void check_parity(Test& t, const ParityCase& c, void* stream) {
    Outs first = run_on(QY_DEV_CUDA, nullptr, c.run);
    Outs second = run_on(QY_DEV_CUDA, stream, c.run);
    if (first.size() != c.cpu.size() || second.size() != c.cpu.size()) {
        t.fail("the runner returned a different number of outputs on CUDA");
        return;
    }
    for (size_t k = 0; k < c.cpu.size(); ++k) {
        const std::string& name = c.cpu[k].name;
        const Vec& cpu = c.cpu[k].v;
        const Vec& gpu = first[k].v;
        if (c.match == Match::Exact)
            same_bits(t, name + " vs CPU", gpu, cpu);
        else
            close(t, name + " vs CPU", gpu, to_d(cpu), c.tol);
        if (c.match == Match::CloseSameZeros) {
            size_t wrong = 0;
            for (size_t i = 0; i < cpu.size() && i < gpu.size(); ++i) wrong += (cpu[i] == 0.0f) != (gpu[i] == 0.0f);
            t.expect(wrong == 0, format("%s: %zu elements where the CUDA mask differs from the CPU's", name.c_str(),
                                        wrong));
        }
        same_bits(t, name + " second run (created stream) vs first run", second[k].v, gpu);
    }
}

void test_cuda(int count_rc, int count, const std::string& count_error, bool require_gpu) {
    if (count_rc != QY_OK || count <= 0) {
        std::string why = format("skipped: no GPU (%s)", count_error.c_str());
        run_test("cuda parity", [&](Test& t) {
            if (require_gpu)
                t.fail(why + ", and QUARRY_REQUIRE_GPU=1");
            else
                t.skip(why);
        });
        return;
    }
    char name[256] = "";
    int64_t total = 0;
    int major = 0, minor = 0, driver = 0, runtime = 0;
    if (qy_cuda_device_info(0, name, sizeof name, &total, &major, &minor, &driver, &runtime) == QY_OK)
        std::printf("cuda device 0: %s, %.1f GiB, cc %d.%d, driver %d, runtime %d (%d device(s))\n", name,
                    (double)total / (1 << 30), major, minor, driver, runtime, count);
    void* stream = nullptr;
    int rc = qy_stream_create(QY_DEV_CUDA, &stream);
    if (rc != QY_OK) {
        std::string err = qy_last_error();
        run_test("cuda stream", [&](Test& t) { t.fail(format("qy_stream_create returned %d: %s", rc, err.c_str())); });
        return;
    }
    for (const ParityCase& c : g_parity) run_test("cuda " + c.name, [&](Test& t) { check_parity(t, c, stream); });
    run_test("cuda stream destroy", [&](Test& t) {
        int d = qy_stream_destroy(QY_DEV_CUDA, stream);
        t.expect(d == QY_OK, format("qy_stream_destroy returned %d: %s", d, qy_last_error()));
    });
}

}  // namespace

int main() {
    auto start = std::chrono::steady_clock::now();
    std::printf("quarry %s, %d CPU thread(s), CUDA %s\n", qy_version(), qy_cpu_threads(),
                qy_cuda_compiled() ? "compiled in" : "not compiled in");
    const char* require = std::getenv("QUARRY_REQUIRE_GPU");
    const bool require_gpu = require != nullptr && std::strcmp(require, "1") == 0;

    run_test("philox4x32_10 known answers", test_philox_kat);
    run_test("fill", test_fill);
    run_test("fill_uniform", test_fill_uniform);
    run_test("fill_normal", test_fill_normal);
    run_test("add, axpy", test_add_axpy);
    run_test("relu fwd/bwd n=1003", [](Test& t) { test_relu(t, 1003); });
    run_test("relu fwd/bwd n=1048579", [](Test& t) { test_relu(t, (1 << 20) + 3); });
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
    run_test("argument errors", test_errors);

    int count = 0;
    const int count_rc = qy_cuda_device_count(&count);
    const std::string count_error = qy_last_error();  // the reason, before later calls replace the message
    run_test("no device: QY_ERR_NO_DEVICE", [&](Test& t) { test_no_device(t, count_rc, count); });
    test_cuda(count_rc, count, count_error, require_gpu);

    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%d passed, %d failed, %d skipped in %.1f s\n", g_tally.pass, g_tally.fail, g_tally.skip, s);
    return g_tally.fail > 0 ? 1 : 0;
}
