// Contrastive losses (CUDA): NT-Xent (SimCLR) and InfoNCE with a queue (MoCo), forward and backward, plus MoCo's
// momentum update and ring-buffer enqueue. CPU twin and arithmetic reference: cpu/contrastive.cpp; semantics: quarry.h.
//
// Both losses are a softmax over rows of logits s_ij = a_i . b_j / tau (NT-Xent: a = b = the normalised z, the
// diagonal masked; MoCo: a = q, b = the queue, the positive l_pos = q_i . k_i / tau added on the side). Flash-attention
// pattern, the logit matrix never reaches memory:
//   forward   lse_partial_kernel: a block owns 64 rows and a contiguous split of the column tiles; per 64 x 64 tile the
//             logits come from the 64x64 GEMM main loop of common.cuh (operands scaled by 1/|z| while loaded), then an
//             online log-sum-exp (running max m and sum l per row, reduced over the 16 lanes that share a row) folds
//             the tile in. The (m, l) of each split go to scratch; lse_combine_kernel merges the splits in a fixed
//             order, one block sums the per-row losses in a fixed order. No atomics: repeated runs are bitwise equal.
//   backward  grad_partial_kernel: a block owns 64 rows, 64 of the d output columns and a split of the column tiles;
//             per tile it recomputes the logits, turns them into weights W = dL/ds (P_ij + P_ji for NT-Xent, P_ij for
//             MoCo; the positive and the diagonal masked) in shared memory and accumulates G += W . B[:, chunk] in
//             registers. It also sums each row's negative mass nm_i = sum P_ij, from which the positive's weight is
//             formed exactly as on the CPU (-(nm_i + nm_p), or -nm_i for MoCo) instead of the cancelling P - 1.
//             grad_final_kernel sums the splits and applies the normalisation's Jacobian.
// Memory: scratch O(splits * rows * d) (the backward partial gradients) and O(splits * rows) elsewhere; splits are
// chosen for about four blocks per SM. Version 1 recomputes the logits once per 64-wide chunk of d in the backward
// pass (two times at d = 128: 1.5x the minimal FLOPs).
//
// Napkin math (H100, 67 TFLOP/s fp32 without tensor cores): NT-Xent at n = 4096 pairs, d = 128: forward
// 2 * 8192^2 * 128 = 17.2 GFLOP -> 0.26 ms at peak, about 0.6 ms at the ~40% a 4x4 register tile reaches; backward
// 3x that. 67M expf per pass are noise next to it. Bytes: z is 4 MiB, re-read from L2 by every row tile. MoCo at
// q = 256, queue = 65,536 x 128: 4.3 GFLOP forward; the queue (32 MiB) is read once per 64-query row tile.
#include <cmath>

#include "common.cuh"

namespace {

using qy::cu::ceil_div;
using qy::cu::grid_for;
using qy::cu::kThreads;
namespace tile = qy::cu::tile;

constexpr unsigned kFull = 0xffffffffu;
constexpr int kTile = 64;  // tile::BM == tile::BN

// Sum / max over the 16 lanes that hold one row of a 64-column tile (lanes ty*16 .. ty*16+15 of the 4x4 layout).
__device__ __forceinline__ float half_warp_max(float v) {
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFull, v, o));
    return v;
}
template <class T>
__device__ __forceinline__ T half_warp_sum(T v) {
#pragma unroll
    for (int o = 8; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
    return v;
}
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
    return v;
}

// A matrix of rows x d whose row r is read as x[r][:] * inv[r] (inv == nullptr: 1). Row indices are int in the
// kernels (check_grid keeps them below 2^31 - 64) to save registers; addresses are formed in int64.
struct Rows {
    const float* x;
    const float* inv;
    int rows;
};

// Both operands are contiguous along k ("k-fast" in common.cuh): A(r, k) = a row r, B(k, c) = b row c.
struct PairLoader {
    Rows a, b;
    int d;
    int arow[4], bcol[4];
    float ascale[4], bscale[4];

