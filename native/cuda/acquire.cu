// Acquisition kernels (CUDA): pool scores, and the pieces of greedy BatchBALD. Semantics in quarry.h (the
// "acquisition" section), formulas in docs/acquisition.md; CPU twin: cpu/acquire.cpp. All math is float64.
//
//   acq_score      scores[n] from log-probabilities logp [n][k][c] (float32 or float64), one warp per pool point:
//                  entropy of p_mean, BALD, least confidence, margin, variation ratios, mean std, and the
//                  conditional entropy (1/K) sum_k H[p_k]. p = exp(logp) in double, 0 log 0 = 0.
//   logp_to_probs  probs = exp(logp) as double, elementwise.
//   joint_extend   p_new [m*c][k]: p_new[i*c + j][kk] = p[i][kk] * probs_a[kk][j] (exact joint, row-wise Kronecker).
//   joint_sample   p [k*s][k], w [k*s]: importance-sampled configurations of the chosen points, one warp per row.
//                  The class draws use philox.h exactly as the CPU does (same counters, same running double sum),
//                  so both backends draw the same configurations.
//   joint_entropy  out[x] = -sum_r w[r] sum_j J[r][j] log J[r][j], J[r][j] = (1/K) sum_kk p[r][kk] probs[x][kk][j].
//                  Fused: J lives in registers only.
//
// joint_entropy is the hot spot of BatchBALD. It is one GEMM J = P . B with B's columns the (x, j) pairs,
// B[kk][x*c + j] = probs[x][kk][j], so c only sets how many columns a candidate owns and any c tiles fully:
// rows M = m, columns N = n*c, depth K = k. Each block owns a 64 x 128 tile of J that slides down the rows:
//   - its 128 columns of B ([k][128] doubles, 118 KB at k = 100) are loaded into shared memory once
//     ("resident"); when k is too deep for shared memory, B streams through in 16-deep chunks like P does,
//   - P streams through shared memory in 64 x 16 chunks, the next chunk prefetched into registers,
//   - 8 warps each hold a 32 x 32 accumulator tile fed by fp64 tensor-core MMAs (mma.sync m8n8k4; a shuffle
//     emulation of the same instruction on pre-sm_80 targets),
//   - after the last chunk of a row tile each thread applies w[r] * J log J to its accumulators and adds them to
//     per-column sums kept in registers, so the only output is one double per column: sum_r w[r] J log J.
// Rows are split over gridDim.y only when there are too few column tiles to fill the GPU. A second kernel adds
// the per-column partials over the splits and the c columns of each candidate in a fixed order: no atomics,
// and the split depends only on the shapes and the SM count, so repeated runs are bit-identical.
//
// Napkin math at the paper's setting (m = 40,000 configurations, k = 100, c = 10, n = 60,000 candidates):
//   GEMM: 2 m k n c = 4.8e12 flop. H100 SXM: ~67 TFLOP/s fp64 on tensor cores (targeted: 72 ms floor), ~34 on
//         the fp64 CUDA cores (141 ms floor). Simple DMMA tilings like this one typically reach about half the
//         tensor peak.
//   log:  m n c = 2.4e10 double logs of ~30 fp64 instructions each (CUDA's log, counted in the PTX): 7e11 on the
//         CUDA cores, ~40 ms. A block's warps move in step between barriers, so this epilogue mostly does not
//         overlap the MMAs and adds to the GEMM time.
//   data: B (probs) is 480 MB, read once from HBM (0.15 ms); P (32 MB) stays in L2 and is re-read once per
//         column tile: 4,688 x 32 MB = 150 GB at ~5-7 TB/s of L2, ~25 ms, hidden behind the MMAs by the prefetch.
//   Expected: ~130-200 ms per call on an H100 (materialising J instead would write 189 GB).
#include <cmath>

#include "common.cuh"
#include "philox.h"
#include "ptx.cuh"

