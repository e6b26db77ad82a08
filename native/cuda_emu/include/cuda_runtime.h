// Quarry's CUDA emulator: the <cuda_runtime.h> that native/cuda/*.cu see when they are compiled as host C++
// (CMake target quarry_cuda_emu). The kernels' own source runs unmodified; only launches are written as
// QY_LAUNCH(grid, block, smem, stream, kernel)(args...) and inline PTX goes through native/cuda/ptx.cuh.
//
// Execution model (native/cuda_emu/emu.cpp has the scheduler):
// - A launch runs its blocks one after another on the calling thread; within a block every CUDA thread is a
//   fiber with its own stack. A fiber runs until it finishes or reaches a block barrier or a warp collective;
//   then the next fiber runs (thread order x, then y, then z). Barriers release when every thread of the block is
//   waiting at one, warp collectives when every lane of the mask has arrived.
// - Misuse fails loudly instead of hanging: a barrier that some threads never reach (they exited, or wait at a
//   different __syncthreads), a warp collective whose mask omits the caller or names an exited lane, lanes that
//   meet with different masks or different collectives, a shuffle reading a lane outside its mask. The launch
//   then reports cudaErrorLaunchFailure (printed with kernel, block, thread and source line) and the op fails.
// - __shared__ variables are per block (function-local statics, reused block after block); dynamic shared memory
//   is a fresh buffer per block filled with 0xff bytes (NaN as floats), so reads of unwritten slots show.
// - Device memory is host memory with a NaN-filled margin past each allocation (a read past the end yields NaN);
//   cudaMemcpy checks that both ranges lie inside known allocations.
// What it verifies: indices, bounds logic, barrier placement, warp-collective lanes, fragment layouts, RNG
// counters, determinism. What only a GPU can: timing, and races that this fixed run-to-block schedule never
// produces (e.g. two blocks writing one address, or memory ordering without fences).
#ifndef QY_CUDA_EMU_RUNTIME_H
#define QY_CUDA_EMU_RUNTIME_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>

#define QY_CUDA_EMU 1

// ---- qualifiers ---------------------------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
// One copy per block: blocks of a launch run one at a time on one host thread, so a function-local static is the
// block's shared memory (thread_local keeps launches from different host threads apart).
#define __shared__ static thread_local
#define __constant__ static

