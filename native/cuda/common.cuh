// Shared pieces of the CUDA backend: error checks, grid sizing, stream-ordered scratch buffers, the 64x64 tiled
// GEMM main loop behind conv.cu and linear.cu, and deterministic reductions (column sums, split-K sums).
// Deterministic means no float atomics and a work split that depends only on the shapes and the device, so
// repeated runs on one GPU give bit-identical results.
#ifndef QUARRY_CUDA_COMMON_CUH
#define QUARRY_CUDA_COMMON_CUH

#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>

#include "backend.h"

// Kernel launches and dynamic shared memory are written through these two macros so that the same source also
// builds as host C++ under the CUDA emulator (native/cuda_emu), which defines them itself:
//   QY_LAUNCH(grid, block, smem, stream, kernel)(args...)   is   kernel<<<grid, block, smem, stream>>>(args...)
//   QY_DYNAMIC_SHARED(T, name);                             is   extern __shared__ __align__(16) T name[];
#ifndef QY_CUDA_EMU
#define QY_LAUNCH(grid, block, smem, stream, ...) __VA_ARGS__<<<grid, block, smem, stream>>>
#define QY_DYNAMIC_SHARED(type, name) extern __shared__ __align__(16) type name[]
#endif

// Runs a CUDA runtime call; on failure returns QY_ERR_CUDA with "<function> (<file>:<line>): <CUDA message>".
#define QY_CUDA_CHECK(call)                                                                              \
    do {                                                                                                 \
        cudaError_t qy_err_ = (call);                                                                    \
        if (qy_err_ != cudaSuccess) return ::qy::cu::cuda_error(__func__, __FILE__, __LINE__, qy_err_); \
    } while (0)

// After a kernel launch: returns QY_ERR_CUDA naming the op if the launch failed.
#define QY_LAUNCH_CHECK(op)                                                  \
    do {                                                                     \
        if (int qy_status_ = ::qy::cu::launch_status(op)) return qy_status_; \
    } while (0)

// for (int64_t i = first index of this thread; i < n; i += all threads of the grid)
#define QY_GRID_STRIDE(i, n)                                                                \
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (int64_t)(n); \
         i += (int64_t)blockDim.x * gridDim.x)