namespace {

using qy::cu::ceil_div;
using qy::cu::grid_for;
using qy::cu::kThreads;

constexpr unsigned kFull = 0xffffffffu;

__device__ __forceinline__ double xlogy(double p) { return p == 0.0 ? 0.0 : p * log(p); }

template <class T>
__device__ __forceinline__ double prob(const T* lp, int64_t i) {
    return exp((double)lp[i]);
}

// Butterfly reductions: every lane ends with the same value (each step combines a commutative pair).
__device__ __forceinline__ double warp_sum(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFull, v, o);
    return v;
}

__device__ __forceinline__ double warp_max(double v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(kFull, v, o));
    return v;
}

__device__ __forceinline__ int warp_max_int(int v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(kFull, v, o));
    return v;
}

// ---- pool scores --------------------------------------------------------------------------------------------
// Lanes split the classes; a lane walks its class down the k samples (a warp reads 32 consecutive classes of
// one sample per step), so no per-point array of c values is ever held.

template <class T>
__device__ __forceinline__ double mean_prob(const T* lp, int k, int c, int j) {
    double s = 0.0;
    for (int kk = 0; kk < k; ++kk) s += prob(lp, (int64_t)kk * c + j);
    return s / k;
}

// H[p_mean].
template <class T>
__device__ double entropy_of_mean(const T* lp, int k, int c, int lane) {
    double h = 0.0;
    for (int j = lane; j < c; j += 32) h -= xlogy(mean_prob(lp, k, c, j));
    return warp_sum(h);
}

// (1/K) sum_k H[p_k]: a flat sum over all k c values.
template <class T>
__device__ double cond_entropy(const T* lp, int k, int c, int lane) {
    const int64_t kc = (int64_t)k * c;
    double s = 0.0;
    for (int64_t i = lane; i < kc; i += 32) s += xlogy(prob(lp, i));
    return -warp_sum(s) / k;
}

template <class T>
__device__ double least_confidence(const T* lp, int k, int c, int lane) {
    double best = -INFINITY;
    for (int j = lane; j < c; j += 32) best = fmax(best, mean_prob(lp, k, c, j));
    return 1.0 - warp_max(best);
}