// ---- vector types ---------------------------------------------------------------------------------------------------
struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned vx = 1, unsigned vy = 1, unsigned vz = 1) : x(vx), y(vy), z(vz) {}
};
struct __attribute__((aligned(16))) float4 {
    float x, y, z, w;
};
struct __attribute__((aligned(8))) float2 {
    float x, y;
};
struct __attribute__((aligned(16))) double2 {
    double x, y;
};
struct __attribute__((aligned(16))) int4 {
    int x, y, z, w;
};
struct __attribute__((aligned(16))) uint4 {
    unsigned x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline double2 make_double2(double x, double y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

constexpr int warpSize = 32;

// ---- runtime types ----------------------------------------------------------------------------------------------
enum cudaError_t {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorMemoryAllocation = 2,
    cudaErrorInsufficientDriver = 35,
    cudaErrorNoDevice = 100,
    cudaErrorInvalidDevicePointer = 17,
    cudaErrorInvalidConfiguration = 9,
    cudaErrorLaunchFailure = 719,
    cudaErrorNotSupported = 801,
};
typedef cudaError_t cudaError;
struct CUstream_st;
typedef CUstream_st* cudaStream_t;
enum cudaMemcpyKind {
    cudaMemcpyHostToHost = 0,
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
};
enum cudaDeviceAttr { cudaDevAttrMaxSharedMemoryPerBlock = 8, cudaDevAttrMultiProcessorCount = 16,
                      cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
constexpr unsigned cudaStreamDefault = 0, cudaStreamNonBlocking = 1;

struct cudaDeviceProp {
    char name[256];
    size_t totalGlobalMem;
    size_t sharedMemPerBlock;
    size_t sharedMemPerBlockOptin;
    int major, minor;
    int multiProcessorCount;
    int maxThreadsPerBlock;
    int warpSize;
};

// ---- runtime API (emu.cpp) --------------------------------------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceGetAttribute(int* value, cudaDeviceAttr attr, int device);
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorString(cudaError_t err);
const char* cudaGetErrorName(cudaError_t err);
cudaError_t cudaMalloc(void** ptr, size_t bytes);
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMallocAsync(void** ptr, size_t bytes, cudaStream_t stream);
cudaError_t cudaFreeAsync(void* ptr, cudaStream_t stream);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* dst, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, size_t bytes, cudaStream_t stream = nullptr);
cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaDeviceSynchronize();

namespace qy_emu {
// Largest dynamic shared memory a kernel may ask for (what cudaDevAttrMaxSharedMemoryPerBlockOptin reports) and the
// default without cudaFuncSetAttribute.
constexpr size_t kSmemOptin = 227 * 1024, kSmemDefault = 48 * 1024;
cudaError_t set_max_dynamic_smem(const void* key, int bytes);
}  // namespace qy_emu

template <class F>
cudaError_t cudaFuncSetAttribute(F* func, cudaFuncAttribute attr, int value) {
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaErrorInvalidValue;
    return qy_emu::set_max_dynamic_smem(reinterpret_cast<const void*>(func), value);
}

// ---- the running CUDA thread ------------------------------------------------------------------------------------
namespace qy_emu {

struct ThreadState {
    uint3 thread_idx;
    int linear;  // x + y bx + z bx by: warp = linear / 32, lane = linear % 32
};
// The block being run on this host thread and the fiber running in it.
struct BlockState {
    uint3 block_idx;
    dim3 block_dim, grid_dim;
    unsigned char* dyn_smem;
};
extern thread_local const ThreadState* tls_thread;
extern thread_local BlockState tls_block;

// Collectives (emu.cpp). `site` is "file:line" of the call.
void sync_block(const char* file, int line);
// Warp collective: each lane gives `in` (up to 8 64-bit words) and receives `out`. kind names the operation
// (lanes that meet must name the same one); param is per lane (shuffle source, xor mask, delta, ...); width is the
// shuffle segment.
enum class WarpOp { Sync, ShflIdx, ShflXor, ShflDown, ShflUp, Ballot, Any, All, MmaF64, MmaBf16, MmaTf32, LdMatrix };
void warp_collective(WarpOp op, unsigned mask, const uint64_t* in, int words, int param, int width, uint64_t* out,
                     const char* file, int line);
// mma.sync.aligned.m8n8k4.row.col.f64 for the calling lane (all 32 lanes of the warp must call it).
void mma_m8n8k4_f64(double& d0, double& d1, double a, double b, const char* file, int line);
// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 and m16n8k8 ... .f32.tf32.tf32.f32: d = a b + d, fragments as
// the PTX ISA lays them out (a: 4 registers, b: 2, d: 4 floats per lane).
void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const char* file, int line);
void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], const char* file, int line);
// ldmatrix.sync.aligned.m8n8.x{count}{.trans}.shared.b16: lane l gives the address of row l % 8 of matrix l / 8.
void ldmatrix(uint32_t* r, int count, bool trans, const void* row_address, const char* file, int line);
// cp.async: the copy is deferred until a cp.async.wait_group that needs it (or the thread's exit, where it is
// dropped), so a kernel that reads the destination too early sees the old bytes, as it might on a GPU.
void cp_async(void* smem, const void* gmem, int bytes, int src_bytes, const char* file, int line);
void cp_async_commit();
void cp_async_wait(int pending_allowed);
// Stops the current launch with a message (a fault the emulator detected inside a kernel).
[[noreturn]] void fault(const char* file, int line, const char* fmt, ...);

