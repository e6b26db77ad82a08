// The PTX building blocks of native/cuda/ptx.cuh (bf16 and tf32 mma.sync, ldmatrix, cp.async) against float64
// host references. The same source runs on a GPU (nvcc: test_ptx) and under the CUDA emulator (test_ptx_cuda_emu),
// so a misread fragment layout shows on the first GPU run even where the emulator shares the misreading.
//   test_ptx            SKIP without a GPU (QUARRY_REQUIRE_GPU=1 makes that a failure)
//   test_ptx_cuda_emu   always runs
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>

#include "common.cuh"
#include "harness.h"
#include "ptx.cuh"

using namespace qy_test;

namespace {

VecD random_vec(size_t n) { return to_d(uniform(n)); }

float bf16_round(float x) { return __bfloat162float(__float2bfloat16(x)); }
uint16_t bf16_bits(float x) {
    __nv_bfloat16 b = __float2bfloat16(x);
    uint16_t u;
    std::memcpy(&u, &b, 2);
    return u;
}
float tf32_round(float x) {
    uint32_t u;
    std::memcpy(&u, &x, 4);
    u = (u + 0x1000u) & 0xffffe000u;  // finite inputs only here
    float r;
    std::memcpy(&r, &u, 4);
    return r;
}

// Device buffers freed at scope exit; a failed CUDA call throws with its message.
struct Dev {
    std::vector<void*> ptrs;
    ~Dev() {
        for (void* p : ptrs) cudaFree(p);
    }
    template <class T>
    T* up(const std::vector<T>& v) {
        void* p = nullptr;
        check(cudaMalloc(&p, v.size() * sizeof(T)), "cudaMalloc");
        ptrs.push_back(p);
        check(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy");
        return static_cast<T*>(p);
    }
    template <class T>
    std::vector<T> down(const T* p, size_t n) {
        std::vector<T> v(n);
        check(cudaMemcpy(v.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy");
        return v;
    }
    static void check(cudaError_t e, const char* what) {
        if (e != cudaSuccess) throw std::runtime_error(format("%s: %s", what, cudaGetErrorString(e)));
    }
};

void launched(const char* kernel) {
    Dev::check(cudaGetLastError(), kernel);
    Dev::check(cudaDeviceSynchronize(), kernel);
}

// max |got - want| / max(1, max |want|)
void compare(Test& t, const char* what, const std::vector<float>& got, const VecD& want, double tol) {
    double worst = 0, scale = 1;
    for (double w : want) scale = std::max(scale, std::fabs(w));
    for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::isnan(got[i]) ? INFINITY : std::fabs(got[i] - want[i]));
    t.error(worst / scale);
    t.expect(worst / scale <= tol, format("%s: error %.3g > %.1g", what, worst / scale, tol));
}

// The 16x8 f32 accumulator fragment of both mma shapes (row-major c and d): lane holds rows g and g+8, columns 2t
// and 2t+1, with g = lane / 4, t = lane % 4.
__device__ void load_c(const float* c, float (&acc)[4]) {
    const int g = threadIdx.x / 4, t = threadIdx.x % 4;
    for (int i = 0; i < 4; ++i) acc[i] = c[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2];
}
__device__ void store_d(const float (&acc)[4], float* d) {
    const int g = threadIdx.x / 4, t = threadIdx.x % 4;
    for (int i = 0; i < 4; ++i) d[(g + 8 * (i / 2)) * 8 + 2 * t + i % 2] = acc[i];
}

// ---- mma.m16n8k16 bf16, fragments loaded straight from global memory by the documented layout ---------------------
// a: 16x16 row-major, b: 16x8 stored [k][n], c/d: 16x8 row-major, all bf16 values held as float.
__global__ void mma_bf16_kernel(const float* a, const float* b, const float* c, float* d) {
    const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
    auto pack = [](float lo, float hi) {
        const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
        uint32_t u;
        memcpy(&u, &v, 4);
        return u;
    };
    const uint32_t af[4] = {pack(a[g * 16 + 2 * t], a[g * 16 + 2 * t + 1]),
                            pack(a[(g + 8) * 16 + 2 * t], a[(g + 8) * 16 + 2 * t + 1]),
                            pack(a[g * 16 + 2 * t + 8], a[g * 16 + 2 * t + 9]),
                            pack(a[(g + 8) * 16 + 2 * t + 8], a[(g + 8) * 16 + 2 * t + 9])};
    const uint32_t bf[2] = {pack(b[(2 * t) * 8 + g], b[(2 * t + 1) * 8 + g]),
                            pack(b[(2 * t + 8) * 8 + g], b[(2 * t + 9) * 8 + g])};
    float acc[4];
    load_c(c, acc);
    qy::ptx::mma_m16n8k16_bf16(acc, af, bf);
    store_d(acc, d);
}

// d = c + a b in float64 over an m x k by k x n product (row-major a [m][k], b [k][n], c [m][n]).
VecD gemm_ref(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& c, int m, int n,
              int k) {
    VecD d(m * n);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double s = c.empty() ? 0.0 : c[i * n + j];
            for (int q = 0; q < k; ++q) s += (double)a[i * k + q] * b[q * n + j];
            d[i * n + j] = s;
        }
    return d;
}

std::vector<float> rounded(const VecD& v, float (*round)(float)) {
    std::vector<float> r(v.size());
    for (size_t i = 0; i < v.size(); ++i) r[i] = round((float)v[i]);
    return r;
}

void test_mma_bf16(Test& t) {
    const std::vector<float> a = rounded(random_vec(256), bf16_round), b = rounded(random_vec(128), bf16_round),
                             c = rounded(random_vec(128), [](float x) { return x; });
    Dev dev;
    float* d = dev.up(std::vector<float>(128, NAN));
    QY_LAUNCH(1, 32, 0, nullptr, mma_bf16_kernel)(dev.up(a), dev.up(b), dev.up(c), d);
    launched("mma_bf16_kernel");
    compare(t, "d vs float64", dev.down(d, 128), gemm_ref(a, b, c, 16, 8, 16), 1e-5);
}

// ---- mma.m16n8k8 tf32 ---------------------------------------------------------------------------------------------
// a: 16x8 row-major, b: 8x8 stored [k][n], c/d: 16x8.
__global__ void mma_tf32_kernel(const float* a, const float* b, const float* c, float* d) {
    const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
    using qy::ptx::cvt_tf32;
    const uint32_t af[4] = {cvt_tf32(a[g * 8 + t]), cvt_tf32(a[(g + 8) * 8 + t]), cvt_tf32(a[g * 8 + t + 4]),
                            cvt_tf32(a[(g + 8) * 8 + t + 4])};
    const uint32_t bf[2] = {cvt_tf32(b[t * 8 + g]), cvt_tf32(b[(t + 4) * 8 + g])};
    float acc[4];
    load_c(c, acc);
    qy::ptx::mma_m16n8k8_tf32(acc, af, bf);
    store_d(acc, d);
}

void test_mma_tf32(Test& t) {
    const VecD a64 = random_vec(128), b64 = random_vec(64), c64 = random_vec(128);
    const auto id = [](float x) { return x; };
    const std::vector<float> a = rounded(a64, id), b = rounded(b64, id), c = rounded(c64, id);
    Dev dev;
    float* d = dev.up(std::vector<float>(128, NAN));
    QY_LAUNCH(1, 32, 0, nullptr, mma_tf32_kernel)(dev.up(a), dev.up(b), dev.up(c), d);
    launched("mma_tf32_kernel");
    // The reference multiplies the tf32-rounded operands; unrounded ones would differ by ~1e-3.
    compare(t, "d vs float64 of tf32 operands", dev.down(d, 128),
            gemm_ref(rounded(a64, tf32_round), rounded(b64, tf32_round), c, 16, 8, 8), 1e-5);
}

// ---- ldmatrix feeding the bf16 mma: D (16x16) = A (16x16) B (16x16), both row-major bf16 in shared memory --------
__global__ void ldmatrix_gemm_kernel(const uint16_t* a, const uint16_t* b, float* d) {
    __shared__ __align__(16) uint16_t as[16][16 + 8];  // +8: rows 16-byte aligned, as ldmatrix needs
    __shared__ __align__(16) uint16_t bs[16][16 + 8];
    const int lane = threadIdx.x, g = lane / 4, t = lane % 4;
    for (int i = lane; i < 256; i += 32) {
        as[i / 16][i % 16] = a[i];
        bs[i / 16][i % 16] = b[i];
    }
    __syncwarp();
    uint32_t af[4], bt[4];
    // A: matrices (rows 0-7, cols 0-7), (8-15, 0-7), (0-7, 8-15), (8-15, 8-15) are a0..a3.
    qy::ptx::ldmatrix_x4<false>(af, &as[lane % 16][(lane / 16) * 8]);
    // B [k][n], transposed: matrices (k 0-7, n 0-7), (k 8-15, n 0-7), (k 0-7, n 8-15), (k 8-15, n 8-15) are b0, b1
    // of n-tile 0, then b0, b1 of n-tile 1.
    qy::ptx::ldmatrix_x4<true>(bt, &bs[(lane % 8) + 8 * ((lane / 8) % 2)][8 * (lane / 16)]);
    for (int nt = 0; nt < 2; ++nt) {
        float acc[4] = {0, 0, 0, 0};
        const uint32_t bf[2] = {bt[2 * nt], bt[2 * nt + 1]};
        qy::ptx::mma_m16n8k16_bf16(acc, af, bf);
        const int col = nt * 8 + 2 * t;
        d[g * 16 + col] = acc[0];
        d[g * 16 + col + 1] = acc[1];
        d[(g + 8) * 16 + col] = acc[2];
        d[(g + 8) * 16 + col + 1] = acc[3];
    }
}

void test_ldmatrix_gemm(Test& t) {
    const std::vector<float> a = rounded(random_vec(256), bf16_round), b = rounded(random_vec(256), bf16_round);
    std::vector<uint16_t> ab(256), bb(256);
    for (int i = 0; i < 256; ++i) {
        ab[i] = bf16_bits(a[i]);
        bb[i] = bf16_bits(b[i]);
    }
    Dev dev;
    float* d = dev.up(std::vector<float>(256, NAN));
    QY_LAUNCH(1, 32, 0, nullptr, ldmatrix_gemm_kernel)(dev.up(ab), dev.up(bb), d);
    launched("ldmatrix_gemm_kernel");
    compare(t, "d vs float64", dev.down(d, 256), gemm_ref(a, b, {}, 16, 16, 16), 1e-5);
}

// ---- cp.async: two committed groups of 16-byte copies with zero-filled tails, waited in order -------------------
// Copies n floats (n <= 256) into shared memory in 16-byte pieces (the piece holding element n is zero-filled past
// it), then writes shared memory back: out[0..256) = src[0..n) followed by zeros.
__global__ void cp_async_kernel(const float* src, int n, float* out, int* early) {
    __shared__ __align__(16) float s[256];
    const int t = threadIdx.x;  // 64 threads, one 16-byte piece each
    for (int i = t; i < 256; i += 64) s[i] = -1.0f;
    __syncthreads();
    const int first = 4 * t, valid = max(0, min(4, n - first));
    // First group: pieces 0-31 (threads 0-31), second: pieces 32-63.
    if (t < 32) qy::ptx::cp_async_16(&s[first], src + first, valid * 4);
    qy::ptx::cp_async_commit();
    if (t >= 32) qy::ptx::cp_async_16(&s[first], src + first, valid * 4);
    qy::ptx::cp_async_commit();
    qy::ptx::cp_async_wait<1>();  // this thread's first group is complete
    if (t < 32) early[t] = s[first] == (valid > 0 ? src[first] : 0.0f);
    qy::ptx::cp_async_wait<0>();
    __syncthreads();
    for (int i = t; i < 256; i += 64) out[i] = s[i];
}

void test_cp_async(Test& t, int n) {
    const std::vector<float> src = rounded(random_vec(256), [](float x) { return x; });
    Dev dev;
    float* out = dev.up(std::vector<float>(256, NAN));
    int* early = dev.up(std::vector<int>(32, -1));
    QY_LAUNCH(1, 64, 0, nullptr, cp_async_kernel)(dev.up(src), n, out, early);
    launched("cp_async_kernel");
    const std::vector<float> got = dev.down(out, 256);
    size_t wrong = 0;
    for (int i = 0; i < 256; ++i) wrong += got[i] != (i < n ? src[i] : 0.0f);
    t.expect(wrong == 0, format("%zu of 256 elements wrong after cp.async (n = %d)", wrong, n));
    const std::vector<int> e = dev.down(early, 32);
    int missing = 0;
    for (int v : e) missing += v != 1;
    t.expect(missing == 0, format("%d threads did not see their first group after cp.async.wait_group 1", missing));
}

}  // namespace

int main() {
    seed_inputs(0x5eed0f7au);
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    const char* require = std::getenv("QUARRY_REQUIRE_GPU");
    if (err != cudaSuccess || count == 0) {
        (void)cudaGetLastError();
        const bool required = require != nullptr && std::strcmp(require, "1") == 0;
        std::printf("%s test_ptx: no CUDA device (%s)\n", required ? "FAIL" : "SKIP", cudaGetErrorString(err));
        return required ? 1 : 0;
    }
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) std::printf("device: %s (cc %d.%d)\n", prop.name, prop.major, prop.minor);
    run_test("mma.m16n8k16 bf16 fragments from global memory", test_mma_bf16);
    run_test("mma.m16n8k8 tf32 with cvt.rna.tf32", test_mma_tf32);
    run_test("ldmatrix.x4 (+ .trans) feeding mma.m16n8k16: 16x16x16 GEMM", test_ldmatrix_gemm);
    for (int n : {256, 250, 129, 1, 0})
        run_test(format("cp.async 16-byte pieces, zero-filled tail, two groups, n=%d", n),
                 [&](Test& t) { test_cp_async(t, n); });
    std::printf("%d passed, %d failed, %d skipped\n", g_tally.pass, g_tally.fail, g_tally.skip);
    return g_tally.fail == 0 ? 0 : 1;
}