// p_mean(2nd) - p_mean(1st); with c = 1 the missing second class counts as probability 0.
template <class T>
__device__ double margin(const T* lp, int k, int c, int lane) {
    double top = -INFINITY, second = 0.0;
    for (int j = lane; j < c; j += 32) {
        const double p = mean_prob(lp, k, c, j);
        if (p > top) {
            second = fmax(second, top);  // not below 0: the first p must not make -inf the second
            top = p;
        } else {
            second = fmax(second, p);
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const double t2 = __shfl_xor_sync(kFull, top, o), s2 = __shfl_xor_sync(kFull, second, o);
        if (top >= t2) {
            second = fmax(second, t2);
        } else {
            second = fmax(s2, top);
            top = t2;
        }
    }
    return second - top;
}

// 1 - f_mode / K. Lanes split the samples; each finds its sample's argmax (ties: lowest class) and counts it in
// the warp's c counters in shared memory (integer atomics, so the counts are exact in any order).
template <class T>
__device__ double variation_ratio(const T* lp, int k, int c, int lane, int* counts) {
    for (int j = lane; j < c; j += 32) counts[j] = 0;
    __syncwarp();
    for (int kk = lane; kk < k; kk += 32) {
        const T* row = lp + (int64_t)kk * c;
        double best = prob(row, 0);
        int arg = 0;
        for (int j = 1; j < c; ++j) {
            const double p = prob(row, j);
            if (p > best) {
                best = p;
                arg = j;
            }
        }
        atomicAdd(&counts[arg], 1);
    }
    __syncwarp();
    int mode = 0;
    for (int j = lane; j < c; j += 32) mode = max(mode, counts[j]);
    mode = warp_max_int(mode);
    __syncwarp();  // the warp's next point clears the counters
    return 1.0 - (double)mode / k;
}

// (1/C) sum_c population std over k, two passes per class.
template <class T>
__device__ double mean_std(const T* lp, int k, int c, int lane) {
    double s = 0.0;
    for (int j = lane; j < c; j += 32) {
        const double mean = mean_prob(lp, k, c, j);
        double var = 0.0;
        for (int kk = 0; kk < k; ++kk) {
            const double d = prob(lp, (int64_t)kk * c + j) - mean;
            var += d * d;
        }
        s += sqrt(var / k);
    }
    return warp_sum(s) / c;
}

// One warp per pool point; `counts` (dynamic shared memory, c ints per warp) is used by variation ratios only.
template <class T>
__global__ void acq_score_kernel(const T* __restrict__ logp, int64_t n, int k, int c, int kind,
                                 double* __restrict__ scores) {
    QY_DYNAMIC_SHARED(int, acq_counts);
    const int lane = threadIdx.x & 31;
    const int64_t first = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int64_t stride = ((int64_t)blockDim.x * gridDim.x) >> 5;
    for (int64_t pt = first; pt < n; pt += stride) {
        const T* lp = logp + pt * k * c;
        double score = 0.0;
        switch (kind) {
            case QY_SCORE_ENTROPY:
                score = entropy_of_mean(lp, k, c, lane);
                break;
            case QY_SCORE_BALD:
                score = entropy_of_mean(lp, k, c, lane) - cond_entropy(lp, k, c, lane);
                break;
            case QY_SCORE_LEAST_CONFIDENCE:
                score = least_confidence(lp, k, c, lane);
                break;
            case QY_SCORE_MARGIN:
                score = margin(lp, k, c, lane);
                break;
            case QY_SCORE_VARIATION_RATIOS:
                score = variation_ratio(lp, k, c, lane, acq_counts + (threadIdx.x >> 5) * (int64_t)c);
                break;
            case QY_SCORE_MEAN_STD:
                score = mean_std(lp, k, c, lane);
                break;
            default:  // QY_SCORE_COND_ENTROPY
                score = cond_entropy(lp, k, c, lane);
                break;
        }
        if (lane == 0) scores[pt] = score;
    }
}

template <class T>
__global__ void logp_to_probs_kernel(const T* __restrict__ logp, int64_t count, double* __restrict__ probs) {
    QY_GRID_STRIDE(i, count) probs[i] = exp((double)logp[i]);
}

// ---- exact and sampled joints -------------------------------------------------------------------------------

// p_new[(i*c + j)*k + kk] = p[i*k + kk] * probs_a[kk*c + j]: one thread per output, writes coalesced.
__global__ void joint_extend_kernel(const double* __restrict__ p, int64_t m, const double* __restrict__ probs_a, int k,
                                    int c, double* __restrict__ p_new) {
    QY_GRID_STRIDE(o, m * c * k) {
        const int64_t row = o / k, i = row / c;
        const int kk = (int)(o - row * k), j = (int)(row - i * c);
        p_new[o] = p[i * k + kk] * probs_a[(int64_t)kk * c + j];
    }
}

// The first class j with u < probs[0] + ... + probs[j] (a running double sum, as on the CPU), else c - 1.
__device__ __forceinline__ int draw_class(const double* __restrict__ probs, int c, double u) {
    double cum = 0.0;
    for (int j = 0; j < c; ++j) {
        cum += probs[j];
        if (u < cum) return j;
    }
    return c - 1;
}

// One warp per row r (MC sample kk = r / s). Lanes own columns k' = k0 + lane of the row; for every 32 chosen
// points the lanes draw one class each in parallel and broadcast them, so nothing of size a is stored. The
// draws are repeated for each 32 columns (cheap: a Philox block and a c-step sum). The products run over the
// points in order and q_r sums the row in column order, the CPU's orders.
__global__ void joint_sample_kernel(const double* __restrict__ probs_chosen, int a, int k, int c, int64_t s,
                                    uint64_t seed, uint32_t step, double* __restrict__ p, double* __restrict__ w) {
    const int lane = threadIdx.x & 31;
    const int64_t m = (int64_t)k * s;
    const int64_t first = ((int64_t)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int64_t stride = ((int64_t)blockDim.x * gridDim.x) >> 5;
    for (int64_t r = first; r < m; r += stride) {
        const int kk = (int)(r / s);
        double qsum = 0.0;
        for (int k0 = 0; k0 < k; k0 += 32) {
            const int col = k0 + lane;
            double prod = 1.0;
            for (int i0 = 0; i0 < a; i0 += 32) {
                int mine = 0;
                if (i0 + lane < a) {
                    const qy::U4 blk = qy::joint_sample_block(seed, (uint64_t)r, (uint32_t)(i0 + lane), step);
                    const double u = qy::uniform01_f64(blk.x, blk.y);
                    mine = draw_class(probs_chosen + ((int64_t)(i0 + lane) * k + kk) * c, c, u);
                }
                const int nb = min(32, a - i0);
                for (int ii = 0; ii < nb; ++ii) {
                    const int y = __shfl_sync(kFull, mine, ii);
                    if (col < k) prod *= probs_chosen[((int64_t)(i0 + ii) * k + col) * c + y];
                }
            }
            if (col < k) p[r * k + col] = prod;
            for (int l = 0; l < 32 && k0 + l < k; ++l) qsum += __shfl_sync(kFull, prod, l);
        }
        if (lane == 0) {
            const double q = qsum / k;
            w[r] = q == 0.0 ? 0.0 : 1.0 / ((double)m * q);
        }
    }
}

// ---- fused joint entropy ------------------------------------------------------------------------------------
constexpr int JE_BM = 64, JE_BN = 128, JE_BK = 16, JE_THREADS = 256;
// Row pitches of 4 (mod 16) doubles make the MMA fragment reads conflict-free: lane (g, q) = (lane / 4, lane % 4)
// reads As[g][q] and Bs[q][g], in 8-byte bank pairs 4g + q and 4q + g (mod 16), distinct within a half-warp.
constexpr int JE_LDA = JE_BK + 4, JE_LDB = JE_BN + 4;
constexpr int JE_A_DOUBLES = JE_BM * JE_LDA;

// Block (blockIdx.x, blockIdx.y): columns [128 bx, 128 bx + 128) of J, row tiles [tiles_per_split * by, ...).
// Writes partial[by][col] = sum over its rows r of w[r] J[r][col] log J[r][col].
// Shared memory: As [64][LDA] then Bs [kpad or 16][LDB], kpad = k rounded up to 16 (zero rows past k).
template <bool RESIDENT>
__global__ void __launch_bounds__(JE_THREADS, 1)
    joint_entropy_kernel(const double* __restrict__ P, const double* __restrict__ w, int64_t m,
                         const double* __restrict__ probs, int64_t ncols, int k, int c, int64_t tiles_per_split,
                         double* __restrict__ partial) {
    QY_DYNAMIC_SHARED(double, je_smem);
    double* As = je_smem;
    double* Bs = je_smem + JE_A_DOUBLES;
    const int t = threadIdx.x, lane = t & 31, warp = t >> 5;
    const int wm = warp & 1, wn = warp >> 1;  // warp tile: rows 32 wm.., columns 32 wn..
    const int g = lane >> 2, q = lane & 3;    // MMA fragment coordinates
    const int64_t col0 = (int64_t)blockIdx.x * JE_BN;
    const int64_t rt0 = (int64_t)blockIdx.y * tiles_per_split;
    const int64_t rt1 = min(rt0 + tiles_per_split, ceil_div(m, JE_BM));
    const int nchunks = (int)ceil_div(k, JE_BK);
    const int64_t iters = rt1 > rt0 ? (rt1 - rt0) * nchunks : 0;
    const double inv_k = 1.0 / k;

    // B loader: thread t owns column t % 128 of the tile and depths t / 128 + 2 l. A warp reads 32 consecutive
    // columns of one depth: runs of c contiguous doubles, a column's depth stride being c.
    const int bcol = t % JE_BN, bk = t / JE_BN;
    constexpr int kBStep = JE_THREADS / JE_BN;
    const double* bsrc = nullptr;  // B[kk][col0 + bcol] = bsrc[kk * c]
    if (col0 + bcol < ncols) {
        const int64_t col = col0 + bcol, x = col / c;
        bsrc = probs + x * k * c + (col - x * c);
    }
    auto load_b = [&](int kk) { return (bsrc != nullptr && kk < k) ? bsrc[(int64_t)kk * c] : 0.0; };
    if (RESIDENT)
        for (int kk = bk; kk < nchunks * JE_BK; kk += kBStep) Bs[kk * JE_LDB + bcol] = load_b(kk);

    // A loader: thread t owns depth t % 16 and rows t / 16 + 16 l of each 64 x 16 chunk of P; a half-warp reads
    // 16 consecutive doubles of one row. Rows past m and depths past k load zeros (they add nothing to J).
    const int akk = t % JE_BK, arow = t / JE_BK;
    double ra[JE_BM * JE_BK / JE_THREADS];
    double rb[RESIDENT ? 1 : JE_BK / kBStep];
    auto fetch = [&](int64_t it) {
        const int64_t rt = rt0 + it / nchunks;
        const int kc = (int)(it % nchunks), kk = kc * JE_BK + akk;
#pragma unroll
        for (int l = 0; l < JE_BM * JE_BK / JE_THREADS; ++l) {
            const int64_t r = rt * JE_BM + arow + 16 * l;
            ra[l] = (r < m && kk < k) ? P[r * k + kk] : 0.0;
        }
        if (!RESIDENT)
#pragma unroll
            for (int l = 0; l < JE_BK / kBStep; ++l) rb[l] = load_b(kc * JE_BK + bk + kBStep * l);
    };

    double acc[4][4][2];
    double colsum[4][2];
#pragma unroll
    for (int ni = 0; ni < 4; ++ni) {
        colsum[ni][0] = colsum[ni][1] = 0.0;
#pragma unroll
        for (int mi = 0; mi < 4; ++mi) acc[mi][ni][0] = acc[mi][ni][1] = 0.0;
    }

    if (iters > 0) fetch(0);
    for (int64_t it = 0; it < iters; ++it) {
        const int64_t rt = rt0 + it / nchunks;
        const int kc = (int)(it % nchunks);
        __syncthreads();  // every warp is done reading the previous chunk
#pragma unroll
        for (int l = 0; l < JE_BM * JE_BK / JE_THREADS; ++l) As[(arow + 16 * l) * JE_LDA + akk] = ra[l];
        if (!RESIDENT)
#pragma unroll
            for (int l = 0; l < JE_BK / kBStep; ++l) Bs[(bk + kBStep * l) * JE_LDB + bcol] = rb[l];
        __syncthreads();
        if (it + 1 < iters) fetch(it + 1);  // in flight during this chunk's MMAs

        const double* Bk = Bs + (RESIDENT ? kc * JE_BK : 0) * JE_LDB;
        const int steps = (min(JE_BK, k - kc * JE_BK) + 3) / 4;  // 4-deep steps holding depths < k
#pragma unroll
        for (int ks = 0; ks < JE_BK / 4; ++ks) {
            if (ks < steps) {
                double af[4], bf[4];
#pragma unroll
                for (int mi = 0; mi < 4; ++mi) af[mi] = As[(wm * 32 + mi * 8 + g) * JE_LDA + ks * 4 + q];
#pragma unroll
                for (int ni = 0; ni < 4; ++ni) bf[ni] = Bk[(ks * 4 + q) * JE_LDB + wn * 32 + ni * 8 + g];
#pragma unroll
                for (int mi = 0; mi < 4; ++mi)
#pragma unroll
                    for (int ni = 0; ni < 4; ++ni) qy::ptx::mma_m8n8k4_f64(acc[mi][ni][0], acc[mi][ni][1], af[mi], bf[ni]);
            }
        }

        if (kc == nchunks - 1) {  // the row tile's J is complete: fold w[r] J log J into the column sums
#pragma unroll
            for (int mi = 0; mi < 4; ++mi) {
                const int64_t r = rt * JE_BM + wm * 32 + mi * 8 + g;
                const double wr = r < m ? (w != nullptr ? w[r] : 1.0) : 0.0;
#pragma unroll
                for (int ni = 0; ni < 4; ++ni)
#pragma unroll
                    for (int v = 0; v < 2; ++v) {
                        colsum[ni][v] += wr * xlogy(acc[mi][ni][v] * inv_k);
                        acc[mi][ni][v] = 0.0;
                    }
            }
        }
    }

    // Sum over the 8 row lanes g of a column (lanes q, q + 4, ..., q + 28), then over the two row warps.
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
        for (int v = 0; v < 2; ++v) {
            double s = colsum[ni][v];
            s += __shfl_xor_sync(kFull, s, 4);
            s += __shfl_xor_sync(kFull, s, 8);
            s += __shfl_xor_sync(kFull, s, 16);
            colsum[ni][v] = s;
        }
    __syncthreads();  // As is reused below
    double* red = As;  // [2][128]
    if (g == 0)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int v = 0; v < 2; ++v) red[wm * JE_BN + wn * 32 + ni * 8 + 2 * q + v] = colsum[ni][v];
    __syncthreads();
    if (t < JE_BN && col0 + t < ncols) partial[(int64_t)blockIdx.y * ncols + col0 + t] = red[t] + red[JE_BN + t];
}

// out[x] = -sum over splits, then over the c columns of x, of partial[split][x*c + j].
__global__ void joint_entropy_finish_kernel(const double* __restrict__ partial, int splits, int64_t ncols, int64_t n,
                                            int c, double* __restrict__ out) {
    QY_GRID_STRIDE(x, n) {
        double s = 0.0;
        for (int sp = 0; sp < splits; ++sp) {
            const double* row = partial + sp * ncols + x * c;
            for (int j = 0; j < c; ++j) s += row[j];
        }
        out[x] = -s;
    }
}

int device_smem_optin(int* bytes) {
    int dev = 0;
    QY_CUDA_CHECK(cudaGetDevice(&dev));
    QY_CUDA_CHECK(cudaDeviceGetAttribute(bytes, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
    return QY_OK;
}

template <class T>
int acq_score_launch(cudaStream_t s, const char* op, const T* logp, int64_t n, int k, int c, int kind,
                     double* scores) {
    constexpr size_t kDefaultSmem = 48 * 1024;
    int warps = 8;
    size_t smem = 0;
    if (kind == QY_SCORE_VARIATION_RATIOS) {
        const size_t per_warp = sizeof(int) * (size_t)c;
        warps = (int)std::max<size_t>(1, std::min<size_t>(8, kDefaultSmem / per_warp));
        smem = per_warp * (size_t)warps;
        if (smem > kDefaultSmem) {
            int optin = 0;
            if (int st = device_smem_optin(&optin)) return st;
            if (smem > (size_t)optin)
                return qy_set_error(QY_ERR_INVALID, "%s: variation ratios with c = %d classes needs %zu bytes of "
                                    "shared memory, the device allows %d", op, c, smem, optin);
            QY_CUDA_CHECK(cudaFuncSetAttribute(acq_score_kernel<T>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                               (int)smem));
        }
    }
    const int threads = 32 * warps;
    QY_LAUNCH(grid_for(n * 32, threads), threads, smem, s, acq_score_kernel<T>)(logp, n, k, c, kind, scores);
    return qy::cu::launch_status(op);
}

}  // namespace

int cuda_acq_score(void* stream, const void* logp, int dtype, int64_t n, int k, int c, int kind, double* scores) {
    const char* op = "qy_acq_score";
    cudaStream_t s = qy::cu::as_stream(stream);
    if (dtype == QY_F32) return acq_score_launch(s, op, static_cast<const float*>(logp), n, k, c, kind, scores);
    return acq_score_launch(s, op, static_cast<const double*>(logp), n, k, c, kind, scores);
}

int cuda_logp_to_probs(void* stream, const void* logp, int dtype, int64_t count, double* probs) {
    cudaStream_t s = qy::cu::as_stream(stream);
    const unsigned blocks = grid_for(count);
    if (dtype == QY_F32)
        QY_LAUNCH(blocks, kThreads, 0, s, logp_to_probs_kernel<float>)(static_cast<const float*>(logp), count, probs);
    else
        QY_LAUNCH(blocks, kThreads, 0, s, logp_to_probs_kernel<double>)(static_cast<const double*>(logp), count, probs);
    return qy::cu::launch_status("qy_logp_to_probs");
}

int cuda_joint_extend(void* stream, const double* p, int64_t m, const double* probs_a, int k, int c, double* p_new) {
    QY_LAUNCH(grid_for(m * c * k), kThreads, 0, qy::cu::as_stream(stream), joint_extend_kernel)(p, m, probs_a, k, c, p_new);
    return qy::cu::launch_status("qy_joint_extend");
}

int cuda_joint_sample(void* stream, const double* probs_chosen, int a, int k, int c, int64_t s, uint64_t seed,
                      uint32_t step, double* p, double* w) {
    QY_LAUNCH(grid_for((int64_t)k * s * 32), kThreads, 0, qy::cu::as_stream(stream), joint_sample_kernel)(
        probs_chosen, a, k, c, s, seed, step, p, w);
    return qy::cu::launch_status("qy_joint_sample");
}

int cuda_joint_entropy(void* stream, const double* p, const double* w, int64_t m, const double* probs, int64_t n,
                       int k, int c, double* out) {
    const char* op = "qy_joint_entropy";
    cudaStream_t s = qy::cu::as_stream(stream);
    const int64_t ncols = n * c, col_tiles = ceil_div(ncols, JE_BN), row_tiles = ceil_div(m, JE_BM);
    if (col_tiles > INT_MAX)
        return qy_set_error(QY_ERR_INVALID, "%s: %lld candidates x %d classes is too many for one call", op,
                            (long long)n, c);
    // One block per SM fits (shared memory and registers): split the rows only to reach about two waves.
    int64_t splits = ceil_div(2 * (int64_t)qy::cu::sm_count(), col_tiles);
    splits = std::max<int64_t>(1, std::min(splits, row_tiles));
    const int64_t per = ceil_div(row_tiles, splits);
    splits = ceil_div(row_tiles, per);

    const int64_t nchunks = ceil_div(k, JE_BK);
    const size_t resident = sizeof(double) * (size_t)(JE_A_DOUBLES + nchunks * JE_BK * JE_LDB);
    const size_t streaming = sizeof(double) * (size_t)(JE_A_DOUBLES + JE_BK * JE_LDB);
    int optin = 0;
    if (int st = device_smem_optin(&optin)) return st;

    qy::cu::Scratch part(s);
    if (int st = part.alloc(sizeof(double) * (size_t)(splits * ncols), op)) return st;
    const dim3 grid((unsigned)col_tiles, (unsigned)splits);
    if (resident <= (size_t)optin) {
        QY_CUDA_CHECK(cudaFuncSetAttribute(joint_entropy_kernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           (int)resident));
        QY_LAUNCH(grid, JE_THREADS, resident, s, joint_entropy_kernel<true>)(p, w, m, probs, ncols, k, c, per,
                                                                      part.as<double>());
    } else {
        QY_LAUNCH(grid, JE_THREADS, streaming, s, joint_entropy_kernel<false>)(p, w, m, probs, ncols, k, c, per,
                                                                        part.as<double>());
    }
    QY_LAUNCH_CHECK(op);
    QY_LAUNCH(grid_for(n), kThreads, 0, s, joint_entropy_finish_kernel)(part.as<double>(), (int)splits, ncols, n, c, out);
    return qy::cu::launch_status(op);
}
