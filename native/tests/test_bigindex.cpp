// Index arithmetic past 2^31 elements: CUDA ops that take an int64_t length must address element 2^31 + i
// correctly. On a GPU (test_bigindex) the whole grid runs over 2^31 + 5 elements (about 32 GiB of device memory in
// all); under the emulator (test_bigindex_cuda_emu, QY_CUDA_EMU_BLOCKS=0) only block 0 of each launch runs, over
// lazily mapped memory, and block 0 is the one whose grid-stride loop reaches elements 2^31 .. 2^31 + 4. Either way
// the checks read only elements 0..4 and 2^31..2^31+4. Without a GPU: SKIP (a FAIL under QUARRY_REQUIRE_GPU=1).
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "harness.h"

using namespace qy_test;

namespace {

constexpr int64_t kN = (int64_t{1} << 31) + 5;
constexpr int64_t kHigh = int64_t{1} << 31;

// Device buffers of n elements, freed at scope exit.
struct Big {
    std::vector<void*> ptrs;
    ~Big() {
        for (void* p : ptrs) qy_free(QY_DEV_CUDA, p);
    }
    template <class T>
    T* alloc(int64_t n) {
        void* p = nullptr;
        QY(qy_malloc, QY_DEV_CUDA, n * (int64_t)sizeof(T), &p);
        ptrs.push_back(p);
        return static_cast<T*>(p);
    }
};

// Elements [at, at + 5) of a device array.
template <class T>
std::vector<T> slice(const T* p, int64_t at) {
    std::vector<T> v(5);
    QY(qy_download, QY_DEV_CUDA, nullptr, v.data(), p + at, (int64_t)(5 * sizeof(T)));
    return v;
}

template <class T>
void expect_all(Test& t, const char* what, const T* p, double want) {
    for (int64_t at : {int64_t{0}, kHigh}) {
        const std::vector<T> v = slice(p, at);
        for (int i = 0; i < 5; ++i)
            t.expect(v[i] == (T)want, format("%s: element %lld is %.9g, want %.9g", what, (long long)(at + i),
                                              (double)v[i], want));
    }
}

void test_elementwise(Test& t) {
    Big big;
    float* x = big.alloc<float>(kN);
    float* y = big.alloc<float>(kN);
    QY(qy_fill, QY_DEV_CUDA, nullptr, x, kN, 2.5f);
    expect_all(t, "fill", x, 2.5);
    QY(qy_relu_fwd, QY_DEV_CUDA, nullptr, x, y, kN);
    expect_all(t, "relu_fwd", y, 2.5);
    QY(qy_axpy, QY_DEV_CUDA, nullptr, 0.5f, x, y, kN);
    expect_all(t, "axpy", y, 3.75);
}

void test_logp_to_probs(Test& t) {
    Big big;
    float* logp = big.alloc<float>(kN);
    double* probs = big.alloc<double>(kN);
    QY(qy_fill, QY_DEV_CUDA, nullptr, logp, kN, -0.5f);
    QY(qy_logp_to_probs, QY_DEV_CUDA, nullptr, logp, QY_F32, kN, probs);
    for (int64_t at : {int64_t{0}, kHigh}) {
        const std::vector<double> v = slice(probs, at);
        for (int i = 0; i < 5; ++i)
            t.expect(std::fabs(v[i] - std::exp(-0.5)) <= 1e-15,
                     format("logp_to_probs: element %lld is %.17g, want exp(-0.5)", (long long)(at + i), v[i]));
    }
}

}  // namespace

int main() {
    begin_program(1);
    int count = 0;
    if (qy_cuda_device_count(&count) != QY_OK || count == 0) {
        const char* require = std::getenv("QUARRY_REQUIRE_GPU");
        const bool required = require != nullptr && std::strcmp(require, "1") == 0;
        run_test("index arithmetic past 2^31", [&](Test& t) {
            if (required)
                t.fail("no GPU, and QUARRY_REQUIRE_GPU=1");
            else
                t.skip("no GPU");
        });
        return end_program();
    }
    run_test("cuda fill, relu_fwd, axpy over 2^31 + 5 elements", test_elementwise);
    run_test("cuda logp_to_probs over 2^31 + 5 elements", test_logp_to_probs);
    return end_program();
}
