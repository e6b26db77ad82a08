// The test programs' shared harness (test_ops, test_contrastive, test_ssl): named checks with a worst error, a
// PASS/FAIL/SKIP line each, a tally for the exit status, and QY() to turn a status into an exception.
#ifndef QUARRY_TEST_HARNESS_H
#define QUARRY_TEST_HARNESS_H

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

#include "quarry.h"

#define QY(fn, ...) qy_test::ok(fn(__VA_ARGS__), #fn)

namespace qy_test {

using Vec = std::vector<float>;
using VecD = std::vector<double>;
using Labels = std::vector<int32_t>;

inline constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

inline std::string format(const char* fmt, ...) {
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
};
inline Tally g_tally;

// QUARRY_TEST_FILTER="a|b": run only the tests whose name contains a or b (the CUDA pass replays the CPU cases that
// ran, so a filter selects an op on both backends).
inline bool selected(const std::string& name) {
    static const char* filter = std::getenv("QUARRY_TEST_FILTER");
    if (filter == nullptr || *filter == '\0') return true;
    std::string f(filter);
    for (size_t start = 0;;) {
        const size_t bar = f.find('|', start);
        const std::string part = f.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
        if (!part.empty() && name.find(part) != std::string::npos) return true;
        if (bar == std::string::npos) return false;
        start = bar + 1;
    }
}

inline void run_test(const std::string& name, const std::function<void(Test&)>& body) {
    if (!selected(name)) return;
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
        std::printf("FAIL %-66s max_err=%.2e  %d failed check(s)  %.0f ms\n", name.c_str(), t.max_err, t.failures, ms);
    } else if (!t.skip_reason.empty()) {
        ++g_tally.skip;
        std::printf("SKIP %s: %s\n", name.c_str(), t.skip_reason.c_str());
    } else {
        ++g_tally.pass;
        std::printf("PASS %-66s max_err=%.2e  %.0f ms\n", name.c_str(), t.max_err, ms);
    }
    std::fflush(stdout);
}

inline void ok(int rc, const char* call) {
    if (rc != QY_OK) throw std::runtime_error(format("%s returned %d: %s", call, rc, qy_last_error()));
}

// ---- device sessions: inputs uploaded, outputs NaN-poisoned, everything freed at the end -------------------------

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
    // float64 buffers for the acquisition ops.
    double* in(const VecD& v) {
        double* p = alloc<double>(v.size());
        QY(qy_upload, dev, stream, p, v.data(), (int64_t)(v.size() * sizeof(double)));
        return p;
    }
    double* out_d(size_t n) { return in(VecD(n, std::numeric_limits<double>::quiet_NaN())); }
    VecD get(const double* p, size_t n) {
        VecD v(n);
        QY(qy_download, dev, stream, v.data(), p, (int64_t)(n * sizeof(double)));
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

// One named output: float32 (v) or, for the acquisition ops, float64 (d).
struct Out {
    Out(std::string n, Vec values) : name(std::move(n)), v(std::move(values)) {}
    Out(std::string n, VecD values) : name(std::move(n)), d(std::move(values)), f64(true) {}
    std::string name;
    Vec v;
    VecD d;
    bool f64 = false;
};
using Outs = std::vector<Out>;
using Runner = std::function<Outs(Session&)>;

inline Outs run_on(int dev, void* stream, const Runner& run) {
    Session s(dev, stream);
    Outs o = run(s);
    QY(qy_stream_sync, dev, stream);
    return o;
}

// ---- inputs: one generator per program (main seeds it), uniform values that are never exactly zero ---------------

inline std::mt19937 g_rng;
inline void seed_inputs(uint32_t seed) { g_rng.seed(seed); }

inline Vec uniform(size_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> d(lo, hi);
    Vec v(n);
    for (float& x : v) {
        do x = d(g_rng);
        while (x == 0.0f);
    }
    return v;
}
inline int rand_int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g_rng); }
inline VecD to_d(const Vec& v) { return VecD(v.begin(), v.end()); }
inline Vec to_f(const VecD& v) { return Vec(v.begin(), v.end()); }

