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
#include <limits>
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

}  // namespace qy_test


#endif
