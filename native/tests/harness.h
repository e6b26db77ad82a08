// The test programs' shared harness (test_ops, test_contrastive, test_ssl): named checks with a worst error, a
// PASS/FAIL/SKIP line each, a tally for the exit status, and QY() to turn a status into an exception.
#ifndef QUARRY_TEST_HARNESS_H
#define QUARRY_TEST_HARNESS_H

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

#include "quarry.h"

namespace qy_test {

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

inline void run_test(const std::string& name, const std::function<void(Test&)>& body) {
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

}  // namespace qy_test

#define QY(fn, ...) qy_test::ok(fn(__VA_ARGS__), #fn)

#endif
