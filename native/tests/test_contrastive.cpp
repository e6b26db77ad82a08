// Quarry contrastive-loss tests: NT-Xent and InfoNCE-with-a-queue forward and backward on the CPU backend against
// float64 references written from quarry.h, the references' gradients against central finite differences, closed-form
// cases, MoCo's momentum update and ring-buffer enqueue, argument errors, and, when a GPU is present, every case on
// CUDA against the CPU result on the same inputs.
//
//   cmake -S native -B build -DQUARRY_OPENBLAS=OFF && cmake --build build && build/test_contrastive
//
// Output and exit status as test_ops: one line per test (PASS / FAIL / SKIP, largest error), exit 1 on any failure;
// QUARRY_REQUIRE_GPU=1 makes a missing GPU a failure.
//
// Error measures and tolerances:
//   losses and log-sum-exps: max|got - ref| / max(1, max|ref|) <= kReduce = 1e-5 (float32 logits from float32 GEMMs
//     over d <= 129 terms, sums of exponentials in double; |logit| <= 1/tau <= 20 here)
//   inverse norms: elementwise relative 1e-6 (one float32 rounding of a float64 value)
//   gradients: max|got - ref| / max|ref| <= kGrad = 2e-5: relative to the largest gradient element, because the
//     gradients are O(1/n) and an absolute floor of 1 would hide errors
//   reference gradient vs central differences of the reference loss: kFdRef = 1e-6; the float32 op vs the same
//     differences: kFdOp = 1e-4
//   momentum update and enqueue: bitwise
//   CUDA vs CPU: the same measures and tolerances (the GPU sums in another order), momentum and enqueue bitwise; each
//     CUDA op runs twice (default stream, then a created one) and must repeat itself bitwise.
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
#include <utility>
#include <vector>

#include "harness.h"
#include "quarry.h"