// ---- comparisons ------------------------------------------------------------------------------------------------
// A NaN where the reference is finite is an element the op never wrote: outputs are poisoned with NaN before every
// call (Session::out), so every comparison below fails on one.

inline uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
inline uint64_t bits(double d) {
    uint64_t u;
    std::memcpy(&u, &d, sizeof u);
    return u;
}

// Bitwise equality (NaN poison included: compare with a validated result to catch it).
template <class F>
void same_bits(Test& t, const std::string& what, const std::vector<F>& got, const std::vector<F>& want) {
    if (got.size() != want.size()) {
        t.fail(format("%s: %zu elements, expected %zu", what.c_str(), got.size(), want.size()));
        return;
    }
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < got.size(); ++i)
        if (bits(got[i]) != bits(want[i]) && bad++ == 0) first = i;
    if (bad > 0) {
        t.error(INFINITY);
        t.fail(format("%s: %zu of %zu elements differ bitwise; first at %zu: got %.17g (0x%llx), want %.17g (0x%llx)",
                      what.c_str(), bad, got.size(), first, (double)got[first], (unsigned long long)bits(got[first]),
                      (double)want[first], (unsigned long long)bits(want[first])));
    }
}

// Distance in units in the last place between two float32 or float64 values (NaN: infinitely far).
template <class F>
uint64_t ulps(F a, F b) {
    if (std::isnan(a) || std::isnan(b)) return UINT64_MAX;
    using I = std::conditional_t<sizeof(F) == 4, int32_t, int64_t>;
    auto ordered = [](F x) {
        I i;
        std::memcpy(&i, &x, sizeof i);
        return (int64_t)(i < 0 ? std::numeric_limits<I>::min() - i : i);
    };
    const int64_t ia = ordered(a), ib = ordered(b);
    return ia > ib ? (uint64_t)ia - (uint64_t)ib : (uint64_t)ib - (uint64_t)ia;
}

template <class F>
void within_ulps(Test& t, const std::string& what, const std::vector<F>& got, const std::vector<F>& want,
                 uint64_t max_ulps) {
    if (got.size() != want.size()) {
        t.fail(format("%s: %zu elements, expected %zu", what.c_str(), got.size(), want.size()));
        return;
    }
    size_t bad = 0, first = 0;
    uint64_t worst = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const uint64_t u = ulps(got[i], want[i]);
        worst = std::max(worst, u);
        if (u > max_ulps && bad++ == 0) first = i;
    }
    t.error(worst == UINT64_MAX ? INFINITY : (double)worst * std::numeric_limits<F>::epsilon());
    if (bad > 0)
        t.fail(format("%s: %zu of %zu elements more than %llu ulp apart; first at %zu: got %.17g, want %.17g",
                      what.c_str(), bad, got.size(), (unsigned long long)max_ulps, first, (double)got[first],
                      (double)want[first]));
}

// How a result is measured against its reference:
//   Abs1  max|got - ref| / max(1, max|ref|)        (values)
//   Rel   max|got - ref| / max(1e-30, max|ref|)     (gradients, whose scale can be far below 1)
//   Elem  max over i of |got_i - ref_i| / |ref_i|   (a zero reference must be matched exactly)
// The CUDA parity pass adds Bits (bitwise), Ulp1 (within one ulp) and Abs1SameZeros (Abs1, and exactly the CPU's
// zeros: a dropout mask).
enum class Measure { Abs1, Rel, Elem, Bits, Ulp1, Abs1SameZeros };

