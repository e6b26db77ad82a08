// conv2d forward and backward (CUDA): NHWC activations, weights [cout][kh][kw][cin], zero padding. CPU twin:
// cpu/conv.cpp. All three are implicit GEMMs on the 64x64 tile main loop of common.cuh; nothing is im2col'ed
// into memory, the loaders gather straight from the tensors:
//   fwd:         y[M][cout]   = col(x)[M][K] . w^T                M = n*ho*wo, K = kh*kw*cin, k = (ky*kw+kx)*cin+ci
//   bwd_data:    dx[n*h*w][cin] = taps(dy)[.][kh*kw*cout] . w     gather form: every dx element sums its own taps
//                (ky, kx, co) with (iy + ph - ky) divisible by sh, so no atomics and no col2im pass
//   bwd_filter:  dw[cout][K]  = dy^T[cout][M] . col(x)[M][K]       the M reduction is split over gridDim.z into
//                partials summed in a fixed order (deterministic), dbias = column sums of dy
// Napkin math (ResNet-18 CIFAR 3x3 conv 64->64 on 32x32, batch 128): M = 131072, K = 576, cout = 64, so
// 2*M*K*cout = 9.7 GFLOP per pass against 2 x 33.5 MB of activations: compute-bound (0.14 ms at an H100's
// ~67 TFLOP/s fp32, 0.02 ms of bandwidth); expect this fp32 4x4-per-thread tile within 2-3x of that floor (not yet
// measured). Strided bwd_data still walks all kh*kw taps per dx element, of which only 1/(sh*sw) are valid.
#include "common.cuh"

namespace {

using qy::cu::ceil_div;
namespace tile = qy::cu::tile;

constexpr int kFar = -(1 << 29);  // a start row/column that makes every tap fall outside the image

struct ConvDims {
    int n, h, w, cin, cout, kh, kw, sh, sw, ph, pw, ho, wo;
};

__device__ __forceinline__ bool inside(int v, int limit) { return (unsigned)v < (unsigned)limit; }

// ---- forward -------------------------------------------------------------------------------------------------
// A(m, k) = x[img][oy*sh - ph + ky][ox*sw - pw + kx][ci] (k-fast: consecutive k are consecutive channels),
// B(k, co) = w[co][k] (k-fast).
struct FwdLoader {
    const float* x;
    const float* wt;
    ConvDims d;
    int K;
    int64_t xbase[4];
    int iy0[4], ix0[4];
    const float* wrow[4];

    __device__ FwdLoader(const float* x_, const float* wt_, const ConvDims& d_, int M, int K_, int row0, int col0)
        : x(x_), wt(wt_), d(d_), K(K_) {
        const int t = threadIdx.x, pixels = d.ho * d.wo;
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            const int m = row0 + tile::load_outer(true, t, l);
            if (m < M) {
                const int img = m / pixels, p = m - img * pixels, oy = p / d.wo, ox = p - oy * d.wo;
                xbase[l] = (int64_t)img * d.h * d.w * d.cin;
                iy0[l] = oy * d.sh - d.ph;
                ix0[l] = ox * d.sw - d.pw;
            } else {
                xbase[l] = 0;
                iy0[l] = kFar;
                ix0[l] = kFar;
            }
            const int co = col0 + tile::load_outer(true, t, l);
            wrow[l] = co < d.cout ? wt + (int64_t)co * K : nullptr;
        }
    }

    __device__ void fetch(int k0, float (&ra)[4], float (&rb)[4]) const {
        const int k = k0 + tile::load_k(true, threadIdx.x);
        if (k >= K) {
#pragma unroll
            for (int l = 0; l < 4; ++l) ra[l] = rb[l] = 0.0f;
            return;
        }
        const int ci = k % d.cin, tap = k / d.cin, kx = tap % d.kw, ky = tap / d.kw;
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            const int iy = iy0[l] + ky, ix = ix0[l] + kx;
            ra[l] = inside(iy, d.h) && inside(ix, d.w) ? __ldg(x + xbase[l] + ((int64_t)iy * d.w + ix) * d.cin + ci)
                                                       : 0.0f;
            rb[l] = wrow[l] ? __ldg(wrow[l] + k) : 0.0f;
        }
    }
};