namespace {


constexpr double kExact = 0.0;
constexpr double kElem = 1e-6;
constexpr double kReduce = 1e-5;
constexpr double kGrad = 2e-5;
constexpr double kFdRef = 1e-6;
constexpr double kFdOp = 1e-4;

using namespace qy_test;

// Rows of unit length (in float32), as MoCo's encoders produce them.
Vec unit_rows(int64_t rows, int d) {
    Vec v = uniform((size_t)(rows * d));
    for (int64_t i = 0; i < rows; ++i) {
        double s = 0;
        for (int k = 0; k < d; ++k) s += (double)v[i * d + k] * v[i * d + k];
        const double inv = 1.0 / std::sqrt(s);
        for (int k = 0; k < d; ++k) v[i * d + k] = (float)(v[i * d + k] * inv);
    }
    return v;
}

// Central differences of loss() over every element of v (h = 1e-6 in float64, as in test_ops). The near-identical
// cases take h = 1e-7: their gradients are ~1e-4 while third derivatives scale like 1/tau^3, so the truncation error
// h^2 / tau^3 must shrink, and rounding (1e-16 |L| / h with |L| ~ 1e-3) stays far below.
VecD fd_grad(VecD& v, const std::function<double()>& loss, double h = 1e-6) {
    VecD g(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        const double keep = v[i];
        v[i] = keep + h;
        const double up = loss();
        v[i] = keep - h;
        const double down = loss();
        v[i] = keep;
        g[i] = (up - down) / (2 * h);
    }
    return g;
}

// ---- float64 references, written from quarry.h --------------------------------------------------------------------

namespace ref {

double dot(const double* a, const double* b, int d) {
    double s = 0;
    for (int k = 0; k < d; ++k) s += a[k] * b[k];
    return s;
}

// log sum_j exp(x_j) over the entries with keep(j).
double logsumexp(const VecD& x, const std::function<bool(size_t)>& keep) {
    double m = -INFINITY;
    for (size_t j = 0; j < x.size(); ++j)
        if (keep(j)) m = std::max(m, x[j]);
    double s = 0;
    for (size_t j = 0; j < x.size(); ++j)
        if (keep(j)) s += std::exp(x[j] - m);
    return m + std::log(s);
}

struct NtXent {
    double loss = 0;
    VecD lse, invnorm, dz;
};

NtXent ntxent(const VecD& z, int n, int d, double tau, double scale) {
    const int rows = 2 * n;
    NtXent r;
    r.invnorm.resize(rows);
    VecD u(z.size());
    for (int i = 0; i < rows; ++i) {
        const double norm = std::sqrt(dot(&z[(size_t)i * d], &z[(size_t)i * d], d));
        r.invnorm[i] = 1.0 / std::max(norm, 1e-12);
        for (int k = 0; k < d; ++k) u[(size_t)i * d + k] = z[(size_t)i * d + k] * r.invnorm[i];
    }
    std::vector<VecD> s(rows, VecD(rows));
    for (int i = 0; i < rows; ++i)
        for (int j = 0; j < rows; ++j) s[i][j] = dot(&u[(size_t)i * d], &u[(size_t)j * d], d) / tau;
    r.lse.resize(rows);
    for (int i = 0; i < rows; ++i) {
        const int p = (i + n) % rows;
        r.lse[i] = logsumexp(s[i], [&](size_t j) { return (int)j != i; });
        // lse_i - s_ip without the cancellation (finite differences of tiny losses need it): log1p of the negatives.
        double neg = 0;
        for (int j = 0; j < rows; ++j)
            if (j != i && j != p) neg += std::exp(s[i][j] - s[i][p]);
        r.loss += std::log1p(neg) / rows;
    }
    r.dz.assign(z.size(), 0.0);
    for (int i = 0; i < rows; ++i) {
        VecD g(d, 0.0);
        for (int j = 0; j < rows; ++j) {
            if (j == i) continue;
            const double w = std::exp(s[i][j] - r.lse[i]) + std::exp(s[j][i] - r.lse[j]) - (j == (i + n) % rows ? 2 : 0);
            for (int k = 0; k < d; ++k) g[k] += w * u[(size_t)j * d + k];
        }
        for (double& x : g) x *= scale / (rows * tau);
        const bool clamped = r.invnorm[i] == 1e12;
        const double proj = clamped ? 0.0 : dot(g.data(), &u[(size_t)i * d], d);
        for (int k = 0; k < d; ++k) r.dz[(size_t)i * d + k] = r.invnorm[i] * (g[k] - proj * u[(size_t)i * d + k]);
    }
    return r;
}

struct InfoNce {
    double loss = 0;
    VecD lse, dq;
};

InfoNce infonce(const VecD& q, const VecD& k, const VecD& queue, int n, int64_t kq, int d, double tau, double scale) {
    InfoNce r;
    r.lse.resize(n);
    r.dq.assign(q.size(), 0.0);
    for (int i = 0; i < n; ++i) {
        VecD logits((size_t)kq + 1);
        logits[0] = dot(&q[(size_t)i * d], &k[(size_t)i * d], d) / tau;
        for (int64_t j = 0; j < kq; ++j) logits[(size_t)j + 1] = dot(&q[(size_t)i * d], &queue[(size_t)j * d], d) / tau;
        r.lse[i] = logsumexp(logits, [](size_t) { return true; });
        double neg = 0;
        for (size_t j = 1; j < logits.size(); ++j) neg += std::exp(logits[j] - logits[0]);
        r.loss += std::log1p(neg) / n;
        const double c = scale / (n * tau);
        for (size_t j = 0; j < logits.size(); ++j) {
            const double w = std::exp(logits[j] - r.lse[i]) - (j == 0 ? 1 : 0);
            const double* row = j == 0 ? &k[(size_t)i * d] : &queue[(j - 1) * (size_t)d];
            for (int kk = 0; kk < d; ++kk) r.dq[(size_t)i * d + kk] += c * w * row[kk];
        }
    }
    return r;
}

}  // namespace ref

// ---- runners: one op family on one backend, inputs captured ------------------------------------------------------

Runner ntxent_runner(const Vec& z, int n, int d, float tau, float scale) {
    return [=](Session& s) {
        const size_t rows = 2 * (size_t)n;
        float *zp = s.in(z), *loss = s.out(1), *lse = s.out(rows), *inv = s.out(rows), *dz = s.out(z.size());
        QY(qy_ntxent_fwd, s.dev, s.stream, zp, loss, lse, inv, n, d, tau);
        QY(qy_ntxent_bwd, s.dev, s.stream, zp, lse, inv, dz, n, d, tau, scale);
        return Outs{{"loss", s.get(loss, 1)}, {"lse", s.get(lse, rows)}, {"invnorm", s.get(inv, rows)},
                    {"dz", s.get(dz, z.size())}};
    };
}
const std::vector<Check> kNtXentChecks = {
    {Measure::Abs1, kReduce}, {Measure::Abs1, kReduce}, {Measure::Elem, kElem}, {Measure::Rel, kGrad}};

Runner infonce_runner(const Vec& q, const Vec& k, const Vec& queue, int n, int64_t kq, int d, float tau, float scale) {
    return [=](Session& s) {
        float *qp = s.in(q), *kp = s.in(k), *qu = s.in(queue), *loss = s.out(1), *lse = s.out(n),
              *dq = s.out(q.size());
        QY(qy_infonce_queue_fwd, s.dev, s.stream, qp, kp, qu, loss, lse, n, kq, d, tau);
        QY(qy_infonce_queue_bwd, s.dev, s.stream, qp, kp, qu, lse, dq, n, kq, d, tau, scale);
        return Outs{{"loss", s.get(loss, 1)}, {"lse", s.get(lse, n)}, {"dq", s.get(dq, q.size())}};
    };
}
const std::vector<Check> kInfoNceChecks = {{Measure::Abs1, kReduce}, {Measure::Abs1, kReduce}, {Measure::Rel, kGrad}};

// ---- tests -------------------------------------------------------------------------------------------------------

void test_ntxent(Test& t, int n, int d, float tau, float scale, const Vec& z) {
    const std::string name = format("ntxent n=%d d=%d tau=%g", n, d, tau);
    Outs o = cpu_case(name, ntxent_runner(z, n, d, tau, scale), kNtXentChecks);
    ref::NtXent r = ref::ntxent(to_d(z), n, d, tau, scale);
    compare(t, "loss", o[0].v, {r.loss}, Measure::Abs1, kReduce);
    compare(t, "lse", o[1].v, r.lse, Measure::Abs1, kReduce);
    compare(t, "invnorm", o[2].v, r.invnorm, Measure::Elem, kElem);
    compare(t, "dz", o[3].v, r.dz, Measure::Rel, kGrad);
}

void test_infonce(Test& t, int n, int64_t kq, int d, float tau, float scale, bool unit) {
    Vec q = unit ? unit_rows(n, d) : uniform((size_t)n * d), k = unit ? unit_rows(n, d) : uniform((size_t)n * d);
    Vec queue = unit ? unit_rows(kq, d) : uniform((size_t)(kq * d));
    const std::string name = format("infonce_queue n=%d kq=%lld d=%d tau=%g%s", n, (long long)kq, d, tau,
                                    unit ? "" : " unnormalised");
    Outs o = cpu_case(name, infonce_runner(q, k, queue, n, kq, d, tau, scale), kInfoNceChecks);
    ref::InfoNce r = ref::infonce(to_d(q), to_d(k), to_d(queue), n, kq, d, tau, scale);
    compare(t, "loss", o[0].v, {r.loss}, Measure::Abs1, kReduce);
    compare(t, "lse", o[1].v, r.lse, Measure::Abs1, kReduce);
    compare(t, "dq", o[2].v, r.dq, Measure::Rel, kGrad);
}

// max|got - fd| / max|fd| for a float64 gradient.
void close_to_fd(Test& t, const std::string& what, const VecD& got, const VecD& fd, double tol) {
    double worst = 0, top = 1e-30;
    for (size_t i = 0; i < fd.size(); ++i) {
        worst = std::max(worst, std::isnan(got[i]) ? INFINITY : std::fabs(got[i] - fd[i]));
        top = std::max(top, std::fabs(fd[i]));
    }
    t.error(worst / top);
    t.expect(worst / top <= tol, format("%s: err %.3g > %.1g", what.c_str(), worst / top, tol));
}

// Reference gradient vs central differences of the reference loss, then the float32 op vs the same differences.
// close_views: view i + n is view i plus 1% noise, so each positive dominates its row.
void test_fd_ntxent(Test& t, int n, int d, float tau, bool close_views = false) {
    const float scale = 0.8f;
    Vec zf = uniform(2 * (size_t)n * d);
    if (close_views)
        for (size_t i = 0; i < (size_t)n * d; ++i) zf[(size_t)n * d + i] = zf[i] * (1.0f + 0.01f * uniform(1)[0]);
    VecD z = to_d(zf);
    VecD fd = fd_grad(z, [&] { return scale * ref::ntxent(z, n, d, tau, scale).loss; }, close_views ? 1e-7 : 1e-6);
    close_to_fd(t, "reference dz vs FD", ref::ntxent(z, n, d, tau, scale).dz, fd, kFdRef);
    Outs o = run_on(QY_DEV_CPU, nullptr, ntxent_runner(zf, n, d, tau, scale));
    close_to_fd(t, "op dz vs FD", to_d(o[3].v), fd, kFdOp);
}

// close_key: k_i is q_i (unnormalised by 1e-3 relative noise), so each positive dominates its row.
void test_fd_infonce(Test& t, int n, int64_t kq, int d, float tau, bool close_key = false) {
    const float scale = 1.3f;
    Vec qf = unit_rows(n, d), kf = unit_rows(n, d), queuef = unit_rows(kq, d);
    if (close_key)
        for (size_t i = 0; i < qf.size(); ++i) kf[i] = qf[i] * (1.0f + 1e-3f * uniform(1)[0]);
    VecD q = to_d(qf), k = to_d(kf), queue = to_d(queuef);
    VecD fd = fd_grad(q, [&] { return scale * ref::infonce(q, k, queue, n, kq, d, tau, scale).loss; },
                      close_key ? 1e-7 : 1e-6);
    close_to_fd(t, "reference dq vs FD", ref::infonce(q, k, queue, n, kq, d, tau, scale).dq, fd, kFdRef);
    Outs o = run_on(QY_DEV_CPU, nullptr, infonce_runner(qf, kf, queuef, n, kq, d, tau, scale));
    close_to_fd(t, "op dq vs FD", to_d(o[2].v), fd, kFdOp);
}

// Closed forms. Two identical views of n mutually orthogonal directions (rows scaled differently, which the
// normalisation removes): s = 1/tau to the partner, 0 to the 2n - 2 others, so every anchor's loss is
// log(1 + (2n - 2) exp(-1/tau)), which goes to 0 as tau does. All 2n rows identical: every logit is 1/tau and the
// loss is log(2n - 1) for any tau.
void test_ntxent_closed_form(Test& t) {
    const int n = 5, d = 7;
    for (float tau : {1.0f, 0.1f, 0.05f, 0.01f}) {
        Vec z(2 * n * d, 0.0f);
        for (int i = 0; i < n; ++i) {
            z[(size_t)i * d + i] = 0.5f + i;
            z[(size_t)(i + n) * d + i] = 3.0f - 0.25f * i;
        }
        Outs o = cpu_case(format("ntxent orthogonal identical views tau=%g", tau), ntxent_runner(z, n, d, tau, 1.0f),
                          kNtXentChecks);
        const double want = std::log1p((2.0 * n - 2) * std::exp(-1.0 / tau));
        compare(t, format("loss at tau=%g (exact %.3g)", tau, want), o[0].v, {want}, Measure::Abs1, 1e-6);
        if (tau == 0.01f) t.expect(o[0].v[0] < 1e-30f, format("loss at tau=0.01 is %g, want ~1e-42", o[0].v[0]));
    }
    Vec same(2 * n * d);
    Vec row = uniform(d);
    for (int i = 0; i < 2 * n; ++i) std::copy(row.begin(), row.end(), same.begin() + (size_t)i * d);
    // dz is zero up to rounding here, so its CUDA check is absolute (a relative one compares rounding noise; with
    // the built-in CPU GEMM instead of OpenBLAS the noise differs).
    Outs o = cpu_case("ntxent all rows identical", ntxent_runner(same, n, d, 0.2f, 1.0f),
                      {{Measure::Abs1, kReduce}, {Measure::Abs1, kReduce}, {Measure::Elem, kElem}, {Measure::Abs1, kGrad}});
    compare(t, "loss with identical rows (log(2n - 1))", o[0].v, {std::log(2.0 * n - 1)}, Measure::Abs1, 1e-6);
}

// q_i = k_i and a queue orthogonal to every query: loss = log(1 + kq exp(-1/tau)).
void test_infonce_closed_form(Test& t) {
    const int n = 3, d = 8;
    const int64_t kq = 5;
    Vec q(n * d, 0.0f), queue(kq * d, 0.0f);
    for (int i = 0; i < n; ++i) q[(size_t)i * d + i] = 1.0f;
    for (int64_t j = 0; j < kq; ++j) queue[(size_t)j * d + n + j] = 1.0f;
    for (float tau : {1.0f, 0.07f}) {
        Outs o = cpu_case(format("infonce_queue orthogonal queue tau=%g", tau),
                          infonce_runner(q, q, queue, n, kq, d, tau, 1.0f), kInfoNceChecks);
        const double want = std::log1p(kq * std::exp(-1.0 / tau));
        compare(t, format("loss at tau=%g (exact %.3g)", tau, want), o[0].v, {want}, Measure::Abs1, 1e-6);
    }
}

// A zero row takes the eps branch of the normalisation (u = 0, gradient not projected); a NaN input makes the loss
// NaN instead of a plausible number.
void test_ntxent_degenerate(Test& t) {
    const int n = 4, d = 6;
    Vec z = uniform(2 * n * d);
    std::fill(z.begin() + 2 * d, z.begin() + 3 * d, 0.0f);
    Outs o = cpu_case("ntxent with a zero row", ntxent_runner(z, n, d, 0.5f, 1.0f), kNtXentChecks);
    ref::NtXent r = ref::ntxent(to_d(z), n, d, 0.5, 1.0);
    compare(t, "loss with a zero row", o[0].v, {r.loss}, Measure::Abs1, kReduce);
    compare(t, "invnorm with a zero row", o[2].v, r.invnorm, Measure::Elem, kElem);
    compare(t, "dz with a zero row", o[3].v, r.dz, Measure::Rel, kGrad);
    // d = 1: every u is +-1, the normalisation's projection removes the whole gradient.
    Vec line = uniform(2 * n);
    Outs o1 = cpu_case("ntxent d=1", ntxent_runner(line, n, 1, 0.5f, 1.0f), kNtXentChecks);
    compare(t, "loss at d=1", o1[0].v, {ref::ntxent(to_d(line), n, 1, 0.5, 1.0).loss}, Measure::Abs1, kReduce);
    compare(t, "dz at d=1 (zero up to rounding)", o1[3].v, VecD(2 * n, 0.0), Measure::Abs1, 1e-6);
    z[5] = kNaN;
    Outs bad = run_on(QY_DEV_CPU, nullptr, ntxent_runner(z, n, d, 0.5f, 1.0f));
    t.expect(std::isnan(bad[0].v[0]), format("NT-Xent loss with a NaN input is %g, want NaN", bad[0].v[0]));
    Vec q = unit_rows(n, d), queue = unit_rows(9, d);
    q[3] = kNaN;
    Outs bad2 = run_on(QY_DEV_CPU, nullptr, infonce_runner(q, q, queue, n, 9, d, 0.5f, 1.0f));
    t.expect(std::isnan(bad2[0].v[0]), format("InfoNCE loss with a NaN query is %g, want NaN", bad2[0].v[0]));
}

void test_momentum(Test& t, int64_t count) {
    Vec k = uniform(count), q = uniform(count);
    for (float m : {0.0f, 0.5f, 0.999f, 1.0f}) {
        Outs o = cpu_case(format("momentum_update count=%lld m=%g", (long long)count, m),
                          [=](Session& s) {
                              float *kp = s.in(k), *qp = s.in(q);
                              QY(qy_momentum_update, s.dev, s.stream, kp, qp, count, m);
                              return Outs{{"theta_k", s.get(kp, count)}};
                          },
                          {{Measure::Bits, kExact}});
        VecD want((size_t)count);
        const float take = 1.0f - m;
        for (int64_t i = 0; i < count; ++i) {
            const float a = m * k[i], b = take * q[i];  // two float products and one float sum, as quarry.h says
            want[i] = a + b;
        }
        compare(t, format("theta_k m=%g", m), o[0].v, want, Measure::Bits, kExact);
    }
}

void test_enqueue(Test& t, int64_t kq, int d, int n, int64_t ptr) {
    Vec queue = uniform(kq * d), keys = uniform((size_t)n * d);
    Outs o = cpu_case(format("queue_enqueue kq=%lld d=%d n=%d ptr=%lld", (long long)kq, d, n, (long long)ptr),
                      [=](Session& s) {
                          float *qu = s.in(queue), *kp = s.in(keys);
                          QY(qy_queue_enqueue, s.dev, s.stream, qu, kq, d, kp, n, ptr);
                          return Outs{{"queue", s.get(qu, queue.size())}};
                      },
                      {{Measure::Bits, kExact}});
    VecD want = to_d(queue);
    for (int r = 0; r < n; ++r)
        for (int c = 0; c < d; ++c) want[(size_t)((ptr + r) % kq) * d + c] = keys[(size_t)r * d + c];
    compare(t, "queue", o[0].v, want, Measure::Bits, kExact);
}

void test_scratch_bytes(Test& t) {
    int64_t b = -1;
    QY(qy_ntxent_scratch_bytes, QY_DEV_CPU, 4096, 128, &b);
    // At least the normalised copy of z; far below the 2n x 2n logits (268 MB at this size).
    t.expect(b >= 2LL * 4096 * 128 * 4 && b < (8192LL * 8192 * 4) / 16,
             format("ntxent scratch at n=4096 d=128: %lld bytes", (long long)b));
    QY(qy_infonce_queue_scratch_bytes, QY_DEV_CPU, 256, 65536, 128, &b);
    t.expect(b > 0 && b < 256LL * 65536 * 4 / 4, format("infonce scratch at n=256 kq=65536 d=128: %lld bytes",
                                                        (long long)b));
}

// ---- argument errors ----------------------------------------------------------------------------------------------


void test_errors(Test& t) {
    Vec buf(4096, 0.5f);
    float* f = buf.data();
    const int cpu = QY_DEV_CPU, E = QY_ERR_INVALID;
    const float inf = std::numeric_limits<float>::infinity();
    const char *nf = "qy_ntxent_fwd", *nb = "qy_ntxent_bwd", *mf = "qy_infonce_queue_fwd",
               *mb = "qy_infonce_queue_bwd", *mu = "qy_momentum_update", *eq = "qy_queue_enqueue";
    expect_status(t, "ntxent n = 1 pair", qy_ntxent_fwd(cpu, nullptr, f, f, f, f, 1, 8, 0.5f), E, nf);
    expect_status(t, "ntxent n = 0", qy_ntxent_fwd(cpu, nullptr, f, f, f, f, 0, 8, 0.5f), E, nf);
    expect_status(t, "ntxent d = 0", qy_ntxent_fwd(cpu, nullptr, f, f, f, f, 4, 0, 0.5f), E, nf);
    expect_status(t, "ntxent tau = 0", qy_ntxent_fwd(cpu, nullptr, f, f, f, f, 4, 8, 0.0f), E, nf);
    expect_status(t, "ntxent tau < 0", qy_ntxent_fwd(cpu, nullptr, f, f, f, f, 4, 8, -0.1f), E, nf);
    expect_status(t, "ntxent tau NaN", qy_ntxent_fwd(cpu, nullptr, f, f, f, f, 4, 8, kNaN), E, nf);
    expect_status(t, "ntxent tau inf", qy_ntxent_fwd(cpu, nullptr, f, f, f, f, 4, 8, inf), E, nf);
    expect_status(t, "ntxent tau subnormal (1/tau overflows)", qy_ntxent_fwd(cpu, nullptr, f, f, f, f, 4, 8, 1e-40f),
                  E, nf);
    expect_status(t, "ntxent null save_lse", qy_ntxent_fwd(cpu, nullptr, f, f, nullptr, f, 4, 8, 0.5f), E, nf);
    expect_status(t, "ntxent_bwd n = 1", qy_ntxent_bwd(cpu, nullptr, f, f, f, f, 1, 8, 0.5f, 1.0f), E, nb);
    expect_status(t, "ntxent_bwd tau = 0", qy_ntxent_bwd(cpu, nullptr, f, f, f, f, 4, 8, 0.0f, 1.0f), E, nb);
    expect_status(t, "ntxent_bwd scale NaN", qy_ntxent_bwd(cpu, nullptr, f, f, f, f, 4, 8, 0.5f, kNaN), E, nb);
    expect_status(t, "ntxent_bwd null dz", qy_ntxent_bwd(cpu, nullptr, f, f, f, nullptr, 4, 8, 0.5f, 1.0f), E, nb);
    expect_status(t, "infonce queue of 0 rows", qy_infonce_queue_fwd(cpu, nullptr, f, f, f, f, f, 4, 0, 8, 0.07f), E,
                  mf);
    expect_status(t, "infonce d = 0", qy_infonce_queue_fwd(cpu, nullptr, f, f, f, f, f, 4, 16, 0, 0.07f), E, mf);
    expect_status(t, "infonce n = 0", qy_infonce_queue_fwd(cpu, nullptr, f, f, f, f, f, 0, 16, 8, 0.07f), E, mf);
    expect_status(t, "infonce tau NaN", qy_infonce_queue_fwd(cpu, nullptr, f, f, f, f, f, 4, 16, 8, kNaN), E, mf);
    expect_status(t, "infonce tau -inf", qy_infonce_queue_fwd(cpu, nullptr, f, f, f, f, f, 4, 16, 8, -inf), E, mf);
    expect_status(t, "infonce null queue", qy_infonce_queue_fwd(cpu, nullptr, f, f, nullptr, f, f, 4, 16, 8, 0.07f),
                  E, mf);
    expect_status(t, "infonce_bwd tau 0", qy_infonce_queue_bwd(cpu, nullptr, f, f, f, f, f, 4, 16, 8, 0.0f, 1.0f), E,
                  mb);
    expect_status(t, "infonce_bwd scale inf", qy_infonce_queue_bwd(cpu, nullptr, f, f, f, f, f, 4, 16, 8, 0.07f, inf),
                  E, mb);
    expect_status(t, "infonce_bwd null dq",
                  qy_infonce_queue_bwd(cpu, nullptr, f, f, f, f, nullptr, 4, 16, 8, 0.07f, 1.0f), E, mb);
    expect_status(t, "momentum m = -0.1", qy_momentum_update(cpu, nullptr, f, f, 16, -0.1f), E, mu);
    expect_status(t, "momentum m = 1.5", qy_momentum_update(cpu, nullptr, f, f, 16, 1.5f), E, mu);
    expect_status(t, "momentum m NaN", qy_momentum_update(cpu, nullptr, f, f, 16, kNaN), E, mu);
    expect_status(t, "momentum count 0", qy_momentum_update(cpu, nullptr, f, f, 0, 0.9f), E, mu);
    expect_status(t, "enqueue more keys than queue rows", qy_queue_enqueue(cpu, nullptr, f, 8, 4, f, 9, 0), E, eq);
    expect_status(t, "enqueue ptr = kq", qy_queue_enqueue(cpu, nullptr, f, 8, 4, f, 2, 8), E, eq);
    expect_status(t, "enqueue ptr < 0", qy_queue_enqueue(cpu, nullptr, f, 8, 4, f, 2, -1), E, eq);
    expect_status(t, "enqueue d = 0", qy_queue_enqueue(cpu, nullptr, f, 8, 0, f, 2, 0), E, eq);
    expect_status(t, "enqueue null keys", qy_queue_enqueue(cpu, nullptr, f, 8, 4, nullptr, 2, 0), E, eq);
    int64_t b = 7;
    expect_status(t, "scratch bytes n = 1", qy_ntxent_scratch_bytes(cpu, 1, 8, &b), E, "qy_ntxent_scratch_bytes");
    expect_status(t, "scratch bytes kq = 0", qy_infonce_queue_scratch_bytes(cpu, 4, 0, 8, &b), E,
                  "qy_infonce_queue_scratch_bytes");
    t.expect(std::all_of(buf.begin(), buf.end(), [](float v) { return v == 0.5f; }), "a rejected call wrote its output");
}

// ---- CUDA: what runs only with or without a GPU -------------------------------------------------------------------

void test_no_device(Test& t) {
    Vec z(64, 1.0f);
    float* f = z.data();
    expect_status(t, "ntxent on CUDA", qy_ntxent_fwd(QY_DEV_CUDA, nullptr, f, f, f, f, 2, 4, 0.5f), QY_ERR_NO_DEVICE,
                  "qy_ntxent_fwd");
}

void test_cuda_scratch(void*) {
    run_test("cuda scratch bytes", [](Test& t) {
        int64_t b = -1;
        QY(qy_ntxent_scratch_bytes, QY_DEV_CUDA, 4096, 128, &b);
        t.expect(b > 0 && b < 8192LL * 8192 * 4 / 4, format("CUDA ntxent scratch at n=4096 d=128: %lld", (long long)b));
        QY(qy_infonce_queue_scratch_bytes, QY_DEV_CUDA, 256, 65536, 128, &b);
        t.expect(b > 0 && b < 256LL * 65536 * 4 / 4, format("CUDA infonce scratch: %lld bytes", (long long)b));
    });
}

}  // namespace

