// Fully connected layer (CUDA): y = x w^T + b with x [n][in], w [out][in]. CPU twin: cpu/linear.cpp.
// One tiled SGEMM (the 64x64 main loop of common.cuh) with transposition flags serves all three passes:
//   fwd:          y[n][out]   = x[n][in] . w^T          (A plain, B transposed) + bias
//   bwd_data:     dx[n][in]   = dy[n][out] . w          (A plain, B plain)
//   bwd_weight:   dw[out][in] = dy^T[out][n] . x        (A transposed, B plain), dbias = column sums of dy
// When the output has few tiles (a 64 x 128 MLP head is 2), K is split over gridDim.z and the partials are summed
// in a fixed order, so results stay deterministic.
// Napkin math: MNIST FC 1024->128 at batch 64: 2*64*1024*128 = 17 MFLOP and 0.8 MB of traffic, i.e. a few us on
// any GPU: launch latency dominates; the split only keeps more than two SMs busy.
#include "common.cuh"

namespace {

using qy::cu::ceil_div;
namespace tile = qy::cu::tile;

// op(A)(m, k) = TA ? a[k*lda + m] : a[m*lda + k];  op(B)(k, j) = TB ? b[j*ldb + k] : b[k*ldb + j].
// An untransposed A and a transposed B are contiguous along k ("k-fast", see common.cuh).
template <bool TA, bool TB>
struct GemmLoader {
    const float* a;
    const float* b;
    int M, N, K;
    int64_t lda, ldb;
    int row[4], col[4];

    __device__ GemmLoader(const float* a_, const float* b_, int M_, int N_, int K_, int64_t lda_, int64_t ldb_,
                          int row0, int col0)
        : a(a_), b(b_), M(M_), N(N_), K(K_), lda(lda_), ldb(ldb_) {
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            row[l] = row0 + tile::load_outer(!TA, threadIdx.x, l);
            col[l] = col0 + tile::load_outer(TB, threadIdx.x, l);
        }
    }

    __device__ void fetch(int k0, float (&ra)[4], float (&rb)[4]) const {
        const int ka = k0 + tile::load_k(!TA, threadIdx.x), kb = k0 + tile::load_k(TB, threadIdx.x);
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            ra[l] = row[l] < M && ka < K ? __ldg(TA ? a + (int64_t)ka * lda + row[l] : a + (int64_t)row[l] * lda + ka)
                                         : 0.0f;
            rb[l] = col[l] < N && kb < K ? __ldg(TB ? b + (int64_t)col[l] * ldb + kb : b + (int64_t)kb * ldb + col[l])
                                         : 0.0f;
        }
    }
};

// c[M][N] = op(A) op(B) (+ bias[j]) over k-steps [z*per, min((z+1)*per, ktiles)); with split partials, block z
// writes part[z][M][N] instead and the bias is added after the split sum.
template <bool TA, bool TB>
__global__ void __launch_bounds__(tile::THREADS, tile::MIN_BLOCKS)
    sgemm_kernel(const float* __restrict__ a, const float* __restrict__ b, const float* __restrict__ bias,
                 float* __restrict__ c, float* __restrict__ part, int M, int N, int K, int64_t lda, int64_t ldb,
                 int per) {
    const int row0 = blockIdx.x * tile::BM, col0 = blockIdx.y * tile::BN;
    const int ktiles = (int)ceil_div(K, tile::BK);
    const int kt0 = blockIdx.z * per, kt1 = min(kt0 + per, ktiles);
    const GemmLoader<TA, TB> ld(a, b, M, N, K, lda, ldb, row0, col0);
    float acc[4][4] = {};
    tile::mainloop<!TA, TB>(ld, kt0, kt1, acc);
    float* out = part ? part + (int64_t)blockIdx.z * M * N : c;
    const float* add = part ? nullptr : bias;
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int m = row0 + ty * 4 + i;
        if (m >= M) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int n = col0 + tx * 4 + j;
            if (n < N) out[(int64_t)m * N + n] = add ? acc[i][j] + add[n] : acc[i][j];
        }
    }
}

template <bool TA, bool TB>
int sgemm(cudaStream_t s, const char* op, int M, int N, int K, const float* a, int64_t lda, const float* b,
          int64_t ldb, const float* bias, float* c) {
    if ((int64_t)M > INT_MAX - tile::BM || (int64_t)N > INT_MAX - tile::BN || (int64_t)K > INT_MAX - tile::BK ||
        ceil_div(N, tile::BN) > 65535)
        return qy_set_error(QY_ERR_INVALID, "%s: GEMM %d x %d x %d too large for the CUDA kernel", op, M, N, K);
    const int64_t gx = ceil_div(M, tile::BM), gy = ceil_div(N, tile::BN);
    int per = 0;
    const int splits = qy::cu::choose_splits(gx * gy, ceil_div(K, tile::BK), 8, &per);
    const dim3 grid((unsigned)gx, (unsigned)gy, (unsigned)splits);
    if (splits == 1) {
        QY_LAUNCH(grid, tile::THREADS, 0, s, sgemm_kernel<TA, TB>)(a, b, bias, c, nullptr, M, N, K, lda, ldb, per);
        return qy::cu::launch_status(op);
    }
    const int64_t len = (int64_t)M * N;
    qy::cu::Scratch part(s);
    if (int st = part.alloc(sizeof(float) * (size_t)(len * splits), op)) return st;
    QY_LAUNCH(grid, tile::THREADS, 0, s, sgemm_kernel<TA, TB>)(a, b, nullptr, c, part.as<float>(), M, N, K, lda, ldb, per);
    QY_LAUNCH_CHECK(op);
    return qy::cu::splitk_sum(s, op, part.as<float>(), splits, len, bias, N, c);
}

}  // namespace

int cuda_linear_fwd(void* stream, const float* x, const float* wt, const float* bias, float* y, int n, int in,
                    int out) {
    return sgemm<false, true>(qy::cu::as_stream(stream), "qy_linear_fwd", n, out, in, x, in, wt, in, bias, y);
}

int cuda_linear_bwd_data(void* stream, const float* dy, const float* wt, float* dx, int n, int in, int out) {
    return sgemm<false, false>(qy::cu::as_stream(stream), "qy_linear_bwd_data", n, in, out, dy, out, wt, in, nullptr,
                               dx);
}

int cuda_linear_bwd_weight(void* stream, const float* x, const float* dy, float* dwt, float* dbias, int n, int in,
                           int out) {
    const char* op = "qy_linear_bwd_weight";
    cudaStream_t s = qy::cu::as_stream(stream);
    if (int st = sgemm<true, false>(s, op, out, in, n, dy, out, x, in, nullptr, dwt)) return st;
    if (dbias) return qy::cu::column_sums(s, op, dy, n, out, dbias);
    return QY_OK;
}