__global__ void __launch_bounds__(tile::THREADS, tile::MIN_BLOCKS)
    conv_fwd_kernel(const float* __restrict__ x, const float* __restrict__ wt, const float* __restrict__ bias,
                    float* __restrict__ y, ConvDims d, int M, int K) {
    const int row0 = blockIdx.x * tile::BM, col0 = blockIdx.y * tile::BN;
    const FwdLoader ld(x, wt, d, M, K, row0, col0);
    float acc[4][4] = {};
    tile::mainloop<true, true>(ld, 0, (int)ceil_div(K, tile::BK), acc);
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int m = row0 + ty * 4 + i;
        if (m >= M) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int co = col0 + tx * 4 + j;
            if (co < d.cout) y[(int64_t)m * d.cout + co] = bias ? acc[i][j] + bias[co] : acc[i][j];
        }
    }
}

// ---- backward data -------------------------------------------------------------------------------------------
// Rows m = (img, iy, ix) of dx, columns ci, k = (ky*kw + kx)*cout + co.
// A(m, k) = dy[img][oy][ox][co] with oy = (iy + ph - ky) / sh when that divides exactly and is in range, else 0
// (k-fast: consecutive k are consecutive output channels). B(k, ci) = w[co][ky][kx][ci] (contiguous along ci).
template <bool UNIT_STRIDE>
struct DataLoader {
    const float* dy;
    const float* wt;
    ConvDims d;
    int K;
    int64_t dybase[4];
    int py[4], px[4];  // iy + ph, ix + pw
    int ci[4];

    __device__ DataLoader(const float* dy_, const float* wt_, const ConvDims& d_, int M, int K_, int row0, int col0)
        : dy(dy_), wt(wt_), d(d_), K(K_) {
        const int t = threadIdx.x, pixels = d.h * d.w;
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            const int m = row0 + tile::load_outer(true, t, l);
            if (m < M) {
                const int img = m / pixels, p = m - img * pixels, iy = p / d.w, ix = p - iy * d.w;
                dybase[l] = (int64_t)img * d.ho * d.wo * d.cout;
                py[l] = iy + d.ph;
                px[l] = ix + d.pw;
            } else {
                dybase[l] = 0;
                py[l] = kFar;
                px[l] = kFar;
            }
            ci[l] = col0 + tile::load_outer(false, t, l);
        }
    }

    __device__ void fetch(int k0, float (&ra)[4], float (&rb)[4]) const {
        const int ka = k0 + tile::load_k(true, threadIdx.x);
        if (ka < K) {
            const int co = ka % d.cout, tap = ka / d.cout, kx = tap % d.kw, ky = tap / d.kw;
#pragma unroll
            for (int l = 0; l < 4; ++l) {
                const int ty = py[l] - ky, tx = px[l] - kx;
                int oy = ty, ox = tx;
                bool ok = ty >= 0 && tx >= 0;
                if (!UNIT_STRIDE && ok) {
                    oy = ty / d.sh;
                    ox = tx / d.sw;
                    ok = oy * d.sh == ty && ox * d.sw == tx;
                }
                ok = ok && oy < d.ho && ox < d.wo;
                ra[l] = ok ? __ldg(dy + dybase[l] + ((int64_t)oy * d.wo + ox) * d.cout + co) : 0.0f;
            }
        } else {
#pragma unroll
            for (int l = 0; l < 4; ++l) ra[l] = 0.0f;
        }
        const int kb = k0 + tile::load_k(false, threadIdx.x);
        if (kb < K) {
            const int co = kb % d.cout, tap = kb / d.cout;
            const float* wrow = wt + ((int64_t)co * d.kh * d.kw + tap) * d.cin;
#pragma unroll
            for (int l = 0; l < 4; ++l) rb[l] = ci[l] < d.cin ? __ldg(wrow + ci[l]) : 0.0f;
        } else {
#pragma unroll
            for (int l = 0; l < 4; ++l) rb[l] = 0.0f;
        }
    }
};

template <bool UNIT_STRIDE>
__global__ void __launch_bounds__(tile::THREADS, tile::MIN_BLOCKS)
    conv_bwd_data_kernel(const float* __restrict__ dy, const float* __restrict__ wt, float* __restrict__ dx, ConvDims d,
                         int M, int K) {
    const int row0 = blockIdx.x * tile::BM, col0 = blockIdx.y * tile::BN;
    const DataLoader<UNIT_STRIDE> ld(dy, wt, d, M, K, row0, col0);
    float acc[4][4] = {};
    tile::mainloop<true, false>(ld, 0, (int)ceil_div(K, tile::BK), acc);
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int m = row0 + ty * 4 + i;
        if (m >= M) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int c = col0 + tx * 4 + j;
            if (c < d.cin) dx[(int64_t)m * d.cin + c] = acc[i][j];
        }
    }
}

