// The per-image random choices of qy_simclr_augment (quarry.h): a pure function of (seed, step, image, view) and the
// parameters, shared by the CPU backend, the CUDA backend and the native tests, so all three draw the same crop, flip,
// jitter factors and grayscale decision for every view. The pixel math is elsewhere (simclr_pixel.h).
#ifndef QUARRY_SIMCLR_DRAW_H
#define QUARRY_SIMCLR_DRAW_H

#include <cmath>
#include <cstdint>

#include "philox.h"
#include "quarry.h"

namespace qy {

// The choices for one view of one image. Factors are the identity (1, 1, 1, 0) when jitter is off.
struct SimclrDraw {
    int top, left, crop_h, crop_w;  // crop rectangle inside the h x w image
    bool flip, jitter, gray;
    float brightness, contrast, saturation, hue;
};

// Counter of block b (0..7) of (image, view) at step: see quarry.h. view < 2^26.
QY_HD U4 simclr_block(uint64_t seed, uint64_t step, uint32_t image, uint32_t view, uint32_t b) {
    return philox4x32_10(U4{image, (uint32_t)step, (uint32_t)(step >> 32), 0xE0000000u | (view << 3) | b},
                         (uint32_t)seed, (uint32_t)(seed >> 32));
}

// [0, 1) from all 32 bits of a word, in float64.
QY_HD double simclr_u(uint32_t x) { return (double)x * (1.0 / 4294967296.0); }

// Uniform integer in [0, span).
QY_HD int simclr_below(uint32_t x, int span) { return (int)(((uint64_t)x * (uint64_t)span) >> 32); }

// lo + (hi - lo) * u with one rounding per operation on both backends: nvcc would otherwise contract it into an FMA
// and a crop size (rounded from these values) could differ from the CPU's.
QY_HD double simclr_lerp(double lo, double hi, double u) {
#ifdef __CUDA_ARCH__
    return __dadd_rn(lo, __dmul_rn(__dsub_rn(hi, lo), u));
#else
    return lo + (hi - lo) * u;
#endif
}

QY_HD double simclr_mul(double a, double b) {
#ifdef __CUDA_ARCH__
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}

QY_HD float simclr_factor(double strength, double u) {
    const double lo = 1.0 - strength > 0.0 ? 1.0 - strength : 0.0;
    return (float)simclr_lerp(lo, 1.0 + strength, u);
}

QY_HD SimclrDraw simclr_draw(const qy_simclr_params& p, int h, int w, uint64_t seed, uint64_t step, uint32_t image,
                             uint32_t view) {
    SimclrDraw d{};
    const double area = (double)h * (double)w;
    const double log_rmin = log((double)p.ratio_min), log_rmax = log((double)p.ratio_max);
    bool found = false;
    for (int attempt = 0; attempt < 10 && !found; attempt += 2) {
        const U4 r = simclr_block(seed, step, image, view, (uint32_t)(attempt / 2));
        for (int half = 0; half < 2 && !found; ++half) {
            const double target = simclr_mul(area, simclr_lerp((double)p.scale_min, 1.0, simclr_u(word(r, 2 * half))));
            const double ratio = exp(simclr_lerp(log_rmin, log_rmax, simclr_u(word(r, 2 * half + 1))));
            // Rounded half to even, as Python's round() in torchvision.
            const int cw = (int)rint(sqrt(simclr_mul(target, ratio))), ch = (int)rint(sqrt(target / ratio));
            if (cw > 0 && cw <= w && ch > 0 && ch <= h) {
                d.crop_h = ch;
                d.crop_w = cw;
                found = true;
            }
        }
    }
    const U4 r5 = simclr_block(seed, step, image, view, 5);
    if (found) {
        d.top = simclr_below(r5.x, h - d.crop_h + 1);
        d.left = simclr_below(r5.y, w - d.crop_w + 1);
    } else {
        // torchvision's fallback: the central crop of the whole image, clamped to the ratio range.
        const double in_ratio = (double)w / (double)h;
        if (in_ratio < (double)p.ratio_min) {
            d.crop_w = w;
            d.crop_h = (int)rint((double)w / (double)p.ratio_min);
        } else if (in_ratio > (double)p.ratio_max) {
            d.crop_h = h;
            d.crop_w = (int)rint(simclr_mul((double)h, (double)p.ratio_max));
        } else {
            d.crop_h = h;
            d.crop_w = w;
        }
        d.crop_h = d.crop_h < 1 ? 1 : d.crop_h > h ? h : d.crop_h;
        d.crop_w = d.crop_w < 1 ? 1 : d.crop_w > w ? w : d.crop_w;
        d.top = (h - d.crop_h) / 2;
        d.left = (w - d.crop_w) / 2;
    }
    d.flip = simclr_u(r5.z) < (double)p.flip_p;
    d.jitter = simclr_u(r5.w) < (double)p.jitter_p;
    d.brightness = d.contrast = d.saturation = 1.0f;
    d.hue = 0.0f;
    if (d.jitter) {
        const U4 r6 = simclr_block(seed, step, image, view, 6);
        d.brightness = simclr_factor((double)p.brightness, simclr_u(r6.x));
        d.contrast = simclr_factor((double)p.contrast, simclr_u(r6.y));
        d.saturation = simclr_factor((double)p.saturation, simclr_u(r6.z));
        d.hue = (float)simclr_lerp(-(double)p.hue, (double)p.hue, simclr_u(r6.w));
    }
    d.gray = simclr_u(simclr_block(seed, step, image, view, 7).x) < (double)p.gray_p;
    return d;
}

}  // namespace qy

#endif