template <class G>
void compare(Test& t, const std::string& what, const std::vector<G>& got, const VecD& ref, Measure how, double tol) {
    if (got.size() != ref.size()) {
        t.fail(format("%s: %zu elements, reference has %zu", what.c_str(), got.size(), ref.size()));
        return;
    }
    if (how == Measure::Bits) {
        std::vector<G> want(ref.begin(), ref.end());
        same_bits(t, what, got, want);
        return;
    }
    double scale = how == Measure::Rel ? 1e-30 : 1.0, worst = 0.0;
    size_t at = 0;
    for (double r : ref) scale = std::max(scale, std::fabs(r));
    for (size_t i = 0; i < got.size(); ++i) {
        if (std::isnan(ref[i]) && std::isnan((double)got[i])) continue;
        double d = std::fabs((double)got[i] - ref[i]);
        if (how == Measure::Elem) d = ref[i] != 0 ? d / std::fabs(ref[i]) : (d == 0 ? 0.0 : INFINITY);
        if (std::isnan(d)) {
            t.error(INFINITY);
            t.fail(format("%s: element %zu is %g, reference %.17g (unwritten or NaN)", what.c_str(), i,
                          (double)got[i], ref[i]));
            return;
        }
        if (d > worst) worst = d, at = i;
    }
    const double e = how == Measure::Elem ? worst : worst / scale;
    t.error(e);
    if (e > tol)
        t.fail(format("%s: rel err %.3g > %.1g at element %zu of %zu: got %.17g, reference %.17g", what.c_str(), e,
                      tol, at, got.size(), (double)got[at], ref[at]));
}
template <class G>
void close(Test& t, const std::string& what, const std::vector<G>& got, const VecD& ref, double tol) {
    compare(t, what, got, ref, Measure::Abs1, tol);
}
inline void close_rel(Test& t, const std::string& what, const VecD& got, const VecD& ref, double tol) {
    compare(t, what, got, ref, Measure::Elem, tol);
}

// A rejected call: status `want`, and a one-line message that names the op.
inline void expect_status(Test& t, const char* what, int rc, int want, const char* op) {
    const char* msg = qy_last_error();
    if (rc != want) {
        t.fail(format("%s: status %d, want %d (last error: %s)", what, rc, want, msg));
        return;
    }
    t.expect(std::strstr(msg, op) != nullptr, format("%s: message \"%s\" does not name %s", what, msg, op));
    t.expect(std::strchr(msg, '\n') == nullptr, format("%s: message \"%s\" is not one line", what, msg));
}

// ---- the CUDA parity pass -----------------------------------------------------------------------------------------
// A CPU test records its case (runner, inputs, CPU outputs); after all CPU tests, every case runs on CUDA twice
// (default stream, then a created one), each output against the CPU's by its Check and the second run bitwise
// against the first.

struct Check {
    Measure how;
    double tol;
};
struct ParityCase {
    std::string name;
    Runner run;
    Outs cpu;
    std::vector<Check> checks;  // one per output, or one for all
};
inline std::vector<ParityCase> g_parity;

// Runs on the CPU and records the case for the CUDA pass.
inline Outs cpu_case(const std::string& name, const Runner& run, std::vector<Check> checks) {
    Outs o = run_on(QY_DEV_CPU, nullptr, run);
    g_parity.push_back({name, run, o, std::move(checks)});
    return o;
}
inline Outs cpu_case(const std::string& name, const Runner& run, Check check) {
    return cpu_case(name, run, std::vector<Check>{check});
}
inline Outs cpu_case(const std::string& name, const Runner& run, double abs1_tol) {
    return cpu_case(name, run, Check{Measure::Abs1, abs1_tol});
}

template <class F>
void check_output(Test& t, const std::string& name, const std::vector<F>& gpu, const std::vector<F>& cpu, Check c) {
    switch (c.how) {
        case Measure::Bits: same_bits(t, name + " vs CPU", gpu, cpu); break;
        case Measure::Ulp1: within_ulps(t, name + " vs CPU", gpu, cpu, 1); break;
        case Measure::Abs1SameZeros: {
            compare(t, name + " vs CPU", gpu, VecD(cpu.begin(), cpu.end()), Measure::Abs1, c.tol);
            size_t wrong = 0;
            for (size_t i = 0; i < cpu.size() && i < gpu.size(); ++i) wrong += (cpu[i] == 0) != (gpu[i] == 0);
            t.expect(wrong == 0, format("%s: %zu elements where the CUDA zeros differ from the CPU's", name.c_str(),
                                        wrong));
            break;
        }
        default: compare(t, name + " vs CPU", gpu, VecD(cpu.begin(), cpu.end()), c.how, c.tol);
    }
}

