// conv2d forward and backward (CPU), NHWC activations, weights [cout][kh][kw][cin].
// Lowered to GEMM: a patch row of im2col is [kh][kw][cin], which is exactly a weight row, so
//   fwd:         y[M][cout]  = col[M][K] * W^T,   M = n*ho*wo, K = kh*kw*cin
//   bwd_data:    dcol[M][K]  = dy[M][cout] * W,   then col2im scatters dcol into dx
//   bwd_filter:  dW[cout][K] = dy^T * col
// Images are processed in chunks so the im2col buffer stays under kColBytes. A 1x1, stride-1, unpadded conv
// needs no im2col: x already is col. The im2col buffer is kept per calling thread and only grows: allocated per call
// (a std::vector, up to 64 MiB) it came fresh from mmap each time, the kernel faulted in and zeroed every page and the
// vector zeroed it once more (quarry bench mc --model convnet, pool 2,000, K = 20: 799k page faults per run, 123k now).
#include <algorithm>
#include <cstring>
#include <memory>
#include <new>

#include "backend.h"
#include "gemm.h"

namespace {

constexpr int64_t kColBytes = 64ll << 20;

struct ConvShape {
    int n, h, w, cin, cout, kh, kw, sh, sw, ph, pw, ho, wo;
    int64_t k() const { return (int64_t)kh * kw * cin; }
    int64_t pixels() const { return (int64_t)ho * wo; }
    bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
    int chunk() const {
        int64_t per_image = pixels() * k() * (int64_t)sizeof(float);
        return (int)std::max<int64_t>(1, std::min<int64_t>(n, kColBytes / std::max<int64_t>(per_image, 1)));
    }
};

// The calling thread's im2col buffer, at least n floats, uninitialised (im2col and the GEMMs write every element
// they later read); null when it cannot be allocated. One call uses one buffer at a time.
float* col_buffer(size_t n) {
    thread_local std::unique_ptr<float[]> buf;
    thread_local size_t cap = 0;
    if (n > cap) {
        buf.reset();
        cap = 0;
        buf.reset(new (std::nothrow) float[n]);
        if (!buf) return nullptr;
        cap = n;
    }
    return buf.get();
}

int col_oom(const char* op, const ConvShape& s) {
    return qy_set_error(QY_ERR_OOM, "%s: out of host memory for an im2col buffer of %d images x %lld floats", op, s.chunk(),
                        (long long)(s.pixels() * s.k()));
}

ConvShape make_shape(int n, int h, int w, int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw) {
    return ConvShape{n, h, w, cin, cout, kh, kw, sh, sw, ph, pw, (h + 2 * ph - kh) / sh + 1, (w + 2 * pw - kw) / sw + 1};
}

// col[(img*ho + oy)*wo + ox][(ky*kw + kx)*cin + c] = x[img][oy*sh - ph + ky][ox*sw - pw + kx][c], 0 outside.
void im2col(const ConvShape& s, const float* x, int images, float* col) {
    const int64_t rows = (int64_t)images * s.pixels();
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
        int img = (int)(r / s.pixels());
        int oy = (int)(r % s.pixels()) / s.wo, ox = (int)(r % s.pixels()) % s.wo;
        float* dst = col + r * s.k();
        const int ix0 = ox * s.sw - s.pw;
        for (int ky = 0; ky < s.kh; ++ky) {
            int iy = oy * s.sh - s.ph + ky;
            if (s.sw == 1 && iy >= 0 && iy < s.h && ix0 >= 0 && ix0 + s.kw <= s.w) {
                // stride 1, the whole kernel row inside the image: kw * cin contiguous floats of x, one copy
                const size_t n = (size_t)s.kw * s.cin;
                std::memcpy(dst, x + (((int64_t)img * s.h + iy) * s.w + ix0) * s.cin, sizeof(float) * n);
                dst += n;
                continue;
            }
            for (int kx = 0; kx < s.kw; ++kx, dst += s.cin) {
                int ix = ox * s.sw - s.pw + kx;
                if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w)
                    std::memset(dst, 0, sizeof(float) * (size_t)s.cin);
                else
                    std::memcpy(dst, x + (((int64_t)img * s.h + iy) * s.w + ix) * s.cin, sizeof(float) * (size_t)s.cin);
            }
        }
    }
}

