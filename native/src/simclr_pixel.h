// Pixel math of qy_simclr_augment (quarry.h), shared by cpu/ssl_augment.cpp and cuda/ssl_augment.cu so that the
// two backends differ only in how they loop: bilinear resampling of the crop, the colour jitter steps and grayscale,
// all in float32. The native tests re-implement this independently in float64; they share only simclr_draw.h.
#ifndef QUARRY_SIMCLR_PIXEL_H
#define QUARRY_SIMCLR_PIXEL_H

#include <cmath>
#include <cstdint>

#include "philox.h"
#include "simclr_draw.h"

namespace qy {

// Per-channel normalisation of the batch (c <= 3), passed by value to the CUDA kernels.
struct SimclrNorm {
    float mean[3], std[3];
};

// Source index pair and weight along one axis: dst in [0, size) of the output, the crop spans `crop` pixels.
// The half-pixel source coordinate (dst + 1/2) crop / size - 1/2 is (2 dst + 1) crop - size over 2 size: integer
// numerator, so the floor is exact and the weight is rounded once. Negative coordinates clamp to 0 (PyTorch).
struct SimclrTap {
    int i0, i1;
    float f;
};

QY_HD SimclrTap simclr_tap(int dst, int crop, int size) {
    const int64_t num = (2 * (int64_t)dst + 1) * crop - size, den = 2 * (int64_t)size;
    if (num <= 0) return SimclrTap{0, 0, 0.0f};
    const int i0 = (int)(num / den);
    return SimclrTap{i0, i0 < crop - 1 ? i0 + 1 : i0, (float)(num - i0 * den) / (float)den};
}

// Output pixel (a, b) of the resized, flipped crop of one image img [h][w][c], in the input's (normalised) units.
QY_HD void simclr_resample(const float* img, int h, int w, int c, const SimclrDraw& d, int a, int b, float* v) {
    const SimclrTap ty = simclr_tap(a, d.crop_h, h), tx = simclr_tap(d.flip ? w - 1 - b : b, d.crop_w, w);
    const float* r0 = img + (int64_t)(d.top + ty.i0) * w * c;
    const float* r1 = img + (int64_t)(d.top + ty.i1) * w * c;
    const int64_t c0 = (int64_t)(d.left + tx.i0) * c, c1 = (int64_t)(d.left + tx.i1) * c;
    for (int ch = 0; ch < c; ++ch) {
        const float top = r0[c0 + ch] + tx.f * (r0[c1 + ch] - r0[c0 + ch]);
        const float bottom = r1[c0 + ch] + tx.f * (r1[c1 + ch] - r1[c0 + ch]);
        v[ch] = top + ty.f * (bottom - top);
    }
}

// Clamp to [0, 1]; NaN stays NaN.
QY_HD float simclr_clamp(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

QY_HD float simclr_gray(const float* p, int c) {
    return c == 3 ? 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2] : p[0];
}

// Whether a view leaves normalised units: grayscale is an identity for one channel.
QY_HD bool simclr_colour(const SimclrDraw& d, int c) { return d.jitter || (d.gray && c == 3); }

// Step 3 up to brightness, from normalised units to clamped pixels (only for a view where simclr_colour holds).
QY_HD void simclr_to_pixels(float* v, int c, const SimclrNorm& norm, const SimclrDraw& d) {
    for (int ch = 0; ch < c; ++ch) {
        v[ch] = v[ch] * norm.std[ch] + norm.mean[ch];
        if (d.jitter) v[ch] = simclr_clamp(v[ch] * d.brightness);
    }
}

// torchvision's adjust_hue for float images: RGB -> HSV, rotate h, HSV -> RGB.
QY_HD void simclr_hue(float* p, float shift) {
    const float r = p[0], g = p[1], b = p[2];
    const float maxc = fmaxf(r, fmaxf(g, b)), minc = fminf(r, fminf(g, b));
    const bool eqc = maxc == minc;
    const float cr = maxc - minc;
    const float s = cr / (eqc ? 1.0f : maxc);
    const float div = eqc ? 1.0f : cr;
    const float rc = (maxc - r) / div, gc = (maxc - g) / div, bc = (maxc - b) / div;
    float hh;
    if (maxc == r)
        hh = bc - gc;
    else if (maxc == g)
        hh = 2.0f + rc - bc;
    else
        hh = 4.0f + gc - rc;
    hh = fmodf(hh / 6.0f + 1.0f, 1.0f);
    hh = hh + shift;
    hh = hh - floorf(hh);  // (h + shift) mod 1 into [0, 1)
    const float v = maxc;
    const float h6 = hh * 6.0f;
    const float fi = floorf(h6), f = h6 - fi;
    const int i = ((int)fi % 6 + 6) % 6;
    const float pp = simclr_clamp(v * (1.0f - s)), q = simclr_clamp(v * (1.0f - s * f)),
                t = simclr_clamp(v * (1.0f - s * (1.0f - f)));
    switch (i) {
        case 0: p[0] = v, p[1] = t, p[2] = pp; break;
        case 1: p[0] = q, p[1] = v, p[2] = pp; break;
        case 2: p[0] = pp, p[1] = v, p[2] = t; break;
        case 3: p[0] = pp, p[1] = q, p[2] = v; break;
        case 4: p[0] = t, p[1] = pp, p[2] = v; break;
        default: p[0] = v, p[1] = pp, p[2] = q; break;
    }
}

// The rest of step 3 (contrast with the image's mean gray level, saturation, hue) and step 4, then back to normalised
// units. p holds simclr_to_pixels's result.
QY_HD void simclr_finish(float* p, int c, const SimclrNorm& norm, const SimclrDraw& d, float contrast_mean) {
    if (d.jitter) {
        const float keep = 1.0f - d.contrast;
        for (int ch = 0; ch < c; ++ch) p[ch] = simclr_clamp(d.contrast * p[ch] + keep * contrast_mean);
        if (c == 3) {
            const float g = simclr_gray(p, c), keep_s = 1.0f - d.saturation;
            for (int ch = 0; ch < 3; ++ch) p[ch] = simclr_clamp(d.saturation * p[ch] + keep_s * g);
            simclr_hue(p, d.hue);
            for (int ch = 0; ch < 3; ++ch) p[ch] = simclr_clamp(p[ch]);
        }
    }
    if (d.gray && c == 3) p[0] = p[1] = p[2] = simclr_gray(p, c);
    for (int ch = 0; ch < c; ++ch) p[ch] = (p[ch] - norm.mean[ch]) / norm.std[ch];
}

}  // namespace qy

#endif