    __device__ PairLoader(const Rows& a_, const Rows& b_, int d_, int row0, int col0) : a(a_), b(b_), d(d_) {
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            arow[l] = row0 + tile::load_outer(true, threadIdx.x, l);
            bcol[l] = col0 + tile::load_outer(true, threadIdx.x, l);
            ascale[l] = arow[l] < a.rows ? (a.inv ? a.inv[arow[l]] : 1.0f) : 0.0f;
            bscale[l] = bcol[l] < b.rows ? (b.inv ? b.inv[bcol[l]] : 1.0f) : 0.0f;
        }
    }

    __device__ void fetch(int k0, float (&ra)[4], float (&rb)[4]) const {
        const int k = k0 + tile::load_k(true, threadIdx.x);
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            ra[l] = arow[l] < a.rows && k < d ? __ldg(a.x + (int64_t)arow[l] * d + k) * ascale[l] : 0.0f;
            rb[l] = bcol[l] < b.rows && k < d ? __ldg(b.x + (int64_t)bcol[l] * d + k) * bscale[l] : 0.0f;
        }
    }
};

// The NT-Xent partner of row r among 2n rows (NT) or none (-1).
template <bool NT>
__device__ __forceinline__ int partner(int r, int n) {
    return NT ? (r < n ? r + n : r - n) : -1;
}

// Forward, one (row tile, column split) per block: part_m/part_l[split][row] = running max and sum of exp(s - m) over
// the split's columns (NT: the diagonal masked; the positive logit is written to pos[row] by the one thread that
// sees it).
template <bool NT>
__global__ void __launch_bounds__(tile::THREADS, tile::MIN_BLOCKS)
    lse_partial_kernel(Rows a, Rows b, int d, float inv_tau, int n, int per, double* __restrict__ part_m,
                       double* __restrict__ part_l, float* __restrict__ pos) {
    const int rows = a.rows, cols = b.rows;
    const int row0 = blockIdx.x * kTile, ctiles = (int)ceil_div(cols, kTile);
    const int ct0 = blockIdx.y * per, ct1 = min(ct0 + per, ctiles);
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4, ktiles = (int)ceil_div(d, tile::BK);
    int row[4], part[4];
    float m[4];
    double l[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        row[i] = row0 + ty * 4 + i;
        part[i] = partner<NT>(row[i], n);
        m[i] = -INFINITY;
        l[i] = 0.0;
    }
    for (int ct = ct0; ct < ct1; ++ct) {
        const int col0 = ct * kTile;
        const PairLoader ld(a, b, d, row0, col0);
        float acc[4][4] = {};
        tile::mainloop<true, true>(ld, 0, ktiles, acc);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            float s[4], tmax = -INFINITY;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int col = col0 + tx * 4 + j;
                float v = acc[i][j] * inv_tau;
                if (NT && row[i] < rows && col == part[i]) pos[row[i]] = v;
                if (col >= cols || (NT && col == row[i])) v = -INFINITY;
                s[j] = v;
                tmax = fmaxf(tmax, v);
            }
            tmax = half_warp_max(tmax);
            // A tile with only masked logits changes nothing; every lane still joins the shuffles below.
            const bool skip = !(tmax > -INFINITY);
            const float mn = skip ? m[i] : fmaxf(m[i], tmax);
            float sum = 0.0f;
#pragma unroll
            for (int j = 0; j < 4; ++j) sum += skip ? 0.0f : expf(s[j] - mn);
            sum = half_warp_sum(sum);
            if (!skip) {
                l[i] = l[i] * exp((double)m[i] - (double)mn) + (double)sum;
                m[i] = mn;
            }
        }
    }
    if (tx != 0) return;