template <class T>
inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of a type wider than 64 bits");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof(T));
    return b;
}
template <class T>
inline T from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof(T));
    return v;
}
// cvt.rna.tf32.f32: round to 10 mantissa bits, ties away from zero; the result is a float with zero low bits.
inline uint32_t cvt_tf32(float x) {
    uint32_t u = to_bits(x) & 0xffffffffu;
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;  // finite: round, carry into exponent
    return u;
}
template <class T>
inline T shuffle(WarpOp op, unsigned mask, T v, int param, const char* file, int line, int width = 32) {
    uint64_t in = to_bits(v), out = 0;
    warp_collective(op, mask, &in, 1, param, width, &out, file, line);
    return from_bits<T>(out);
}
inline void syncwarp(const char* file, int line, unsigned mask = 0xffffffffu) {
    warp_collective(WarpOp::Sync, mask, nullptr, 0, 0, 32, nullptr, file, line);
}
inline unsigned vote(WarpOp op, unsigned mask, int pred, const char* file, int line) {
    uint64_t in = pred != 0, out = 0;
    warp_collective(op, mask, &in, 1, 0, 32, &out, file, line);
    return (unsigned)out;
}

}  // namespace qy_emu

#define threadIdx (::qy_emu::tls_thread->thread_idx)
#define blockIdx (::qy_emu::tls_block.block_idx)
#define blockDim (::qy_emu::tls_block.block_dim)
#define gridDim (::qy_emu::tls_block.grid_dim)