// dx[img] += scatter of dcol; each image is owned by one thread, so no two threads write the same element.
void col2im(const ConvShape& s, const float* dcol, int images, float* dx) {
#pragma omp parallel for schedule(static)
    for (int img = 0; img < images; ++img) {
        float* dximg = dx + (int64_t)img * s.h * s.w * s.cin;
        std::memset(dximg, 0, sizeof(float) * (size_t)((int64_t)s.h * s.w * s.cin));
        for (int64_t p = 0; p < s.pixels(); ++p) {
            int oy = (int)(p / s.wo), ox = (int)(p % s.wo);
            const float* src = dcol + ((int64_t)img * s.pixels() + p) * s.k();
            for (int ky = 0; ky < s.kh; ++ky) {
                int iy = oy * s.sh - s.ph + ky;
                for (int kx = 0; kx < s.kw; ++kx, src += s.cin) {
                    int ix = ox * s.sw - s.pw + kx;
                    if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
                    float* dst = dximg + ((int64_t)iy * s.w + ix) * s.cin;
                    for (int c = 0; c < s.cin; ++c) dst[c] += src[c];
                }
            }
        }
    }
}

}  // namespace

int cpu_conv2d_fwd(void*, const float* x, const float* wt, const float* bias, float* y, int n, int h, int w, int cin,
                   int cout, int kh, int kw, int sh, int sw, int ph, int pw) {
    ConvShape s = make_shape(n, h, w, cin, cout, kh, kw, sh, sw, ph, pw);
    const int chunk = s.chunk();
    float* col = s.pointwise() ? nullptr : col_buffer((size_t)(chunk * s.pixels() * s.k()));
    if (!s.pointwise() && !col) return col_oom("qy_conv2d_fwd", s);
    for (int i0 = 0; i0 < n; i0 += chunk) {
        int images = std::min(chunk, n - i0);
        int64_t rows = images * s.pixels();
        const float* a = x + (int64_t)i0 * h * w * cin;
        if (!s.pointwise()) {
            im2col(s, a, images, col);
            a = col;
        }
        float* yc = y + (int64_t)i0 * s.pixels() * cout;
        qy::sgemm(false, true, rows, cout, s.k(), 1.0f, a, s.k(), wt, s.k(), 0.0f, yc, cout);
        if (bias) {
#pragma omp parallel for schedule(static)
            for (int64_t r = 0; r < rows; ++r)
                for (int c = 0; c < cout; ++c) yc[r * cout + c] += bias[c];
        }
    }
    return QY_OK;
}

int cpu_conv2d_bwd_data(void*, const float* dy, const float* wt, float* dx, int n, int h, int w, int cin, int cout,
                        int kh, int kw, int sh, int sw, int ph, int pw) {
    ConvShape s = make_shape(n, h, w, cin, cout, kh, kw, sh, sw, ph, pw);
    const int chunk = s.chunk();
    float* dcol = s.pointwise() ? nullptr : col_buffer((size_t)(chunk * s.pixels() * s.k()));
    if (!s.pointwise() && !dcol) return col_oom("qy_conv2d_bwd_data", s);
    for (int i0 = 0; i0 < n; i0 += chunk) {
        int images = std::min(chunk, n - i0);
        int64_t rows = images * s.pixels();
        const float* dyc = dy + (int64_t)i0 * s.pixels() * cout;
        float* dxc = dx + (int64_t)i0 * h * w * cin;
        float* out = s.pointwise() ? dxc : dcol;
        qy::sgemm(false, false, rows, s.k(), cout, 1.0f, dyc, cout, wt, s.k(), 0.0f, out, s.k());
        if (!s.pointwise()) col2im(s, dcol, images, dxc);
    }
    return QY_OK;
}

int cpu_conv2d_bwd_filter(void*, const float* x, const float* dy, float* dwt, float* dbias, int n, int h, int w,
                          int cin, int cout, int kh, int kw, int sh, int sw, int ph, int pw) {
    ConvShape s = make_shape(n, h, w, cin, cout, kh, kw, sh, sw, ph, pw);
    const int chunk = s.chunk();
    float* col = s.pointwise() ? nullptr : col_buffer((size_t)(chunk * s.pixels() * s.k()));
    if (!s.pointwise() && !col) return col_oom("qy_conv2d_bwd_filter", s);
    for (int i0 = 0; i0 < n; i0 += chunk) {
        int images = std::min(chunk, n - i0);
        int64_t rows = images * s.pixels();
        const float* a = x + (int64_t)i0 * h * w * cin;
        if (!s.pointwise()) {
            im2col(s, a, images, col);
            a = col;
        }
        const float* dyc = dy + (int64_t)i0 * s.pixels() * cout;
        qy::sgemm(true, false, cout, s.k(), rows, 1.0f, dyc, cout, a, s.k(), i0 == 0 ? 0.0f : 1.0f, dwt, s.k());
    }
    if (dbias) {
        const int64_t rows = (int64_t)n * s.pixels();
#pragma omp parallel for schedule(static)
        for (int c = 0; c < cout; ++c) {
            double acc = 0.0;
            for (int64_t r = 0; r < rows; ++r) acc += dy[r * cout + c];
            dbias[c] = (float)acc;
        }
    }
    return QY_OK;
}