#pragma unroll
    for (int i = 0; i < 4; ++i)
        if (row[i] < rows) {
            part_m[(int64_t)blockIdx.y * rows + row[i]] = m[i];
            part_l[(int64_t)blockIdx.y * rows + row[i]] = l[i];
        }
}

// Merges the splits in order: lse = m + log(sum_s l_s exp(m_s - m)); MoCo starts from the positive (m = l_pos, l = 1).
// term[row] = lse - positive logit.
template <bool NT>
__global__ void lse_combine_kernel(const double* __restrict__ part_m, const double* __restrict__ part_l, int splits,
                                   int64_t rows, const float* __restrict__ pos, const double* __restrict__ lpos,
                                   float* __restrict__ save_lse, double* __restrict__ term) {
    QY_GRID_STRIDE(i, rows) {
        const double positive = NT ? (double)pos[i] : lpos[i];
        double m = NT ? -INFINITY : positive;
        for (int s = 0; s < splits; ++s) m = fmax(m, part_m[(int64_t)s * rows + i]);
        double l = NT ? 0.0 : exp(positive - m);
        for (int s = 0; s < splits; ++s) l += part_l[(int64_t)s * rows + i] * exp(part_m[(int64_t)s * rows + i] - m);
        const double lse = m + log(l);
        save_lse[i] = (float)lse;
        term[i] = lse - positive;
    }
}

// loss[0] = sum_i term[i] / rows, one block of 1024 threads in a fixed order.
__global__ void mean_kernel(const double* __restrict__ term, int64_t rows, float* __restrict__ loss) {
    __shared__ double part[1024];
    double s = 0.0;
    for (int64_t i = threadIdx.x; i < rows; i += blockDim.x) s += term[i];
    part[threadIdx.x] = s;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half >>= 1) {
        if ((int)threadIdx.x < half) part[threadIdx.x] += part[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) loss[0] = (float)(part[0] / (double)rows);
}

// for (int64_t row = this warp; row < n; row += all warps of the grid); uniform within a warp.
#define QY_WARP_ROWS(row, n)                                                                          \
    for (int64_t row = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5; row < (int64_t)(n); \
         row += ((int64_t)blockDim.x * gridDim.x) >> 5)

inline unsigned warp_grid(int64_t rows) { return grid_for(rows * 32); }

// invnorm[r] = 1 / max(|z_r|, 1e-12), the sum of squares in double.
__global__ void invnorm_kernel(const float* __restrict__ z, int64_t rows, int d, float* __restrict__ invnorm) {
    const int lane = threadIdx.x & 31;
    QY_WARP_ROWS(r, rows) {
        double ss = 0.0;
        for (int k = lane; k < d; k += 32) ss += (double)z[r * d + k] * z[r * d + k];
        ss = warp_sum(ss);
        if (lane == 0) invnorm[r] = (float)(1.0 / fmax(sqrt(ss), 1e-12));
    }
}

// lpos[r] = (q_r . k_r) * inv_tau in double.
__global__ void positive_kernel(const float* __restrict__ q, const float* __restrict__ k, int64_t rows, int d,
                                float inv_tau, double* __restrict__ lpos) {
    const int lane = threadIdx.x & 31;
    QY_WARP_ROWS(r, rows) {
        double s = 0.0;
        for (int c = lane; c < d; c += 32) s += (double)q[r * d + c] * k[r * d + c];
        s = warp_sum(s);
        if (lane == 0) lpos[r] = s * inv_tau;
    }
}