#define __syncthreads() ::qy_emu::sync_block(__FILE__, __LINE__)
#define __syncwarp(...) ::qy_emu::syncwarp(__FILE__, __LINE__, ##__VA_ARGS__)
#define __shfl_sync(mask, v, src, ...) \
    ::qy_emu::shuffle(::qy_emu::WarpOp::ShflIdx, mask, v, src, __FILE__, __LINE__, ##__VA_ARGS__)
#define __shfl_xor_sync(mask, v, lanemask, ...) \
    ::qy_emu::shuffle(::qy_emu::WarpOp::ShflXor, mask, v, lanemask, __FILE__, __LINE__, ##__VA_ARGS__)
#define __shfl_down_sync(mask, v, delta, ...) \
    ::qy_emu::shuffle(::qy_emu::WarpOp::ShflDown, mask, v, delta, __FILE__, __LINE__, ##__VA_ARGS__)
#define __shfl_up_sync(mask, v, delta, ...) \
    ::qy_emu::shuffle(::qy_emu::WarpOp::ShflUp, mask, v, delta, __FILE__, __LINE__, ##__VA_ARGS__)
#define __ballot_sync(mask, pred) ::qy_emu::vote(::qy_emu::WarpOp::Ballot, mask, pred, __FILE__, __LINE__)
#define __any_sync(mask, pred) (::qy_emu::vote(::qy_emu::WarpOp::Any, mask, pred, __FILE__, __LINE__) != 0)
#define __all_sync(mask, pred) (::qy_emu::vote(::qy_emu::WarpOp::All, mask, pred, __FILE__, __LINE__) != 0)

// ---- launches ------------------------------------------------------------------------------------------------------
namespace qy_emu {

using ThreadBody = void (*)(void* launch);
// Runs the grid: body(launch) once per CUDA thread, with tls_thread/tls_block set. Returns the launch status.
cudaError_t run_grid(const char* kernel, dim3 grid, dim3 block, size_t smem, ThreadBody body, void* launch);

inline dim3 as_dim3(dim3 d) { return d; }
inline dim3 as_dim3(unsigned v) { return dim3(v); }
inline dim3 as_dim3(int v) { return dim3((unsigned)v); }
inline dim3 as_dim3(int64_t v) { return dim3((unsigned)v); }

template <class Fn>
class Launch {
   public:
    template <class G, class B>
    Launch(G grid, B block, size_t smem, cudaStream_t, const char* name, Fn fn)
        : grid_(as_dim3(grid)), block_(as_dim3(block)), smem_(smem), name_(name), fn_(fn) {}
    // The arguments are copied once, as a launch copies them into parameter memory; every thread gets its own
    // copy of each parameter (kernels may modify their parameters).
    template <class... Args>
    void operator()(Args... args) {
        struct Frame {
            Fn fn;
            std::tuple<Args...> args;
        } frame{fn_, std::tuple<Args...>(args...)};
        ThreadBody body = [](void* p) {
            Frame& f = *static_cast<Frame*>(p);
            std::apply([&](Args... a) { f.fn(a...); }, f.args);
        };
        (void)run_grid(name_, grid_, block_, smem_, body, &frame);
    }

   private:
    dim3 grid_, block_;
    size_t smem_;
    const char* name_;
    Fn fn_;
};
template <class G, class B, class Fn>
Launch<Fn> make_launch(G grid, B block, size_t smem, cudaStream_t stream, const char* name, Fn fn) {
    return Launch<Fn>(grid, block, smem, stream, name, fn);
}

template <class T>
T* dynamic_shared() {
    return reinterpret_cast<T*>(tls_block.dyn_smem);
}

}  // namespace qy_emu

#define QY_LAUNCH(grid, block, smem, stream, ...)                                     \
    ::qy_emu::make_launch(grid, block, smem, stream, #__VA_ARGS__,                    \
                          [](auto... qy_emu_args_) { __VA_ARGS__(qy_emu_args_...); })
#define QY_DYNAMIC_SHARED(type, name) type* const name = ::qy_emu::dynamic_shared<type>()

// ---- device intrinsics ------------------------------------------------------------------------------------------
// Round-to-nearest arithmetic: the emulated build is compiled with -ffp-contract=off, so these are exactly the
// named IEEE operations.
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float rsqrtf(float a) { return 1.0f / std::sqrt(a); }
inline double rsqrt(double a) { return 1.0 / std::sqrt(a); }
inline float __expf(float a) { return std::exp(a); }
inline float __logf(float a) { return std::log(a); }
inline float __saturatef(float a) { return a < 0.0f ? 0.0f : (a > 1.0f ? 1.0f : a); }
inline unsigned __float_as_uint(float f) { return qy_emu::from_bits<unsigned>(qy_emu::to_bits(f)); }
inline float __uint_as_float(unsigned u) { return qy_emu::from_bits<float>(qy_emu::to_bits(u)); }
inline int __float_as_int(float f) { return qy_emu::from_bits<int>(qy_emu::to_bits(f)); }
inline float __int_as_float(int u) { return qy_emu::from_bits<float>(qy_emu::to_bits(u)); }
inline long long __double_as_longlong(double d) { return qy_emu::from_bits<long long>(qy_emu::to_bits(d)); }
inline double __longlong_as_double(long long v) { return qy_emu::from_bits<double>(qy_emu::to_bits(v)); }
inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
    return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __popcll(unsigned long long v) { return __builtin_popcountll(v); }
inline int __clz(unsigned v) { return v ? __builtin_clz(v) : 32; }
inline int __ffs(unsigned v) { return __builtin_ffs((int)v); }
inline unsigned __brev(unsigned v) {
    unsigned r = 0;
    for (int i = 0; i < 32; ++i) r |= ((v >> i) & 1u) << (31 - i);
    return r;
}
template <class T>
inline T __ldg(const T* p) {
    return *p;
}
template <class A, class B>
inline std::common_type_t<A, B> min(A a, B b) {
    using C = std::common_type_t<A, B>;
    return (C)b < (C)a ? (C)b : (C)a;
}
template <class A, class B>
inline std::common_type_t<A, B> max(A a, B b) {
    using C = std::common_type_t<A, B>;
    return (C)a < (C)b ? (C)b : (C)a;
}
using std::fmaf;

// Atomics: blocks run one at a time, but the read-modify-write is still done atomically so that host threads
// launching on different streams cannot interleave one.
template <class T>
inline T atomicAdd(T* p, T v) {
    if constexpr (std::is_integral<T>::value) {
        return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
    } else {
        T old, desired;
        __atomic_load(p, &old, __ATOMIC_SEQ_CST);
        do {
            desired = old + v;
        } while (!__atomic_compare_exchange(p, &old, &desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST));
        return old;
    }
}
template <class T>
inline T atomicMax(T* p, T v) {
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (old < v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
template <class T>
inline T atomicMin(T* p, T v) {
    T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
    while (v < old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
    return old;
}
template <class T>
inline T atomicExch(T* p, T v) {
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}
template <class T>
inline T atomicCAS(T* p, T expected, T desired) {
    __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#endif