// ---- backward filter -----------------------------------------------------------------------------------------
// Rows co, columns k = (ky*kw + kx)*cin + ci, reduction over r = (img, oy, ox).
// A(co, r) = dy[r][co] (contiguous along co), B(r, k) = col(x)[r][k] (contiguous along k). Both operands share the
// thread's r, so r is decomposed once per k-step; each thread's four k are decomposed once per block.
struct FilterLoader {
    const float* x;
    const float* dy;
    ConvDims d;
    int R;
    int co[4];
    int ky[4], kx[4], ci[4];

    __device__ FilterLoader(const float* x_, const float* dy_, const ConvDims& d_, int R_, int K, int row0, int col0)
        : x(x_), dy(dy_), d(d_), R(R_) {
        const int t = threadIdx.x;
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            co[l] = row0 + tile::load_outer(false, t, l);
            const int k = col0 + tile::load_outer(false, t, l);
            if (k < K) {
                const int tap = k / d.cin;
                ci[l] = k - tap * d.cin;
                kx[l] = tap % d.kw;
                ky[l] = tap / d.kw;
            } else {
                ci[l] = 0;
                kx[l] = 0;
                ky[l] = kFar;
            }
        }
    }

    __device__ void fetch(int r0, float (&ra)[4], float (&rb)[4]) const {
        const int r = r0 + tile::load_k(false, threadIdx.x);
        if (r >= R) {
#pragma unroll
            for (int l = 0; l < 4; ++l) ra[l] = rb[l] = 0.0f;
            return;
        }
        const int pixels = d.ho * d.wo;
        const int img = r / pixels, p = r - img * pixels, oy = p / d.wo, ox = p - oy * d.wo;
        const int iy0 = oy * d.sh - d.ph, ix0 = ox * d.sw - d.pw;
        const float* ximg = x + (int64_t)img * d.h * d.w * d.cin;
        const float* dyrow = dy + (int64_t)r * d.cout;
#pragma unroll
        for (int l = 0; l < 4; ++l) {
            ra[l] = co[l] < d.cout ? __ldg(dyrow + co[l]) : 0.0f;
            const int iy = iy0 + ky[l], ix = ix0 + kx[l];
            rb[l] = inside(iy, d.h) && inside(ix, d.w) ? __ldg(ximg + ((int64_t)iy * d.w + ix) * d.cin + ci[l]) : 0.0f;
        }
    }
};

// Split z sums reduction steps [z*per, min((z+1)*per, rtiles)) into part[z] (or straight into dwt when unsplit).
__global__ void __launch_bounds__(tile::THREADS, tile::MIN_BLOCKS)
    conv_bwd_filter_kernel(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ out,
                           ConvDims d, int R, int K, int per) {
    const int row0 = blockIdx.y * tile::BM, col0 = blockIdx.x * tile::BN;
    const int rtiles = (int)ceil_div(R, tile::BK);
    const int kt0 = blockIdx.z * per, kt1 = min(kt0 + per, rtiles);
    const FilterLoader ld(x, dy, d, R, K, row0, col0);
    float acc[4][4] = {};
    tile::mainloop<false, false>(ld, kt0, kt1, acc);
    float* o = out + (int64_t)blockIdx.z * d.cout * K;
    const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int c = row0 + ty * 4 + i;
        if (c >= d.cout) continue;
#pragma unroll
        for (int j = 0; j < 4; ++j) {
            const int k = col0 + tx * 4 + j;
            if (k < K) o[(int64_t)c * K + k] = acc[i][j];
        }
    }
}