// Backward, one (row tile, 64-wide chunk of d, column split) per block: part_g[split][row][chunk] = sum over the
// split's columns of W_ij b_j, and (chunk 0 only) part_nm[split][row] = sum of P_ij = exp(s_ij - lse_i) over the
// unmasked columns. NT: W = P_ij + P_ji with the diagonal and the positive masked; MoCo: W = P_ij.
template <bool NT>
__global__ void __launch_bounds__(tile::THREADS, tile::MIN_BLOCKS)
    grad_partial_kernel(Rows a, Rows b, int d, float inv_tau, int n, int per, const float* __restrict__ lse_a,
                        const float* __restrict__ lse_b, float* __restrict__ part_g, double* __restrict__ part_nm) {
    __shared__ __align__(16) float wt[kTile][kTile + 4];  // W transposed: [column][row]
    __shared__ __align__(16) float vs[kTile][kTile + 4];  // b rows of the tile, this chunk of d: [column][dd]
    const int rows = a.rows, cols = b.rows;
    const int row0 = blockIdx.x * kTile, ctiles = (int)ceil_div(cols, kTile);
    const int d0 = blockIdx.y * kTile;
    const int ct0 = blockIdx.z * per, ct1 = min(ct0 + per, ctiles);
    const int t = threadIdx.x, tx = t & 15, ty = t >> 4, ktiles = (int)ceil_div(d, tile::BK);
    int row[4], part[4];
    float lse_row[4];
    double nm[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        row[i] = row0 + ty * 4 + i;
        part[i] = partner<NT>(row[i], n);
        lse_row[i] = row[i] < rows ? lse_a[row[i]] : 0.0f;
        nm[i] = 0.0;
    }
    float g[4][4] = {};
    for (int ct = ct0; ct < ct1; ++ct) {
        const int col0 = ct * kTile;
        const PairLoader ld(a, b, d, row0, col0);
        float acc[4][4] = {};
        tile::mainloop<true, true>(ld, 0, ktiles, acc);
        float lse_col[4];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int col = col0 + tx * 4 + j;
            lse_col[j] = NT && col < cols ? lse_b[col] : 0.0f;
        }
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            float mass = 0.0f;
#pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int col = col0 + tx * 4 + j;
                const bool keep = row[i] < rows && col < cols && (!NT || (col != row[i] && col != part[i]));
                const float s = acc[i][j] * inv_tau;
                const float p = keep ? expf(s - lse_row[i]) : 0.0f;
                mass += p;
                wt[tx * 4 + j][ty * 4 + i] = NT && keep ? p + expf(s - lse_col[j]) : p;
            }
            nm[i] += (double)mass;
        }
#pragma unroll
        for (int l = 0; l < 16; ++l) {
            const int c = (t >> 6) + 4 * l, dd = t & 63, col = col0 + c;
            vs[c][dd] =
                col < cols && d0 + dd < d ? __ldg(b.x + (int64_t)col * d + d0 + dd) * (b.inv ? b.inv[col] : 1.0f) : 0.0f;
        }
        __syncthreads();
        float sum[4][4] = {};  // per-tile partial sums, then into g: two-level, as in the GEMM main loop
#pragma unroll 8
        for (int c = 0; c < kTile; ++c) {
            const float4 w4 = *reinterpret_cast<const float4*>(&wt[c][ty * 4]);
            const float4 v4 = *reinterpret_cast<const float4*>(&vs[c][tx * 4]);
            const float w[4] = {w4.x, w4.y, w4.z, w4.w};
            const float v[4] = {v4.x, v4.y, v4.z, v4.w};
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int j = 0; j < 4; ++j) sum[i][j] = fmaf(w[i], v[j], sum[i][j]);
        }
#pragma unroll
        for (int i = 0; i < 4; ++i)
#pragma unroll
            for (int j = 0; j < 4; ++j) g[i][j] += sum[i][j];
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) nm[i] = half_warp_sum(nm[i]);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        if (row[i] >= rows) continue;
        if (blockIdx.y == 0 && tx == 0) part_nm[(int64_t)blockIdx.z * rows + row[i]] = nm[i];
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int dd = d0 + tx * 4 + j;
            if (dd < d) part_g[((int64_t)blockIdx.z * rows + row[i]) * d + dd] = g[i][j];
        }
    }
}