namespace qy {
namespace cu {

inline const char* base_name(const char* path) {
    const char* slash = std::strrchr(path, '/');
    return slash ? slash + 1 : path;
}

// Also clears the runtime's last-error slot, so a failed call is not reported again by a later launch check.
inline int cuda_error(const char* where, const char* file, int line, cudaError_t err) {
    (void)cudaGetLastError();
    return qy_set_error(QY_ERR_CUDA, "%s (%s:%d): %s", where, base_name(file), line, cudaGetErrorString(err));
}

// Status of the last kernel launch: QY_OK, or QY_ERR_CUDA naming the op.
inline int launch_status(const char* op) {
    cudaError_t err = cudaGetLastError();
    if (err == cudaSuccess) return QY_OK;
    return qy_set_error(QY_ERR_CUDA, "%s: kernel launch failed: %s", op, cudaGetErrorString(err));
}

inline cudaStream_t as_stream(void* stream) { return static_cast<cudaStream_t>(stream); }

inline int sm_count() {
    int dev = 0, sms = 0;
    if (cudaGetDevice(&dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || sms <= 0) {
        (void)cudaGetLastError();
        return 80;
    }
    return sms;
}

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 16;  // grid-stride loops cover the rest

// Blocks for a grid-stride loop over n items: one item per thread up to kMaxBlocks blocks.
inline unsigned grid_for(int64_t n, int threads = kThreads) {
    int64_t blocks = (n + threads - 1) / threads;
    return (unsigned)std::max<int64_t>(1, std::min<int64_t>(blocks, kMaxBlocks));
}

__host__ __device__ inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Scratch device memory ordered on the op's stream (cudaMallocAsync), freed on the same stream when it goes out
// of scope, also on early error returns. Falls back to cudaMalloc/cudaFree where memory pools are unsupported.
class Scratch {
   public:
    explicit Scratch(cudaStream_t stream) : stream_(stream) {}
    Scratch(const Scratch&) = delete;
    Scratch& operator=(const Scratch&) = delete;
    ~Scratch() {
        if (ptr_ == nullptr) return;
        if (async_)
            (void)cudaFreeAsync(ptr_, stream_);
        else
            (void)cudaFree(ptr_);
    }
    int alloc(size_t bytes, const char* op) {
        cudaError_t err = cudaMallocAsync(&ptr_, bytes, stream_);
        if (err == cudaErrorNotSupported) {
            (void)cudaGetLastError();
            async_ = false;
            err = cudaMalloc(&ptr_, bytes);
        }
        if (err == cudaSuccess) return QY_OK;
        ptr_ = nullptr;
        (void)cudaGetLastError();
        return qy_set_error(err == cudaErrorMemoryAllocation ? QY_ERR_OOM : QY_ERR_CUDA,
                            "%s: allocating %zu bytes of scratch memory failed: %s", op, bytes,
                            cudaGetErrorString(err));
    }
    template <class T>
    T* as() const {
        return static_cast<T*>(ptr_);
    }

   private:
    cudaStream_t stream_;
    void* ptr_ = nullptr;
    bool async_ = true;
};

// ---- 64x64 tiled GEMM main loop -------------------------------------------------------------------------------
// C[BM][BN] tile += A[BM][K] . B[K][BN], 256 threads, each owning a 4x4 block of C: rows ty*4..ty*4+3, columns
// tx*4..tx*4+3 with tx = t % 16, ty = t / 16. K advances in steps of BK = 16 through shared memory; the next step's
// global loads are issued into registers before the current step's FMAs, hiding their latency.
//
// A loader fetches 4 values of each operand per k-step. An operand that is contiguous along k in memory is
// "k-fast": thread t takes kk = t % 16 and outer index t / 16 + 16 l (consecutive threads read consecutive k);
// otherwise kk = t / 16 and outer index t % 16 + 16 l (consecutive threads read consecutive rows/columns). Either
// way a thread has one k per step and four fixed outer indices, so index arithmetic on the outer dimension is done
// once per block and on k once per step.
//
// Each inner step a thread issues 16 FMAs against 2 float4 shared loads, so the loop should be FMA-bound rather
// than shared-memory-bound; expect a 4x4 register tile to reach roughly half of fp32 peak (not yet measured).
namespace tile {

constexpr int BM = 64, BN = 64, BK = 16, THREADS = 256;
// Blocks per SM promised to __launch_bounds__: up to 128 registers per thread, so no kernel spills on sm_80/sm_90
// (asking for 3 caps them at 80 and spills on sm_90).
constexpr int MIN_BLOCKS = 2;

__device__ __forceinline__ int load_k(bool kfast, int t) { return kfast ? (t & 15) : (t >> 4); }
__device__ __forceinline__ int load_outer(bool kfast, int t, int l) { return (kfast ? (t >> 4) : (t & 15)) + 16 * l; }

// Loader: __device__ void fetch(int k0, float (&ra)[4], float (&rb)[4]) const, giving A(outer_l, k0 + kk) in ra[l]
// and B(k0 + kk, outer_l) in rb[l] with the placement above, and 0 outside the matrices.
template <bool A_KFAST, bool B_KFAST, class Loader>
__device__ __forceinline__ void mainloop(const Loader& ld, int kt_begin, int kt_end, float (&acc)[4][4]) {
    // +4 keeps rows 16-byte aligned for the float4 reads and limits the transposing stores to 2-way bank conflicts.
    __shared__ __align__(16) float As[BK][BM + 4];
    __shared__ __align__(16) float Bs[BK][BN + 4];
    const int t = threadIdx.x, tx = t & 15, ty = t >> 4;
    const int akk = load_k(A_KFAST, t), bkk = load_k(B_KFAST, t);
    float ra[4], rb[4];
    if (kt_begin < kt_end) ld.fetch(kt_begin * BK, ra, rb);
    for (int kt = kt_begin; kt < kt_end; ++kt) {
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            As[akk][load_outer(A_KFAST, t, l)] = ra[l];
            Bs[bkk][load_outer(B_KFAST, t, l)] = rb[l];
        }
        __syncthreads();
        if (kt + 1 < kt_end) ld.fetch((kt + 1) * BK, ra, rb);
        // Two-level sum (16 products per step, then into acc): about 4x less rounding error than one long chain.
        float part[4][4] = {};
#pragma unroll
        for (int kk = 0; kk < BK; ++kk) {
            const float4 a4 = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
            const float4 b4 = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
            const float a[4] = {a4.x, a4.y, a4.z, a4.w};
            const float b[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) part[i][j] = fmaf(a[i], b[j], part[i][j]);
        }
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) acc[i][j] += part[i][j];
        __syncthreads();
    }
}

}  // namespace tile

// Split of ktiles reduction steps over gridDim.z so that about 4 blocks per SM are busy when the output has few
// tiles; each split gets at least min_per steps. Returns the number of splits (>= 1), every one non-empty.
inline int choose_splits(int64_t out_tiles, int64_t ktiles, int64_t min_per, int* per) {
    int64_t want = ceil_div(4 * (int64_t)sm_count(), std::max<int64_t>(out_tiles, 1));
    int64_t splits = std::max<int64_t>(1, std::min<int64_t>({want, ktiles / std::max<int64_t>(min_per, 1), 1024}));
    int64_t p = ceil_div(ktiles, splits);
    *per = (int)p;
    return (int)ceil_div(ktiles, p);
}

// out[i] = sum over s in order of part[s][i] (+ bias[i % ncols] when bias is given). A template only so that every
// .cu file can include this header without defining the kernel twice.
template <int Unused = 0>
__global__ void splitk_sum_kernel(const float* __restrict__ part, int splits, int64_t len,
                                  const float* __restrict__ bias, int ncols, float* __restrict__ out) {
    QY_GRID_STRIDE(i, len) {
        float s = part[i];
        for (int z = 1; z < splits; ++z) s += part[(int64_t)z * len + i];
        out[i] = bias ? s + bias[i % ncols] : s;
    }
}

inline int splitk_sum(cudaStream_t stream, const char* op, const float* part, int splits, int64_t len,
                      const float* bias, int ncols, float* out) {
    QY_LAUNCH(grid_for(len), kThreads, 0, stream, splitk_sum_kernel)(part, splits, len, bias, ncols, out);
    return launch_status(op);
}

// ---- deterministic column sums over a [rows][cols] matrix -----------------------------------------------------
// Acc total(c) = sum over r of term(r, c), then finish(c, total). Stage 1: blocks of 32 columns x 8 row lanes
// (one warp reads 32 consecutive floats of a row), gridDim.y splits of the rows, a fixed-order reduction over the
// 8 lanes. Stage 2 (only when split): partials summed over the splits in order. Acc is double or D2 (two sums).
struct D2 {
    double a, b;
    __device__ D2& operator+=(const D2& o) {
        a += o.a;
        b += o.b;
        return *this;
    }
};

template <class Acc, class Term, class Finish>
__global__ void colsum_partial_kernel(Term term, Finish finish, int64_t rows, int cols, int64_t chunk,
                                      Acc* __restrict__ partial) {
    __shared__ Acc lanes[8][33];
    const int c = blockIdx.x * 32 + threadIdx.x;
    const int64_t r0 = (int64_t)blockIdx.y * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
    Acc acc{};
    if (c < cols)
        for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) acc += term(r, c);
    lanes[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y != 0 || c >= cols) return;
    Acc total = lanes[0][threadIdx.x];
    for (int l = 1; l < 8; ++l) total += lanes[l][threadIdx.x];
    if (partial)
        partial[(int64_t)blockIdx.y * cols + c] = total;
    else
        finish(c, total);
}