ConvDims make_dims(int n, int h, int w, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw) {
    return ConvDims{n, h, w, cin, cout, kh, kw, sh, sw, ph, pw, (h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1};
}

// The kernels index GEMM rows and columns with int (every GEMM dimension must stay a tile short of INT_MAX), put
// channel tiles on gridDim.y (at most 65535), and need padded image sides far from INT_MAX for the kFar trick.
int check_fits(const char* op, const ConvDims& d) {
    const int64_t limit = INT_MAX - tile::BM, side = 1 << 28;
    const int64_t rows_out = (int64_t)d.n * d.ho * d.wo, rows_in = (int64_t)d.n * d.h * d.w;
    const int64_t k_fwd = (int64_t)d.kh * d.kw * d.cin, k_data = (int64_t)d.kh * d.kw * d.cout;
    if (rows_out > limit || rows_in > limit || k_fwd > limit || k_data > limit ||
        ceil_div(d.cin, tile::BN) > 65535 || ceil_div(d.cout, tile::BN) > 65535 ||
        (int64_t)d.h + 2 * (int64_t)d.ph > side || (int64_t)d.w + 2 * (int64_t)d.pw > side)
        return qy_set_error(QY_ERR_INVALID, "%s: shape x=[%d,%d,%d,%d] w=[%d,%d,%d,%d] too large for the CUDA kernels",
                            op, d.n, d.h, d.w, d.cin, d.cout, d.kh, d.kw, d.cin);
    return QY_OK;
}

}  // namespace

int cuda_conv2d_fwd(void* stream, const float* x, const float* wt, const float* bias, float* y, int n, int h, int w,
                    int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw) {
    const char* op = "qy_conv2d_fwd";
    const ConvDims d = make_dims(n, h, w, cin, cout, kh, kw, sh, sw, ph, pw);
    if (int s = check_fits(op, d)) return s;
    const int M = n * d.ho * d.wo, K = kh * kw * cin;
    const dim3 grid((unsigned)ceil_div(M, tile::BM), (unsigned)ceil_div(cout, tile::BN));
    QY_LAUNCH(grid, tile::THREADS, 0, qy::cu::as_stream(stream), conv_fwd_kernel)(x, wt, bias, y, d, M, K);
    return qy::cu::launch_status(op);
}

int cuda_conv2d_bwd_data(void* stream, const float* dy, const float* wt, float* dx, int n, int h, int w, int cin,
                         int cout, int kh, int kw, int sh, int sw, int ph, int pw) {
    const char* op = "qy_conv2d_bwd_data";
    const ConvDims d = make_dims(n, h, w, cin, cout, kh, kw, sh, sw, ph, pw);
    if (int s = check_fits(op, d)) return s;
    const int M = n * h * w, K = kh * kw * cout;
    const dim3 grid((unsigned)ceil_div(M, tile::BM), (unsigned)ceil_div(cin, tile::BN));
    cudaStream_t s = qy::cu::as_stream(stream);
    if (sh == 1 && sw == 1)
        QY_LAUNCH(grid, tile::THREADS, 0, s, conv_bwd_data_kernel<true>)(dy, wt, dx, d, M, K);
    else
        QY_LAUNCH(grid, tile::THREADS, 0, s, conv_bwd_data_kernel<false>)(dy, wt, dx, d, M, K);
    return qy::cu::launch_status(op);
}

int cuda_conv2d_bwd_filter(void* stream, const float* x, const float* dy, float* dwt, float* dbias, int n, int h,
                           int w, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw) {
    const char* op = "qy_conv2d_bwd_filter";
    const ConvDims d = make_dims(n, h, w, cin, cout, kh, kw, sh, sw, ph, pw);
    if (int s = check_fits(op, d)) return s;
    const int R = n * d.ho * d.wo, K = kh * kw * cin;
    cudaStream_t s = qy::cu::as_stream(stream);
    const int64_t gx = ceil_div(K, tile::BN), gy = ceil_div(cout, tile::BM);
    int per = 0;
    const int splits = qy::cu::choose_splits(gx * gy, ceil_div(R, tile::BK), 8, &per);
    const dim3 grid((unsigned)gx, (unsigned)gy, (unsigned)splits);
    if (splits == 1) {
        QY_LAUNCH(grid, tile::THREADS, 0, s, conv_bwd_filter_kernel)(x, dy, dwt, d, R, K, per);
        QY_LAUNCH_CHECK(op);
    } else {
        const int64_t len = (int64_t)cout * K;
        qy::cu::Scratch part(s);
        if (int st = part.alloc(sizeof(float) * (size_t)(len * splits), op)) return st;
        QY_LAUNCH(grid, tile::THREADS, 0, s, conv_bwd_filter_kernel)(x, dy, part.as<float>(), d, R, K, per);
        QY_LAUNCH_CHECK(op);
        if (int st = qy::cu::splitk_sum(s, op, part.as<float>(), splits, len, nullptr, 1, dwt)) return st;
    }
    if (dbias) return qy::cu::column_sums(s, op, dy, R, cout, dbias);
    return QY_OK;
}