// One warp per row. NT: g = sum of the splits + w_p u_p with w_p = -(nm_i + nm_p), then dz = coef * invnorm
// (g - (g . u) u) (no projection below the eps clamp). MoCo: dq = coef * (sum of the splits - nm_i k_i).
template <bool NT>
__global__ void grad_final_kernel(const float* __restrict__ part_g, const double* __restrict__ part_nm, int splits,
                                  int64_t rows, int d, int n, const float* __restrict__ x,
                                  const float* __restrict__ invnorm, double coef, float* __restrict__ out) {
    const int lane = threadIdx.x & 31;
    QY_WARP_ROWS(i, rows) {
        double nm_i = 0.0, nm_p = 0.0;
        const int64_t p = NT ? partner<true>((int)i, n) : i;
        for (int s = 0; s < splits; ++s) {
            nm_i += part_nm[(int64_t)s * rows + i];
            if (NT) nm_p += part_nm[(int64_t)s * rows + p];
        }
        auto gsum = [&](int k) {
            float s = part_g[i * d + k];
            for (int sp = 1; sp < splits; ++sp) s += part_g[((int64_t)sp * rows + i) * d + k];
            return (double)s;
        };
        if (!NT) {
            for (int k = lane; k < d; k += 32) out[i * d + k] = (float)(coef * (gsum(k) - nm_i * x[i * d + k]));
            continue;
        }
        const double wp = -(nm_i + nm_p);
        const float inv_i = invnorm[i], inv_p = invnorm[p];
        double ss = 0.0, proj = 0.0;
        for (int k = lane; k < d; k += 32) {
            const float ui = x[i * d + k] * inv_i, up = x[p * d + k] * inv_p;
            ss += (double)x[i * d + k] * x[i * d + k];
            proj += (gsum(k) + wp * up) * ui;
        }
        ss = warp_sum(ss);
        proj = sqrt(ss) < 1e-12 ? 0.0 : warp_sum(proj);  // below the eps clamp u = z / eps: no projection
        for (int k = lane; k < d; k += 32) {
            const float ui = x[i * d + k] * inv_i, up = x[p * d + k] * inv_p;
            out[i * d + k] = (float)(coef * inv_i * (gsum(k) + wp * up - proj * ui));
        }
    }
}

__global__ void momentum_kernel(float* __restrict__ theta_k, const float* __restrict__ theta_q, int64_t count,
                                float keep, float take) {
    // Explicit roundings: no fused multiply-add, so the result is the CPU's bit for bit.
    QY_GRID_STRIDE(i, count) theta_k[i] = __fadd_rn(__fmul_rn(keep, theta_k[i]), __fmul_rn(take, theta_q[i]));
}

// ---- launch plans: shared by the ops and the scratch-size queries --------------------------------------------------

struct Plan {
    int splits, per;
};

// Splits of ctiles column tiles so that blocks (other_blocks of them per split) fill about four per SM.
Plan plan(int64_t other_blocks, int64_t ctiles) {
    int64_t splits = ceil_div(4 * (int64_t)qy::cu::sm_count(), std::max<int64_t>(other_blocks, 1));
    splits = std::max<int64_t>(1, std::min<int64_t>({splits, ctiles, 65535}));
    const int64_t per = ceil_div(ctiles, splits);
    return {(int)ceil_div(ctiles, per), (int)per};
}

Plan fwd_plan(int64_t rows, int64_t cols) { return plan(ceil_div(rows, kTile), ceil_div(cols, kTile)); }
Plan bwd_plan(int64_t rows, int64_t cols, int d) {
    return plan(ceil_div(rows, kTile) * ceil_div(d, kTile), ceil_div(cols, kTile));
}