int main() {
    begin_program(20250301u);

    struct Nt {
        int n, d;
        float tau, scale;
    };
    // Odd sizes; 70 pairs = 140 rows crosses a CPU row panel (128), 1100 pairs = 2200 columns a column block (2048).
    std::vector<Nt> nts = {{2, 3, 0.5f, 1.0f},   {3, 129, 0.1f, 1.0f}, {37, 65, 0.07f, 0.5f},
                           {70, 33, 0.2f, 2.0f}, {5, 2, 1.0f, 1.0f},   {1100, 5, 0.5f, 1.0f}};
    for (int i = 0; i < 4; ++i) nts.push_back({rand_int(2, 37), rand_int(3, 129), 0.05f + 0.1f * i, 1.0f});
    for (const Nt& c : nts) {
        Vec z = uniform(2 * (size_t)c.n * c.d, -2.0f, 2.0f);
        run_test(format("ntxent n=%d d=%d tau=%g scale=%g", c.n, c.d, c.tau, c.scale),
                 [&](Test& t) { test_ntxent(t, c.n, c.d, c.tau, c.scale, z); });
    }
    struct Moco {
        int n;
        int64_t kq;
        int d;
        float tau;
        bool unit;
    };
    // 4099 queue rows cross a CPU column block (2048) twice; 130 queries cross a row panel.
    std::vector<Moco> mocos = {{1, 1, 1, 0.07f, true},      {3, 5, 7, 0.2f, true},     {37, 129, 65, 0.07f, true},
                               {5, 4099, 16, 0.07f, true},  {130, 300, 33, 0.1f, true}, {4, 50, 9, 0.5f, false}};
    for (int i = 0; i < 3; ++i) mocos.push_back({rand_int(1, 37), rand_int(1, 700), rand_int(3, 129), 0.07f, true});
    for (const Moco& c : mocos)
        run_test(format("infonce_queue n=%d kq=%lld d=%d tau=%g%s", c.n, (long long)c.kq, c.d, c.tau,
                        c.unit ? "" : " unnormalised"),
                 [&](Test& t) { test_infonce(t, c.n, c.kq, c.d, c.tau, 0.9f, c.unit); });
    run_test("fd ntxent n=2 d=3 tau=0.5", [](Test& t) { test_fd_ntxent(t, 2, 3, 0.5f); });
    run_test("fd ntxent n=3 d=5 tau=0.1", [](Test& t) { test_fd_ntxent(t, 3, 5, 0.1f); });
    run_test("fd infonce_queue n=3 kq=7 d=4 tau=0.2", [](Test& t) { test_fd_infonce(t, 3, 7, 4, 0.2f); });
    run_test("fd infonce_queue n=1 kq=1 d=3 tau=0.07", [](Test& t) { test_fd_infonce(t, 1, 1, 3, 0.07f); });
    // A dominant positive (loss ~1e-4): the regime where 1 - P_pos cancels unless summed from the negatives.
    run_test("fd ntxent n=3 d=4 tau=0.05 near-identical views", [](Test& t) { test_fd_ntxent(t, 3, 4, 0.05f, true); });
    run_test("fd infonce_queue n=2 kq=5 d=4 tau=0.05 near-identical key",
             [](Test& t) { test_fd_infonce(t, 2, 5, 4, 0.05f, true); });
    run_test("ntxent closed forms (orthogonal views, identical rows)", test_ntxent_closed_form);
    run_test("infonce_queue closed form (orthogonal queue)", test_infonce_closed_form);
    run_test("ntxent zero row, d=1, NaN input; infonce NaN query", test_ntxent_degenerate);
    for (int64_t count : {int64_t{1}, int64_t{1003}, int64_t{(1 << 20) + 3}})
        run_test(format("momentum_update count=%lld", (long long)count), [&](Test& t) { test_momentum(t, count); });
    struct Enq {
        int64_t kq;
        int d, n;
        int64_t ptr;
    };
    for (const Enq& e : {Enq{8, 3, 3, 0}, Enq{8, 3, 5, 6}, Enq{8, 3, 8, 7}, Enq{1, 5, 1, 0}, Enq{65536, 128, 256, 65500}})
        run_test(format("queue_enqueue kq=%lld d=%d n=%d ptr=%lld", (long long)e.kq, e.d, e.n, (long long)e.ptr),
                 [&](Test& t) { test_enqueue(t, e.kq, e.d, e.n, e.ptr); });
    run_test("scratch bytes stay far below the logit matrix", test_scratch_bytes);
    run_test("argument errors", test_errors);
    run_cuda_pass(test_no_device, test_cuda_scratch);
    return end_program();
}