template <class Acc, class Finish>
__global__ void colsum_final_kernel(const Acc* __restrict__ partial, int splits, int cols, Finish finish) {
    for (int c = blockIdx.x * blockDim.x + threadIdx.x; c < cols; c += blockDim.x * gridDim.x) {
        Acc total = partial[c];
        for (int s = 1; s < splits; ++s) total += partial[(int64_t)s * cols + c];
        finish(c, total);
    }
}

template <class Acc, class Term, class Finish>
int colsum(cudaStream_t stream, const char* op, int64_t rows, int cols, Term term, Finish finish) {
    const int64_t cblocks = ceil_div(cols, 32);
    // At least 256 rows (32 per lane) per split; enough splits for about 4 blocks per SM.
    int64_t splits = std::min<int64_t>({ceil_div(4 * (int64_t)sm_count(), cblocks), ceil_div(rows, 256), 65535});
    splits = std::max<int64_t>(splits, 1);
    const int64_t chunk = ceil_div(rows, splits);
    splits = ceil_div(rows, chunk);
    const dim3 grid((unsigned)cblocks, (unsigned)splits), block(32, 8);
    if (splits == 1) {
        QY_LAUNCH(grid, block, 0, stream, colsum_partial_kernel<Acc>)(term, finish, rows, cols, chunk, (Acc*)nullptr);
        return launch_status(op);
    }
    Scratch part(stream);
    if (int s = part.alloc(sizeof(Acc) * (size_t)splits * (size_t)cols, op)) return s;
    QY_LAUNCH(grid, block, 0, stream, colsum_partial_kernel<Acc>)(term, finish, rows, cols, chunk, part.as<Acc>());
    if (int s = launch_status(op)) return s;
    QY_LAUNCH(grid_for(cols), kThreads, 0, stream, colsum_final_kernel<Acc>)(part.as<Acc>(), (int)splits, cols, finish);
    return launch_status(op);
}

// Column sums of a float [rows][cols] matrix into out[cols] (bias gradients), accumulated in double.
struct MatrixTerm {
    const float* m;
    int cols;
    __device__ double operator()(int64_t r, int c) const { return (double)m[r * cols + c]; }
};
struct StoreFloat {
    float* out;
    __device__ void operator()(int c, double total) const { out[c] = (float)total; }
};

inline int column_sums(cudaStream_t stream, const char* op, const float* m, int64_t rows, int cols, float* out) {
    return colsum<double>(stream, op, rows, cols, MatrixTerm{m, cols}, StoreFloat{out});
}

}  // namespace cu
}  // namespace qy

#endif