// Forward scratch: part_m, part_l [splits][rows], term [rows], positives [rows] (all 8-byte slots).
int64_t fwd_bytes(int64_t rows, int64_t cols) { return 8 * rows * (2 * (int64_t)fwd_plan(rows, cols).splits + 2); }
// Backward scratch: part_nm [splits][rows] doubles, part_g [splits][rows][d] floats.
int64_t bwd_bytes(int64_t rows, int64_t cols, int d) {
    return (int64_t)bwd_plan(rows, cols, d).splits * rows * (8 + 4 * (int64_t)d);
}

int check_grid(const char* op, int64_t rows, int64_t cols, int d) {
    if (rows > INT_MAX - kTile || cols > INT_MAX - kTile || ceil_div(d, kTile) > 65535)
        return qy_set_error(QY_ERR_INVALID, "%s: %lld x %lld logits of d=%d too large for the CUDA kernels", op,
                            (long long)rows, (long long)cols, d);
    return QY_OK;
}

template <bool NT>
int forward(cudaStream_t st, const char* op, Rows a, Rows b, const float* lpos_q, const float* lpos_k, int d,
            float tau, int n, float* loss, float* save_lse) {
    const int64_t rows = a.rows;
    const Plan p = fwd_plan(rows, b.rows);
    qy::cu::Scratch scratch(st);
    if (int s = scratch.alloc((size_t)fwd_bytes(rows, b.rows), op)) return s;
    double* part_m = scratch.as<double>();
    double* part_l = part_m + (int64_t)p.splits * rows;
    double* term = part_l + (int64_t)p.splits * rows;
    double* positives = term + rows;  // NT: float pos; MoCo: double l_pos
    const float inv_tau = 1.0f / tau;
    if (!NT) {
        QY_LAUNCH(warp_grid(rows), kThreads, 0, st, positive_kernel)(lpos_q, lpos_k, rows, d, inv_tau, positives);
        QY_LAUNCH_CHECK(op);
    }
    const dim3 grid((unsigned)ceil_div(rows, kTile), (unsigned)p.splits);
    QY_LAUNCH(grid, tile::THREADS, 0, st, lse_partial_kernel<NT>)(a, b, d, inv_tau, n, p.per, part_m, part_l,
                                                           reinterpret_cast<float*>(positives));
    QY_LAUNCH_CHECK(op);
    QY_LAUNCH(grid_for(rows), kThreads, 0, st, lse_combine_kernel<NT>)(part_m, part_l, p.splits, rows,
                                                                reinterpret_cast<const float*>(positives), positives,
                                                                save_lse, term);
    QY_LAUNCH_CHECK(op);
    QY_LAUNCH(1, 1024, 0, st, mean_kernel)(term, rows, loss);
    return qy::cu::launch_status(op);
}

template <bool NT>
int backward(cudaStream_t st, const char* op, Rows a, Rows b, const float* lse_a, const float* lse_b, int d, float tau,
             float scale, int n, const float* x_final, const float* invnorm, float* out) {
    const int64_t rows = a.rows;
    const Plan p = bwd_plan(rows, b.rows, d);
    qy::cu::Scratch scratch(st);
    if (int s = scratch.alloc((size_t)bwd_bytes(rows, b.rows, d), op)) return s;
    double* part_nm = scratch.as<double>();
    float* part_g = reinterpret_cast<float*>(part_nm + (int64_t)p.splits * rows);
    const dim3 grid((unsigned)ceil_div(rows, kTile), (unsigned)ceil_div(d, kTile), (unsigned)p.splits);
    QY_LAUNCH(grid, tile::THREADS, 0, st, grad_partial_kernel<NT>)(a, b, d, 1.0f / tau, n, p.per, lse_a, lse_b, part_g,
                                                            part_nm);
    QY_LAUNCH_CHECK(op);
    const double coef = (double)scale / ((double)rows * (double)tau);
    QY_LAUNCH(warp_grid(rows), kThreads, 0, st, grad_final_kernel<NT>)(part_g, part_nm, p.splits, rows, d, n, x_final,
                                                                invnorm, coef, out);
    return qy::cu::launch_status(op);
}

}  // namespace

