// Max pool 2x2 (stride 2, floor) and global average pool (CUDA), NHWC. CPU twin: cpu/pool.cpp.
// Max pool keeps the first maximum in window order (0,0),(0,1),(1,0),(1,1) (strict >, as on the CPU); the
// backward pass writes all of dx: each window's four elements from one thread, then zeros for the last row and
// column that the floor drops when h or w is odd.
// Napkin math: all memory-bound. maxpool bwd on 128 x 32 x 32 x 64 reads x (33.5 MB) and dy (8.4 MB) and writes dx
// (33.5 MB): >= 25 us at ~3 TB/s.
#include "common.cuh"

namespace {

using qy::cu::grid_for;
using qy::cu::kThreads;

// Element offsets of a window's four taps and the index of the first maximum among them.
struct Window {
    int64_t base;
    int64_t offs[4];
};

__device__ __forceinline__ Window window_of(int64_t i, int h, int w, int c) {
    const int ho = h / 2, wo = w / 2;
    const int64_t ch = i % c, win = i / c;
    const int64_t ox = win % wo, t = win / wo, oy = t % ho, img = t / ho;
    Window out;
    out.base = ((img * h + 2 * oy) * w + 2 * ox) * c + ch;
    out.offs[0] = 0;
    out.offs[1] = c;
    out.offs[2] = (int64_t)w * c;
    out.offs[3] = (int64_t)w * c + c;
    return out;
}

__device__ __forceinline__ int first_max(const float* __restrict__ x, const Window& win, float* best_value) {
    int best = 0;
    float m = x[win.base];
#pragma unroll
    for (int q = 1; q < 4; ++q) {
        const float v = x[win.base + win.offs[q]];
        if (v > m) {
            m = v;
            best = q;
        }
    }
    *best_value = m;
    return best;
}

__global__ void maxpool_fwd_kernel(const float* __restrict__ x, float* __restrict__ y, int64_t total, int h, int w,
                                   int c) {
    QY_GRID_STRIDE(i, total) {
        float m;
        first_max(x, window_of(i, h, w, c), &m);
        y[i] = m;
    }
}

__global__ void maxpool_bwd_kernel(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dx,
                                   int64_t total, int h, int w, int c) {
    QY_GRID_STRIDE(i, total) {
        const Window win = window_of(i, h, w, c);
        float m;
        const int best = first_max(x, win, &m);
        const float g = dy[i];
#pragma unroll
        for (int q = 0; q < 4; ++q) dx[win.base + win.offs[q]] = q == best ? g : 0.0f;
    }
}

// Zeros for the elements no window covers: column w-1 of rows [0, 2*(h/2)) when w is odd (first `col` items),
// then all of row h-1 when h is odd.
__global__ void maxpool_bwd_tail_kernel(float* __restrict__ dx, int64_t col, int64_t total, int h, int w, int c) {
    const int rows = 2 * (h / 2);
    QY_GRID_STRIDE(i, total) {
        int64_t img, y, x;
        const int64_t ch = i < col ? i % c : (i - col) % c;
        if (i < col) {
            const int64_t t = i / c;
            y = t % rows;
            img = t / rows;
            x = w - 1;
        } else {
            const int64_t t = (i - col) / c;
            x = t % w;
            img = t / w;
            y = h - 1;
        }
        dx[((img * h + y) * w + x) * c + ch] = 0.0f;
    }
}

// One thread per (image, channel): consecutive threads read consecutive channels of each pixel.
__global__ void avgpool_fwd_kernel(const float* __restrict__ x, float* __restrict__ y, int n, int hw, int c) {
    QY_GRID_STRIDE(i, (int64_t)n * c) {
        const int64_t img = i / c, ch = i % c;
        const float* xi = x + img * hw * c + ch;
        double acc = 0.0;
        for (int p = 0; p < hw; ++p) acc += xi[(int64_t)p * c];
        y[i] = (float)(acc / hw);
    }
}

__global__ void avgpool_bwd_kernel(const float* __restrict__ dy, float* __restrict__ dx, int64_t total, int hw, int c,
                                   float inv) {
    QY_GRID_STRIDE(i, total) {
        const int64_t ch = i % c, img = i / ((int64_t)hw * c);
        dx[i] = dy[img * c + ch] * inv;
    }
}

}  // namespace

int cuda_maxpool2x2_fwd(void* stream, const float* x, float* y, int n, int h, int w, int c) {
    const int64_t total = (int64_t)n * (h / 2) * (w / 2) * c;
    QY_LAUNCH(grid_for(total), kThreads, 0, qy::cu::as_stream(stream), maxpool_fwd_kernel)(x, y, total, h, w, c);
    return qy::cu::launch_status("qy_maxpool2x2_fwd");
}

int cuda_maxpool2x2_bwd(void* stream, const float* x, const float* dy, float* dx, int n, int h, int w, int c) {
    const char* op = "qy_maxpool2x2_bwd";
    cudaStream_t s = qy::cu::as_stream(stream);
    const int64_t total = (int64_t)n * (h / 2) * (w / 2) * c;
    QY_LAUNCH(grid_for(total), kThreads, 0, s, maxpool_bwd_kernel)(x, dy, dx, total, h, w, c);
    QY_LAUNCH_CHECK(op);
    const int64_t col = (w % 2) ? (int64_t)n * (2 * (h / 2)) * c : 0;
    const int64_t row = (h % 2) ? (int64_t)n * w * c : 0;
    if (col + row == 0) return QY_OK;
    QY_LAUNCH(grid_for(col + row), kThreads, 0, s, maxpool_bwd_tail_kernel)(dx, col, col + row, h, w, c);
    return qy::cu::launch_status(op);
}

int cuda_avgpool_global_fwd(void* stream, const float* x, float* y, int n, int hw, int c) {
    QY_LAUNCH(grid_for((int64_t)n * c), kThreads, 0, qy::cu::as_stream(stream), avgpool_fwd_kernel)(x, y, n, hw, c);
    return qy::cu::launch_status("qy_avgpool_global_fwd");
}

int cuda_avgpool_global_bwd(void* stream, const float* dy, float* dx, int n, int hw, int c) {
    const int64_t total = (int64_t)n * hw * c;
    const float inv = 1.0f / (float)hw;
    QY_LAUNCH(grid_for(total), kThreads, 0, qy::cu::as_stream(stream), avgpool_bwd_kernel)(dy, dx, total, hw, c, inv);
    return qy::cu::launch_status("qy_avgpool_global_bwd");
}