inline void check_parity(Test& t, const ParityCase& c, void* stream) {
    const Outs first = run_on(QY_DEV_CUDA, nullptr, c.run);
    const Outs second = run_on(QY_DEV_CUDA, stream, c.run);
    if (first.size() != c.cpu.size() || second.size() != c.cpu.size()) {
        t.fail("the runner returned a different number of outputs on CUDA");
        return;
    }
    for (size_t k = 0; k < c.cpu.size(); ++k) {
        const Check check = c.checks.size() == 1 ? c.checks[0] : c.checks.at(k);
        const std::string& name = c.cpu[k].name;
        if (c.cpu[k].f64) {
            check_output(t, name, first[k].d, c.cpu[k].d, check);
            same_bits(t, name + " second run (created stream) vs first run", second[k].d, first[k].d);
        } else {
            check_output(t, name, first[k].v, c.cpu[k].v, check);
            same_bits(t, name + " second run (created stream) vs first run", second[k].v, first[k].v);
        }
    }
}

// Without a GPU: `without_gpu` (that CUDA calls fail cleanly) as one test, then one "cuda parity" SKIP, a FAIL under
// QUARRY_REQUIRE_GPU=1. With one: every recorded case, then `with_gpu`.
inline void run_cuda_pass(const std::function<void(Test&)>& without_gpu,
                          const std::function<void(void* stream)>& with_gpu = {}) {
    const char* require = std::getenv("QUARRY_REQUIRE_GPU");
    const bool require_gpu = require != nullptr && std::strcmp(require, "1") == 0;
    int count = 0;
    const int count_rc = qy_cuda_device_count(&count);
    if (count_rc != QY_OK || count <= 0) {
        const std::string why = format("skipped: no GPU (%s)", qy_last_error());
        run_test("cuda: a missing GPU is QY_ERR_NO_DEVICE", [&](Test& t) {
            t.expect(count_rc == QY_ERR_NO_DEVICE && count == 0,
                     format("qy_cuda_device_count: status %d count %d, want %d and 0", count_rc, count,
                            QY_ERR_NO_DEVICE));
            if (without_gpu) without_gpu(t);
        });
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
    const int rc = qy_stream_create(QY_DEV_CUDA, &stream);
    if (rc != QY_OK) {
        const std::string err = qy_last_error();
        run_test("cuda stream", [&](Test& t) { t.fail(format("qy_stream_create returned %d: %s", rc, err.c_str())); });
        return;
    }
    for (const ParityCase& c : g_parity) run_test("cuda " + c.name, [&](Test& t) { check_parity(t, c, stream); });
    if (with_gpu) with_gpu(stream);
    run_test("cuda stream destroy", [&](Test& t) {
        const int d = qy_stream_destroy(QY_DEV_CUDA, stream);
        t.expect(d == QY_OK, format("qy_stream_destroy returned %d: %s", d, qy_last_error()));
    });
}

// ---- a test program's frame -------------------------------------------------------------------------------------

inline std::chrono::steady_clock::time_point g_start;

inline void begin_program(uint32_t input_seed) {
    g_start = std::chrono::steady_clock::now();
    seed_inputs(input_seed);
    std::printf("quarry %s, %d CPU thread(s), CUDA %s\n", qy_version(), qy_cpu_threads(),
                qy_cuda_compiled() ? "compiled in" : "not compiled in");
}

// The tally line and the exit status.
inline int end_program() {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - g_start).count();
    std::printf("%d passed, %d failed, %d skipped in %.1f s\n", g_tally.pass, g_tally.fail, g_tally.skip, s);
    return g_tally.fail > 0 ? 1 : 0;
}

}  // namespace qy_test


#endif