int64_t cuda_ntxent_scratch_bytes(int n, int d) {
    const int64_t rows = 2 * (int64_t)n;
    return std::max(fwd_bytes(rows, rows), bwd_bytes(rows, rows, d));
}

int64_t cuda_infonce_queue_scratch_bytes(int n, int64_t kq, int d) {
    return std::max(fwd_bytes(n, kq), bwd_bytes(n, kq, d));
}

int cuda_ntxent_fwd(void* stream, const float* z, float* loss, float* save_lse, float* save_invnorm, int n, int d,
                    float tau) {
    const char* op = "qy_ntxent_fwd";
    cudaStream_t st = qy::cu::as_stream(stream);
    const int64_t rows = 2 * (int64_t)n;
    if (int s = check_grid(op, rows, rows, d)) return s;
    QY_LAUNCH(warp_grid(rows), kThreads, 0, st, invnorm_kernel)(z, rows, d, save_invnorm);
    QY_LAUNCH_CHECK(op);
    const Rows u{z, save_invnorm, (int)rows};
    return forward<true>(st, op, u, u, nullptr, nullptr, d, tau, n, loss, save_lse);
}

int cuda_ntxent_bwd(void* stream, const float* z, const float* save_lse, const float* save_invnorm, float* dz, int n,
                    int d, float tau, float scale) {
    const char* op = "qy_ntxent_bwd";
    const int64_t rows = 2 * (int64_t)n;
    if (int s = check_grid(op, rows, rows, d)) return s;
    const Rows u{z, save_invnorm, (int)rows};
    return backward<true>(qy::cu::as_stream(stream), op, u, u, save_lse, save_lse, d, tau, scale, n, z,
                          save_invnorm, dz);
}

int cuda_infonce_queue_fwd(void* stream, const float* q, const float* k, const float* queue, float* loss,
                           float* save_lse, int n, int64_t kq, int d, float tau) {
    const char* op = "qy_infonce_queue_fwd";
    if (int s = check_grid(op, n, kq, d)) return s;
    return forward<false>(qy::cu::as_stream(stream), op, Rows{q, nullptr, n}, Rows{queue, nullptr, (int)kq}, q, k, d,
                          tau, 0, loss, save_lse);
}

int cuda_infonce_queue_bwd(void* stream, const float* q, const float* k, const float* queue, const float* save_lse,
                           float* dq, int n, int64_t kq, int d, float tau, float scale) {
    const char* op = "qy_infonce_queue_bwd";
    if (int s = check_grid(op, n, kq, d)) return s;
    return backward<false>(qy::cu::as_stream(stream), op, Rows{q, nullptr, n}, Rows{queue, nullptr, (int)kq}, save_lse,
                           nullptr, d, tau, scale, 0, k, nullptr, dq);
}

int cuda_momentum_update(void* stream, float* theta_k, const float* theta_q, int64_t count, float m) {
    QY_LAUNCH(grid_for(count), kThreads, 0, qy::cu::as_stream(stream), momentum_kernel)(theta_k, theta_q, count, m,
                                                                                  1.0f - m);
    return qy::cu::launch_status("qy_momentum_update");
}

int cuda_queue_enqueue(void* stream, float* queue, int64_t kq, int d, const float* keys, int n, int64_t ptr) {
    cudaStream_t st = qy::cu::as_stream(stream);
    const int64_t first = std::min<int64_t>(n, kq - ptr);
    QY_CUDA_CHECK(cudaMemcpyAsync(queue + ptr * d, keys, sizeof(float) * (size_t)(first * d), cudaMemcpyDeviceToDevice,
                                  st));
    if (first < n)
        QY_CUDA_CHECK(cudaMemcpyAsync(queue, keys + first * d, sizeof(float) * (size_t)((n - first) * d),
                                      cudaMemcpyDeviceToDevice, st));
    return QY_OK;
}
