// SimCLR augmentation, shared by the CPU (cpu/ssl_augment.cpp) and CUDA (cuda/ssl_augment.cu) backends: the
// per-image random draw and the per-pixel math, so both backends compute the same function (quarry.h,
// qy_simclr_augment). The test suite re-implements the pixel math independently in double.
#ifndef QUARRY_SIMCLR_H
#define QUARRY_SIMCLR_H

#include <math.h>
#include <stdint.h>

#include "philox.h"

namespace qy {

struct SimclrParams {
    float scale_min, p_flip, p_jitter, brightness, contrast, saturation, hue, p_gray;
};

// A crop box [top, top + ch) x [left, left + cw) and the image's colour choices.
struct SimclrDraw {
    int top, left, ch, cw;
    bool flip, jitter, gray;
    float bf, cf, sf, hshift;
};

QY_HD U4 simclr_block(uint64_t seed, uint64_t step, uint32_t image, uint32_t view, uint32_t block) {
    return philox4x32_10(U4{image, (uint32_t)step, (uint32_t)(step >> 32), 0xD0000000u | ((view & 0xffffu) << 8) | block},
                         (uint32_t)seed, (uint32_t)(seed >> 32));
}

// torchvision's RandomResizedCrop box (10 tries of area and log-uniform aspect ratio, else the whole image), then
// flip, jitter and grayscale coins and the jitter factors. Double math so both backends round the box the same.
QY_HD SimclrDraw simclr_draw(uint64_t seed, uint64_t step, uint32_t image, uint32_t view, int h, int w, const SimclrParams& p) {
    SimclrDraw d{0, 0, h, w, false, false, false, 1.0f, 1.0f, 1.0f, 0.0f};
    const double lr0 = log(3.0 / 4.0), lr1 = log(4.0 / 3.0);
    for (uint32_t t = 0; t < 10; ++t) {
        const U4 r = simclr_block(seed, step, image, view, t);
        const double area = (double)h * w * (p.scale_min + (1.0 - p.scale_min) * (double)uniform01(r.x));
        const double ratio = exp(lr0 + (lr1 - lr0) * (double)uniform01(r.y));
        const int cw = (int)llrint(sqrt(area * ratio)), ch = (int)llrint(sqrt(area / ratio));
        if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
            d.top = (int)(((uint64_t)r.z * (uint64_t)(h - ch + 1)) >> 32);
            d.left = (int)(((uint64_t)r.w * (uint64_t)(w - cw + 1)) >> 32);
            d.ch = ch;
            d.cw = cw;
            break;
        }
    }
    const U4 a = simclr_block(seed, step, image, view, 10), b = simclr_block(seed, step, image, view, 11);
    d.flip = uniform01(a.x) < p.p_flip;
    d.jitter = uniform01(a.y) < p.p_jitter;
    d.gray = uniform01(a.z) < p.p_gray;
    d.bf = 1.0f + p.brightness * (2.0f * uniform01(b.x) - 1.0f);
    d.cf = 1.0f + p.contrast * (2.0f * uniform01(b.y) - 1.0f);
    d.sf = 1.0f + p.saturation * (2.0f * uniform01(b.z) - 1.0f);
    d.hshift = p.hue * (2.0f * uniform01(b.w) - 1.0f);
    return d;
}

QY_HD float clamp01(float v) { return fminf(fmaxf(v, 0.0f), 1.0f); }

// ITU-R 601-2 luma for 3 channels, the channel mean otherwise.
QY_HD float simclr_gray(const float* v, int c) {
    if (c == 3) return 0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2];
    float s = 0.0f;
    for (int k = 0; k < c; ++k) s += v[k];
    return s / (float)c;
}

// Output pixel (a, b) after crop, bilinear resize (half-pixel centres) and flip, un-normalised to pixel units, then
// brightness when jittering. v gets c values; img is one image [h][w][c] in normalised units.
QY_HD void simclr_sample(const float* img, int h, int w, int c, const SimclrDraw& d, int a, int b, const float* mean,
                         const float* std, float* v) {
    const int bb = d.flip ? w - 1 - b : b;
    float sy = d.top + ((float)a + 0.5f) * (float)d.ch / (float)h - 0.5f;
    float sx = d.left + ((float)bb + 0.5f) * (float)d.cw / (float)w - 0.5f;
    sy = fminf(fmaxf(sy, (float)d.top), (float)(d.top + d.ch - 1));
    sx = fminf(fmaxf(sx, (float)d.left), (float)(d.left + d.cw - 1));
    const int y0 = (int)floorf(sy), x0 = (int)floorf(sx);
    const int y1 = y0 + 1 < d.top + d.ch ? y0 + 1 : y0, x1 = x0 + 1 < d.left + d.cw ? x0 + 1 : x0;
    const float fy = sy - (float)y0, fx = sx - (float)x0;
    for (int k = 0; k < c; ++k) {
        const float p00 = img[((int64_t)y0 * w + x0) * c + k], p01 = img[((int64_t)y0 * w + x1) * c + k];
        const float p10 = img[((int64_t)y1 * w + x0) * c + k], p11 = img[((int64_t)y1 * w + x1) * c + k];
        const float top = p00 + (p01 - p00) * fx, bot = p10 + (p11 - p10) * fx;
        float u = (top + (bot - top) * fy) * std[k] + mean[k];
        if (d.jitter) u = clamp01(u * d.bf);
        v[k] = u;
    }
}

// The rest of the pipeline for one pixel v (pixel units, after brightness): contrast around the image's mean gray
// level m, saturation, hue (3 channels only), grayscale, then back to normalised units.
QY_HD void simclr_finish(float* v, int c, const SimclrDraw& d, float m, const float* mean, const float* std) {
    if (d.jitter) {
        for (int k = 0; k < c; ++k) v[k] = clamp01((v[k] - m) * d.cf + m);
        if (c == 3) {
            const float g = simclr_gray(v, 3);
            for (int k = 0; k < 3; ++k) v[k] = clamp01((v[k] - g) * d.sf + g);
            const float r = v[0], gg = v[1], bl = v[2];
            const float mx = fmaxf(r, fmaxf(gg, bl)), mn = fminf(r, fminf(gg, bl)), delta = mx - mn;
            const float s = mx > 0.0f ? delta / mx : 0.0f;
            float hh = 0.0f;
            if (delta > 0.0f) {
                if (mx == r) hh = (gg - bl) / delta;
                else if (mx == gg) hh = (bl - r) / delta + 2.0f;
                else hh = (r - gg) / delta + 4.0f;
                hh /= 6.0f;
            }
            hh += d.hshift;
            hh -= floorf(hh);
            const float h6 = hh * 6.0f;
            const int i = ((int)floorf(h6)) % 6;
            const float f = h6 - floorf(h6), p = mx * (1.0f - s), q = mx * (1.0f - s * f), t = mx * (1.0f - s * (1.0f - f));
            const float rr[6] = {mx, q, p, p, t, mx}, gv[6] = {t, mx, mx, q, p, p}, bv[6] = {p, p, t, mx, mx, q};
            v[0] = clamp01(rr[i]);
            v[1] = clamp01(gv[i]);
            v[2] = clamp01(bv[i]);
        }
    }
    if (d.gray && c == 3) {
        const float g = simclr_gray(v, 3);
        v[0] = v[1] = v[2] = g;
    }
    for (int k = 0; k < c; ++k) v[k] = (v[k] - mean[k]) / std[k];
}

}  // namespace qy

#endif
