// Quarry native tests for the SimCLR pretraining ops of quarry.h: qy_simclr_augment and qy_lars_step on the CPU
// backend against float64 references written from the header, their argument checks, and, when a GPU is present,
// both ops on CUDA against the CPU result on the same inputs.
//
//   cmake -S native -B build -DQUARRY_OPENBLAS=OFF && cmake --build build && build/test_ssl
//
// The augmentation's random choices come from qy::simclr_draw (src/simclr_draw.h), the one piece shared with the
// backends; the test first re-derives those choices from quarry.h's counter layout through the public Philox
// function, then re-implements the pixel math (bilinear resize, jitter, textbook HSV, luma) in float64.
//
// Prints one line per test (PASS / FAIL / SKIP and the largest error seen), `FAIL <test>: <detail>` per failed check,
// and exits 1 if any test failed. QUARRY_REQUIRE_GPU=1 makes a missing GPU a failure.
//
// Error measure: max|got - ref| / max(1, max|ref|). Tolerances:
//   kExact  0     identity, mirror (a resample whose weights are exactly 0 and 1) and repeated runs: bitwise
//   kPixel  1e-5  augmentation vs the float64 pipeline: float32 pixel math (~1e-7 per step in [0, 1] pixels), divided
//                 by std (>= 0.2 here); LARS over several steps (float32 updates, float64 norms)
//   CUDA vs CPU: both ops at kPixel (nvcc contracts float32 multiply-adds into FMAs, the contrast mean and the norms
//   are summed in another order); the same crop choices; a second CUDA run on a created stream must repeat the first
//   bit for bit.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "harness.h"
#include "quarry.h"
#include "simclr_draw.h"

namespace {


constexpr double kExact = 0.0;
constexpr double kPixel = 1e-5;

using namespace qy_test;

// ---- the augmentation: cases, inputs, runner ---------------------------------------------------------------------

qy_simclr_params cifar() { return {0.08f, 3.0f / 4.0f, 4.0f / 3.0f, 0.5f, 0.8f, 0.4f, 0.4f, 0.4f, 0.1f, 0.2f}; }
// Every colour step on almost every view, smaller crops: the cases that exercise the most code.
qy_simclr_params strong() { return {0.05f, 0.5f, 2.0f, 0.5f, 1.0f, 0.8f, 0.8f, 0.8f, 0.5f, 0.5f}; }
// Nothing random: the identity (for square images).
qy_simclr_params none() { return {1.0f, 3.0f / 4.0f, 4.0f / 3.0f, 0.0f, 0.0f, 0.4f, 0.4f, 0.4f, 0.1f, 0.0f}; }

struct Aug {
    int n, h, w, c;
    qy_simclr_params p;
    uint64_t seed, step;
    uint32_t view;
    size_t size() const { return (size_t)n * h * w * c; }
    std::string str() const {
        return format("n=%d h=%d w=%d c=%d scale>=%g ratio=[%.3g,%.3g] p(flip,jitter,gray)=(%g,%g,%g) "
                      "strengths=(%g,%g,%g,%g) seed=0x%llx step=%llu view=%u",
                      n, h, w, c, p.scale_min, p.ratio_min, p.ratio_max, p.flip_p, p.jitter_p, p.gray_p, p.brightness,
                      p.contrast, p.saturation, p.hue, (unsigned long long)seed, (unsigned long long)step, view);
    }
};

// Per-channel statistics like a real data set's (CIFAR-10: mean ~0.47, std ~0.25), different per channel.
struct Norm {
    Vec mean, std;
};
Norm norm_for(int c) {
    Norm s;
    for (int ch = 0; ch < c; ++ch) {
        s.mean.push_back(0.42f + 0.04f * (float)ch);
        s.std.push_back(0.27f - 0.02f * (float)ch);
    }
    return s;
}

// Normalised images whose pixels are uniform in (0, 1): the op's documented input domain.
Vec images(const Aug& a, const Norm& s) {
    Vec x = uniform(a.size(), 0.001f, 0.999f);
    for (size_t e = 0; e < x.size(); ++e) {
        const size_t ch = e % (size_t)a.c;
        x[e] = (x[e] - s.mean[ch]) / s.std[ch];
    }
    return x;
}

Runner augment_runner(const Aug& a, const Vec& x, const Norm& s) {
    return [=](Session& ses) {
        float* y = ses.out(a.size());
        QY(qy_simclr_augment, ses.dev, ses.stream, ses.in(x), y, a.n, a.h, a.w, a.c, s.mean.data(), s.std.data(), &a.p,
           a.seed, a.step, a.view);
        return Outs{{"y", ses.get(y, a.size())}};
    };
}

Vec augment_cpu(const Aug& a, const Vec& x, const Norm& s) {
    return run_on(QY_DEV_CPU, nullptr, augment_runner(a, x, s))[0].v;
}

// ---- float64 references, written from quarry.h -------------------------------------------------------------------

namespace ref {

// The header's counter layout through the public Philox function, and the draw rules of step 1 to 4, from the text.
struct Draw {
    int top, left, crop_h, crop_w;
    bool flip, jitter, gray;
    float fb, fc, fs, fh;
    bool fallback;  // no attempt fitted: the central crop
};

void block(uint64_t seed, uint64_t step, uint32_t image, uint32_t view, uint32_t b, uint32_t out[4]) {
    const uint32_t counter[4] = {image, (uint32_t)step, (uint32_t)(step >> 32), 0xE0000000u | (view << 3) | b};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    qy_philox4x32_10(counter, key, out);
}

double u(uint32_t word) { return std::ldexp((double)word, -32); }

float factor(double strength, double uu) {
    const double lo = std::max(0.0, 1.0 - strength);
    return (float)(lo + (1.0 + strength - lo) * uu);
}

Draw draw(const qy_simclr_params& p, int h, int w, uint64_t seed, uint64_t step, uint32_t image, uint32_t view) {
    Draw d{};
    bool found = false;
    for (int t = 0; t < 10 && !found; ++t) {
        uint32_t r[4];
        block(seed, step, image, view, (uint32_t)(t / 2), r);
        const double s = p.scale_min + (1.0 - p.scale_min) * u(r[2 * (t % 2)]);
        const double lmin = std::log((double)p.ratio_min), lmax = std::log((double)p.ratio_max);
        const double ratio = std::exp(lmin + (lmax - lmin) * u(r[2 * (t % 2) + 1]));
        const double target = (double)h * w * s;
        const int cw = (int)std::nearbyint(std::sqrt(target * ratio)), ch = (int)std::nearbyint(std::sqrt(target / ratio));
        if (cw >= 1 && cw <= w && ch >= 1 && ch <= h) d.crop_w = cw, d.crop_h = ch, found = true;
    }
    uint32_t r5[4], r6[4], r7[4];
    block(seed, step, image, view, 5, r5);
    block(seed, step, image, view, 6, r6);
    block(seed, step, image, view, 7, r7);
    if (found) {
        d.top = (int)std::floor(u(r5[0]) * (h - d.crop_h + 1));
        d.left = (int)std::floor(u(r5[1]) * (w - d.crop_w + 1));
    } else {
        d.fallback = true;
        const double in_ratio = (double)w / h;
        d.crop_h = h, d.crop_w = w;
        if (in_ratio < p.ratio_min) d.crop_h = std::clamp((int)std::nearbyint(w / (double)p.ratio_min), 1, h);
        if (in_ratio > p.ratio_max) d.crop_w = std::clamp((int)std::nearbyint(h * (double)p.ratio_max), 1, w);
        d.top = (h - d.crop_h) / 2;
        d.left = (w - d.crop_w) / 2;
    }
    d.flip = u(r5[2]) < p.flip_p;
    d.jitter = u(r5[3]) < p.jitter_p;
    d.gray = u(r7[0]) < p.gray_p;
    d.fb = d.fc = d.fs = 1.0f;
    d.fh = 0.0f;
    if (d.jitter) {
        d.fb = factor(p.brightness, u(r6[0]));
        d.fc = factor(p.contrast, u(r6[1]));
        d.fs = factor(p.saturation, u(r6[2]));
        d.fh = (float)(-(double)p.hue + 2.0 * p.hue * u(r6[3]));
    }
    return d;
}

double clamp01(double v) { return std::min(1.0, std::max(0.0, v)); }
double luma(const double* p) { return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]; }

// Hue rotation by `turns` of a full circle in the textbook form (hue in degrees; HSV -> RGB through
// f(n) = V - V S max(0, min(k, 4 - k, 1)), k = (n + H / 60) mod 6), independent of torchvision's formulation.
void rotate_hue(double* p, double turns) {
    const double r = p[0], g = p[1], b = p[2];
    const double mx = std::max({r, g, b}), mn = std::min({r, g, b}), delta = mx - mn;
    double hue = 0.0;
    if (delta > 0) {
        if (mx == r)
            hue = 60.0 * std::fmod((g - b) / delta + 6.0, 6.0);
        else if (mx == g)
            hue = 60.0 * ((b - r) / delta + 2.0);
        else
            hue = 60.0 * ((r - g) / delta + 4.0);
    }
    const double sat = mx > 0 ? delta / mx : 0.0, val = mx;
    double rotated = std::fmod(hue + 360.0 * turns, 360.0);
    if (rotated < 0) rotated += 360.0;
    const int ns[3] = {5, 3, 1};
    for (int ch = 0; ch < 3; ++ch) {
        const double k = std::fmod(ns[ch] + rotated / 60.0, 6.0);
        p[ch] = val - val * sat * std::max(0.0, std::min({k, 4.0 - k, 1.0}));
    }
}

// One view of every image, given the draws: quarry.h steps 1 to 4 in float64.
VecD augment(const Vec& x, const Aug& a, const Norm& s, const std::vector<Draw>& draws) {
    const int h = a.h, w = a.w, c = a.c;
    VecD y(x.size());
    for (int i = 0; i < a.n; ++i) {
        const Draw& d = draws[(size_t)i];
        auto src = [&](int row, int col, int ch) {
            return (double)x[(((size_t)i * h + d.top + row) * w + d.left + col) * c + ch];
        };
        // Step 1 and 2: bilinear resize of the crop with half-pixel centres, then the mirror of the output.
        VecD img((size_t)h * w * c);
        for (int a0 = 0; a0 < h; ++a0)
            for (int b0 = 0; b0 < w; ++b0) {
                const int bb = d.flip ? w - 1 - b0 : b0;
                const double sy = std::max(0.0, (a0 + 0.5) * d.crop_h / h - 0.5);
                const double sx = std::max(0.0, (bb + 0.5) * d.crop_w / w - 0.5);
                const int y0 = (int)sy, x0 = (int)sx;
                const int y1 = std::min(y0 + 1, d.crop_h - 1), x1 = std::min(x0 + 1, d.crop_w - 1);
                const double fy = sy - y0, fx = sx - x0;
                for (int ch = 0; ch < c; ++ch)
                    img[((size_t)a0 * w + b0) * c + ch] =
                        (1 - fy) * (1 - fx) * src(y0, x0, ch) + (1 - fy) * fx * src(y0, x1, ch) +
                        fy * (1 - fx) * src(y1, x0, ch) + fy * fx * src(y1, x1, ch);
            }
        const size_t hw = (size_t)h * w;
        if (d.jitter || (d.gray && c == 3)) {
            for (size_t e = 0; e < img.size(); ++e) img[e] = img[e] * s.std[e % c] + s.mean[e % c];
            if (d.jitter) {
                for (double& v : img) v = clamp01(v * d.fb);
                double m = 0;
                for (size_t pix = 0; pix < hw; ++pix) m += c == 3 ? luma(&img[pix * 3]) : img[pix];
                m /= (double)hw;
                for (double& v : img) v = clamp01(d.fc * v + (1 - d.fc) * m);
                if (c == 3)
                    for (size_t pix = 0; pix < hw; ++pix) {
                        double* p = &img[pix * 3];
                        const double g = luma(p);
                        for (int ch = 0; ch < 3; ++ch) p[ch] = clamp01(d.fs * p[ch] + (1 - d.fs) * g);
                        rotate_hue(p, d.fh);
                        for (int ch = 0; ch < 3; ++ch) p[ch] = clamp01(p[ch]);
                    }
            }
            if (d.gray && c == 3)
                for (size_t pix = 0; pix < hw; ++pix) img[pix * 3] = img[pix * 3 + 1] = img[pix * 3 + 2] = luma(&img[pix * 3]);
            for (size_t e = 0; e < img.size(); ++e) img[e] = (img[e] - s.mean[e % c]) / s.std[e % c];
        }
        std::copy(img.begin(), img.end(), y.begin() + (std::ptrdiff_t)((size_t)i * img.size()));
    }
    return y;
}

std::vector<Draw> draws(const Aug& a) {
    std::vector<Draw> d;
    for (int i = 0; i < a.n; ++i) d.push_back(draw(a.p, a.h, a.w, a.seed, a.step, (uint32_t)i, a.view));
    return d;
}

}  // namespace ref

// ---- tests: the draw ------------------------------------------------------------------------------------------

// The shared draw function against the header's counter layout and rules, field by field, on parameter sets that
// reach every branch: the CIFAR defaults, small crops with wide ratios, a ratio range that excludes the image's own
// (fallback crops clamped to the range), and scale 1 (fallback to the whole image).
void test_draw_layout(Test& t) {
    const qy_simclr_params wide_ratio = {0.01f, 0.2f, 5.0f, 0.5f, 0.5f, 0.4f, 0.4f, 0.4f, 0.1f, 0.5f};
    const qy_simclr_params narrow_ratio = {0.9f, 2.5f, 3.0f, 0.5f, 0.5f, 0.4f, 0.4f, 0.4f, 0.1f, 0.5f};
    const qy_simclr_params tall_ratio = {0.9f, 0.2f, 0.3f, 0.5f, 0.5f, 1.5f, 0.4f, 0.4f, 0.5f, 0.5f};
    struct Shape {
        int h, w;
    };
    int fallbacks = 0, compared = 0;
    for (const qy_simclr_params& p : {cifar(), strong(), none(), wide_ratio, narrow_ratio, tall_ratio})
        for (const Shape& sh : {Shape{32, 32}, Shape{13, 17}, Shape{28, 28}, Shape{1, 1}, Shape{3, 40}, Shape{40, 3}})
            for (uint32_t view : {0u, 1u, (1u << 26) - 1})
                for (uint32_t image = 0; image < 40; ++image) {
                    const uint64_t seed = 0x9E3779B97F4A7C15ull + image, step = 0x100000000ull * view + 3;
                    const qy::SimclrDraw got = qy::simclr_draw(p, sh.h, sh.w, seed, step, image, view);
                    const ref::Draw want = ref::draw(p, sh.h, sh.w, seed, step, image, view);
                    ++compared;
                    fallbacks += want.fallback;
                    const bool same = got.top == want.top && got.left == want.left && got.crop_h == want.crop_h &&
                                      got.crop_w == want.crop_w && got.flip == want.flip && got.jitter == want.jitter &&
                                      got.gray == want.gray && got.brightness == want.fb && got.contrast == want.fc &&
                                      got.saturation == want.fs && got.hue == want.fh;
                    if (!same) {
                        t.fail(format("h=%d w=%d image %u view %u: draw (%d,%d %dx%d f%d j%d g%d %.9g %.9g %.9g %.9g), "
                                      "header (%d,%d %dx%d f%d j%d g%d %.9g %.9g %.9g %.9g)",
                                      sh.h, sh.w, image, view, got.top, got.left, got.crop_h, got.crop_w, got.flip,
                                      got.jitter, got.gray, got.brightness, got.contrast, got.saturation, got.hue,
                                      want.top, want.left, want.crop_h, want.crop_w, want.flip, want.jitter, want.gray,
                                      want.fb, want.fc, want.fs, want.fh));
                        return;
                    }
                    const bool inside = got.top >= 0 && got.left >= 0 && got.crop_h >= 1 && got.crop_w >= 1 &&
                                        got.top + got.crop_h <= sh.h && got.left + got.crop_w <= sh.w;
                    t.expect(inside, format("h=%d w=%d image %u: crop (%d,%d) %dx%d outside the image", sh.h, sh.w,
                                            image, got.top, got.left, got.crop_h, got.crop_w));
                }
    t.expect(fallbacks > 0 && fallbacks < compared,
             format("%d of %d draws fell back to the central crop: the cases miss a branch", fallbacks, compared));
}

// Frequencies and ranges of the draws over many images (binomial bounds of 5 standard errors): flip 1/2, jitter
// 0.8, grayscale 0.2; jitter factors inside their ranges with means at the centre; crop areas spread over
// [scale_min, 1] and aspect ratios inside [3/4, 4/3] up to rounding.
void test_draw_distribution(Test& t) {
    const qy_simclr_params p = cifar();
    const int n = 20000, h = 32, w = 32;
    int flips = 0, jitters = 0, grays = 0;
    double sum_b = 0, sum_h = 0;
    float min_area = 2, max_area = 0;
    std::vector<int> area_bins(10);
    for (int i = 0; i < n; ++i) {
        const qy::SimclrDraw d = qy::simclr_draw(p, h, w, 77, 5, (uint32_t)i, 0);
        flips += d.flip, jitters += d.jitter, grays += d.gray;
        if (d.jitter) {
            sum_b += d.brightness, sum_h += d.hue;
            t.expect(d.brightness >= 0.6f && d.brightness <= 1.4f && d.contrast >= 0.6f && d.contrast <= 1.4f &&
                         d.saturation >= 0.6f && d.saturation <= 1.4f && std::fabs(d.hue) <= 0.1f,
                     format("image %d: factors %g %g %g %g outside their ranges", i, d.brightness, d.contrast,
                            d.saturation, d.hue));
        }
        const float area = (float)(d.crop_h * d.crop_w) / (h * w), ratio = (float)d.crop_w / (float)d.crop_h;
        min_area = std::min(min_area, area), max_area = std::max(max_area, area);
        ++area_bins[std::min(9, std::max(0, (int)((area - p.scale_min) / (1 - p.scale_min) * 10)))];
        // Rounding each side to an integer moves the ratio by up to (1 + 0.5 / side)^2 at sides of >= 8 pixels.
        t.expect(ratio >= 0.75f / 1.15f && ratio <= 4.0f / 3.0f * 1.15f,
                 format("image %d: crop %dx%d has aspect ratio %g", i, d.crop_h, d.crop_w, ratio));
    }
    auto near = [&](const char* what, int count, double prob) {
        const double sd = std::sqrt(n * prob * (1 - prob));
        t.error(std::fabs(count - n * prob) / n);
        t.expect(std::fabs(count - n * prob) < 5 * sd,
                 format("%s on %d of %d draws, expected %.0f +- %.0f", what, count, n, n * prob, 5 * sd));
    };
    near("flip", flips, 0.5);
    near("jitter", jitters, 0.8);
    near("grayscale", grays, 0.2);
    // Uniform factors on [0.6, 1.4] and [-0.1, 0.1]: standard deviations 0.23 and 0.058 per draw.
    t.expect(std::fabs(sum_b / jitters - 1.0) < 5 * 0.231 / std::sqrt(jitters), format("mean brightness %g", sum_b / jitters));
    t.expect(std::fabs(sum_h / jitters) < 5 * 0.0578 / std::sqrt(jitters), format("mean hue shift %g", sum_h / jitters));
    t.expect(min_area < p.scale_min + 0.01f && min_area > p.scale_min * 0.8f,
             format("smallest crop area %g of the image, scale_min %g", min_area, p.scale_min));
    t.expect(max_area == 1.0f, format("largest crop area %g of the image, expected whole-image crops", max_area));
    // Accepted areas are uniform below ~0.75 (every ratio fits), thinner above: each low bin near n / 10.
    for (int b = 0; b < 10; ++b)
        t.expect(area_bins[b] > (b < 7 ? n / 14 : n / 100),
                 format("crop area bin %d (of [%g, 1] in tenths) holds %d of %d", b, p.scale_min, area_bins[b], n));
}

// ---- tests: the op --------------------------------------------------------------------------------------------

// The op against the float64 pipeline given the same draws; a second run must repeat the first bit for bit.
// Checks that the batch exercised what it was meant to, so a case cannot pass without running the colour steps.
void test_augment(Test& t, const Aug& a) {
    const Norm s = norm_for(a.c);
    const Vec x = images(a, s);
    const Vec y = cpu_case("simclr_augment " + a.str(), augment_runner(a, x, s), kPixel)[0].v;
    const std::vector<ref::Draw> d = ref::draws(a);
    close(t, "y", y, ref::augment(x, a, s, d), kPixel);
    same_bits(t, "the same (seed, step, view) again", augment_cpu(a, x, s), y);
    if (a.n >= 32) {
        int jit = 0, gray = 0, flip = 0, cropped = 0;
        for (const ref::Draw& e : d)
            jit += e.jitter, gray += e.gray, flip += e.flip, cropped += e.crop_h < a.h || e.crop_w < a.w;
        t.expect((a.p.jitter_p == 0 || jit > 0) && (a.p.gray_p == 0 || gray > 0) && (a.p.flip_p == 0 || flip > 0) &&
                     (a.p.scale_min == 1 || cropped > 0),
                 format("the batch drew jitter %d, grayscale %d, flip %d, crops %d times", jit, gray, flip, cropped));
    }
}

// All probabilities 0 and scale 1: the whole image, no flip, no colour: y == x bit for bit. A non-square image also
// needs its own aspect ratio as the only one allowed (otherwise a near-whole crop of another ratio can win).
void test_identity(Test& t) {
    for (Aug a : {Aug{5, 28, 28, 1, none(), 1, 2, 0}, Aug{7, 32, 32, 3, none(), 3, 4, 1},
                  Aug{4, 13, 17, 3, none(), 5, 6, 0}, Aug{3, 1, 1, 3, none(), 7, 8, 2}}) {
        if (a.h != a.w) a.p.ratio_min = a.p.ratio_max = (float)a.w / (float)a.h;
        const Norm s = norm_for(a.c);
        const Vec x = images(a, s);
        same_bits(t, a.str(), cpu_case("simclr_augment identity " + a.str(), augment_runner(a, x, s), kPixel)[0].v, x);
    }
}

Vec mirror(const Vec& x, int n, int h, int w, int c) {
    Vec m(x.size());
    for (int i = 0; i < n; ++i)
        for (int a = 0; a < h; ++a)
            for (int b = 0; b < w; ++b)
                for (int ch = 0; ch < c; ++ch)
                    m[(((size_t)i * h + a) * w + b) * c + ch] = x[(((size_t)i * h + a) * w + (w - 1 - b)) * c + ch];
    return m;
}

// Flip only: p = 1 gives the exact mirror; p = 1/2 gives each image either unchanged or mirrored, about half each.
void test_flip(Test& t) {
    Aug a{6, 13, 17, 3, none(), 11, 12, 0};
    a.p.flip_p = 1.0f;
    a.p.ratio_min = a.p.ratio_max = 17.0f / 13.0f;
    const Norm s = norm_for(a.c);
    const Vec x = images(a, s);
    same_bits(t, "flip_p = 1", cpu_case("simclr_augment flip " + a.str(), augment_runner(a, x, s), kPixel)[0].v,
              mirror(x, a.n, a.h, a.w, a.c));

    Aug half{4000, 3, 5, 1, none(), 13, 14, 3};
    half.p.flip_p = 0.5f;
    half.p.ratio_min = half.p.ratio_max = 5.0f / 3.0f;
    const Norm s1 = norm_for(1);
    const Vec xh = images(half, s1), yh = augment_cpu(half, xh, s1), mh = mirror(xh, half.n, 3, 5, 1);
    const size_t img = 15;
    int flipped = 0;
    for (int i = 0; i < half.n; ++i) {
        const bool same = std::memcmp(&yh[i * img], &xh[i * img], img * sizeof(float)) == 0;
        const bool mirrored = std::memcmp(&yh[i * img], &mh[i * img], img * sizeof(float)) == 0;
        if (same == mirrored) {
            t.fail(format("image %d is %s", i, same ? "its own mirror" : "neither unchanged nor mirrored"));
            return;
        }
        flipped += mirrored;
    }
    const double frac = (double)flipped / half.n;
    t.error(std::fabs(frac - 0.5));
    t.expect(std::fabs(frac - 0.5) < 5 * std::sqrt(0.25 / half.n), format("mirrored %.4f of the images", frac));
}

// Grayscale only: every channel of every pixel is the luma 0.299 r + 0.587 g + 0.114 b of the input pixel, written
// straight from ITU-R 601-2 (not through the reference pipeline); a 1-channel image is left unchanged bit for bit.
void test_grayscale(Test& t) {
    Aug a{5, 13, 17, 3, none(), 21, 22, 0};
    a.p.gray_p = 1.0f;
    a.p.ratio_min = a.p.ratio_max = 17.0f / 13.0f;
    const Norm s = norm_for(3);
    const Vec x = images(a, s);
    const Vec y = cpu_case("simclr_augment grayscale " + a.str(), augment_runner(a, x, s), kPixel)[0].v;
    VecD want(x.size());
    for (size_t pix = 0; pix < x.size() / 3; ++pix) {
        double rgb[3];
        for (int ch = 0; ch < 3; ++ch) rgb[ch] = (double)x[pix * 3 + ch] * s.std[ch] + s.mean[ch];
        const double luma = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
        for (int ch = 0; ch < 3; ++ch) want[pix * 3 + ch] = (luma - s.mean[ch]) / s.std[ch];
    }
    close(t, "3 channels", y, want, kPixel);

    Aug mono{4, 28, 28, 1, none(), 23, 24, 0};
    mono.p.gray_p = 1.0f;
    const Norm s1 = norm_for(1);
    const Vec x1 = images(mono, s1);
    same_bits(t, "1 channel: unchanged", augment_cpu(mono, x1, s1), x1);
}

// Same (seed, step, view): the same batch. Another step, view, seed (low or high word) or slot in the batch: other
// crops for nearly every image (two draws coincide only when crop, flip and colour all repeat).
void test_streams(Test& t) {
    const Aug a{40, 13, 17, 3, cifar(), 0x0123456789ABCDEFull, 0xFFFFFFFFull, 0};
    const Norm s = norm_for(3);
    const Vec one = images(Aug{1, 13, 17, 3, cifar(), 0, 0, 0}, s);
    Vec x;
    for (int i = 0; i < a.n; ++i) x.insert(x.end(), one.begin(), one.end());
    const size_t img = one.size();
    auto same_images = [&](const Vec& p, const Vec& q) {
        int same = 0;
        for (int i = 0; i < a.n; ++i) same += std::memcmp(&p[i * img], &q[i * img], img * sizeof(float)) == 0;
        return same;
    };
    const Vec y = augment_cpu(a, x, s);
    same_bits(t, "again", augment_cpu(a, x, s), y);
    Aug step = a, step_hi = a, view = a, seed_lo = a, seed_hi = a;
    step.step += 1;
    step_hi.step += 1ull << 32;
    view.view = 1;
    seed_lo.seed += 1;
    seed_hi.seed += 1ull << 32;
    for (const Aug* other : {&step, &step_hi, &view, &seed_lo, &seed_hi}) {
        const int same = same_images(y, augment_cpu(*other, x, s));
        t.expect(same <= 1, format("%s: %d of %d images equal to step %llu view %u seed 0x%llx", other->str().c_str(),
                                   same, a.n, (unsigned long long)a.step, a.view, (unsigned long long)a.seed));
    }
    int same_as_first = 0;
    for (int i = 1; i < a.n; ++i) same_as_first += std::memcmp(&y[i * img], &y[0], img * sizeof(float)) == 0;
    t.expect(same_as_first <= 1, format("%d of %d copies of one image got image 0's view", same_as_first, a.n - 1));
}

void test_augment_errors(Test& t) {
    const int n = 2, h = 5, w = 6, c = 3;
    Vec buf((size_t)2 * n * h * w * c, 1.0f), out((size_t)n * h * w * c, 2.0f);
    const float* x = buf.data();
    float* y = out.data();
    const float mean_c[3] = {0.5f, 0.5f, 0.5f}, std_c[3] = {0.25f, 0.25f, 0.25f};
    const float zero_std[3] = {0.25f, 0.0f, 0.25f}, neg_std[3] = {0.25f, 0.25f, -1.0f};
    const float nan_mean[3] = {0.5f, kNaN, 0.5f};
    const qy_simclr_params ok_p = cifar();
    const int cpu = QY_DEV_CPU, E = QY_ERR_INVALID;
    const char* op = "qy_simclr_augment";
    auto with = [&](float qy_simclr_params::*field, float v) {
        qy_simclr_params p = cifar();
        p.*field = v;
        return qy_simclr_augment(cpu, nullptr, x, y, n, h, w, c, mean_c, std_c, &p, 1, 2, 0);
    };
    auto stats = [&](const float* m, const float* sd) {
        return qy_simclr_augment(cpu, nullptr, x, y, n, h, w, c, m, sd, &ok_p, 1, 2, 0);
    };
    expect_status(t, "flip_p -0.1", with(&qy_simclr_params::flip_p, -0.1f), E, op);
    expect_status(t, "jitter_p 1.1", with(&qy_simclr_params::jitter_p, 1.1f), E, op);
    expect_status(t, "gray_p NaN", with(&qy_simclr_params::gray_p, kNaN), E, op);
    expect_status(t, "scale_min 0", with(&qy_simclr_params::scale_min, 0.0f), E, op);
    expect_status(t, "scale_min 1.5", with(&qy_simclr_params::scale_min, 1.5f), E, op);
    expect_status(t, "scale_min NaN", with(&qy_simclr_params::scale_min, kNaN), E, op);
    expect_status(t, "ratio_min > ratio_max", with(&qy_simclr_params::ratio_min, 1.5f), E, op);
    expect_status(t, "ratio_min 0", with(&qy_simclr_params::ratio_min, 0.0f), E, op);
    expect_status(t, "brightness -0.1", with(&qy_simclr_params::brightness, -0.1f), E, op);
    expect_status(t, "saturation inf", with(&qy_simclr_params::saturation, INFINITY), E, op);
    expect_status(t, "hue 0.6", with(&qy_simclr_params::hue, 0.6f), E, op);
    expect_status(t, "std 0 in channel 1", stats(mean_c, zero_std), E, op);
    expect_status(t, "std -1 in channel 2", stats(mean_c, neg_std), E, op);
    expect_status(t, "mean NaN", stats(nan_mean, std_c), E, op);
    expect_status(t, "null std", stats(mean_c, nullptr), E, op);
    expect_status(t, "c = 2", qy_simclr_augment(cpu, nullptr, x, y, n, h, w, 2, mean_c, std_c, &ok_p, 1, 2, 0), E, op);
    expect_status(t, "c = 4", qy_simclr_augment(cpu, nullptr, x, y, n, h, w, 4, mean_c, std_c, &ok_p, 1, 2, 0), E, op);
    expect_status(t, "h = 0", qy_simclr_augment(cpu, nullptr, x, y, n, 0, w, c, mean_c, std_c, &ok_p, 1, 2, 0), E, op);
    expect_status(t, "null params", qy_simclr_augment(cpu, nullptr, x, y, n, h, w, c, mean_c, std_c, nullptr, 1, 2, 0),
                  E, op);
    expect_status(t, "view 2^26",
                  qy_simclr_augment(cpu, nullptr, x, y, n, h, w, c, mean_c, std_c, &ok_p, 1, 2, 1u << 26), E, op);
    expect_status(t, "y overlaps x",
                  qy_simclr_augment(cpu, nullptr, x, buf.data() + 7, n, h, w, c, mean_c, std_c, &ok_p, 1, 2, 0), E, op);
    t.expect(std::all_of(out.begin(), out.end(), [](float v) { return v == 2.0f; }), "a rejected call wrote y");
    t.expect(std::all_of(buf.begin(), buf.end(), [](float v) { return v == 1.0f; }), "a rejected call wrote x");
    const qy_simclr_params edge = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.5f, 1.0f};
    t.expect(qy_simclr_augment(cpu, nullptr, x, y, n, h, w, c, mean_c, std_c, &edge, 1, 2, (1u << 26) - 1) == QY_OK,
             format("scale 1, ratio 1, probabilities 1, hue 0.5, view 2^26 - 1 rejected: %s", qy_last_error()));
}

// ---- tests: LARS ------------------------------------------------------------------------------------------------

struct LarsCase {
    int64_t n;
    float lr, momentum, weight_decay, eta;
    int adapt;
    const char* start;  // "random", "zero param" (trust 1 by the rule), "zero grad" (likewise)
    std::string str() const {
        return format("n=%lld lr=%g momentum=%g wd=%g eta=%g adapt=%d %s", (long long)n, lr, momentum, weight_decay,
                      eta, adapt, start);
    }
};

// Several steps against the float64 formula of quarry.h (norms, trust ratio, momentum, update), from a zero buffer.
void test_lars(Test& t, const LarsCase& h) {
    const int steps = 5;
    const bool zero_param = std::strcmp(h.start, "zero param") == 0, zero_grad = std::strcmp(h.start, "zero grad") == 0;
    const Vec p0 = zero_param ? Vec((size_t)h.n, 0.0f) : uniform((size_t)h.n, -1.0f, 1.0f);
    std::vector<Vec> grads;
    for (int i = 0; i < steps; ++i)
        grads.push_back(zero_grad && i == 0 ? Vec((size_t)h.n, 0.0f) : uniform((size_t)h.n, -0.5f, 0.5f));
    const Outs o = cpu_case("lars " + h.str(), [=](Session& s) {
        float *p = s.in(p0), *v = s.in(Vec((size_t)h.n, 0.0f));
        for (int i = 0; i < steps; ++i)
            QY(qy_lars_step, s.dev, s.stream, p, s.in(grads[i]), v, h.n, h.lr, h.momentum, h.weight_decay, h.eta,
               h.adapt);
        return Outs{{"param", s.get(p, (size_t)h.n)}, {"momentum_buf", s.get(v, (size_t)h.n)}};
    }, kPixel);
    VecD p(p0.begin(), p0.end()), v((size_t)h.n, 0.0);
    double first_trust = 0;
    for (int i = 0; i < steps; ++i) {
        double ww = 0, gg = 0;
        for (int64_t j = 0; j < h.n; ++j) ww += p[j] * p[j], gg += (double)grads[i][j] * grads[i][j];
        const double wn = std::sqrt(ww), gn = std::sqrt(gg);
        const double trust = h.adapt && wn > 0 && gn > 0 ? h.eta * wn / (gn + (double)h.weight_decay * wn) : 1.0;
        const double wd = h.adapt ? (double)h.weight_decay : 0.0;
        if (i == 0) first_trust = trust;
        for (int64_t j = 0; j < h.n; ++j) {
            v[j] = h.momentum * v[j] + h.lr * trust * (grads[i][j] + wd * p[j]);
            p[j] -= v[j];
        }
    }
    // A case meant to take the trust = 1 branch must take it, and an adaptive one must not.
    if (zero_param || zero_grad || !h.adapt)
        t.expect(first_trust == 1.0, format("first trust ratio %g, expected 1", first_trust));
    else
        t.expect(first_trust != 1.0, "the first step's trust ratio is 1: the case does not test adaptation");
    close(t, "param", o[0].v, p, kPixel);
    close(t, "momentum_buf", o[1].v, v, kPixel);
}

void test_lars_errors(Test& t) {
    Vec buf(64, 1.0f);
    float* f = buf.data();
    const int cpu = QY_DEV_CPU, E = QY_ERR_INVALID;
    const char* op = "qy_lars_step";
    expect_status(t, "n = 0", qy_lars_step(cpu, nullptr, f, f, f, 0, 0.1f, 0.9f, 1e-6f, 1e-3f, 1), E, op);
    expect_status(t, "null buffer", qy_lars_step(cpu, nullptr, f, f, nullptr, 8, 0.1f, 0.9f, 1e-6f, 1e-3f, 1), E, op);
    expect_status(t, "lr -1", qy_lars_step(cpu, nullptr, f, f, f, 8, -1.0f, 0.9f, 1e-6f, 1e-3f, 1), E, op);
    expect_status(t, "momentum NaN", qy_lars_step(cpu, nullptr, f, f, f, 8, 0.1f, kNaN, 1e-6f, 1e-3f, 1), E, op);
    expect_status(t, "weight decay -1", qy_lars_step(cpu, nullptr, f, f, f, 8, 0.1f, 0.9f, -1.0f, 1e-3f, 1), E, op);
    expect_status(t, "eta 0", qy_lars_step(cpu, nullptr, f, f, f, 8, 0.1f, 0.9f, 1e-6f, 0.0f, 1), E, op);
    t.expect(std::all_of(buf.begin(), buf.end(), [](float v) { return v == 1.0f; }), "a rejected call wrote memory");
}

// ---- CUDA --------------------------------------------------------------------------------------------------------

void test_no_device(Test& t) {
    Vec host(3 * 4 * 4 * 2, 1.0f), out(host.size());
    const float mean_c[3] = {0, 0, 0}, std_c[3] = {1, 1, 1};
    const qy_simclr_params p = cifar();
    expect_status(t, "qy_simclr_augment on CUDA",
                  qy_simclr_augment(QY_DEV_CUDA, nullptr, host.data(), out.data(), 2, 4, 4, 3, mean_c, std_c, &p, 1, 1,
                                    0),
                  QY_ERR_NO_DEVICE, "qy_simclr_augment");
    expect_status(t, "qy_lars_step on CUDA",
                  qy_lars_step(QY_DEV_CUDA, nullptr, host.data(), host.data(), out.data(), 8, 0.1f, 0.9f, 0, 1e-3f, 1),
                  QY_ERR_NO_DEVICE, "qy_lars_step");
}

}  // namespace

int main() {
    begin_program(20250107u);

    run_test("simclr draw follows quarry.h's counter layout", test_draw_layout);
    run_test("simclr draw frequencies and ranges (CIFAR defaults)", test_draw_distribution);
    for (const Aug& a : {Aug{9, 32, 32, 3, cifar(), 42, 0, 0}, Aug{9, 32, 32, 3, cifar(), 42, 0, 1},
                         Aug{6, 13, 17, 3, cifar(), 0xFFFFFFFF00000001ull, 123456789, 5},
                         Aug{7, 28, 28, 1, cifar(), 7, 1ull << 33, 0}, Aug{64, 13, 17, 3, strong(), 99, 3, 1},
                         Aug{64, 11, 7, 1, strong(), 5, 6, 0}, Aug{3, 1, 1, 3, strong(), 8, 9, 0},
                         Aug{5, 2, 40, 3, strong(), 10, 11, 2}, Aug{600, 5, 3, 3, strong(), 12, 13, 0},
                         Aug{65537, 1, 2, 3, strong(), 14, 15, 1}})  // more images than CUDA blocks: grid-stride
        run_test("simclr_augment " + a.str(), [&](Test& t) { test_augment(t, a); });
    run_test("simclr_augment probabilities 0, scale 1: identity", test_identity);
    run_test("simclr_augment flip only: exact mirror, frequency 1/2", test_flip);
    run_test("simclr_augment grayscale only: ITU-R 601-2 luma", test_grayscale);
    run_test("simclr_augment depends on seed, step, view and batch index", test_streams);
    run_test("simclr_augment argument errors", test_augment_errors);
    for (const LarsCase& h : {LarsCase{1001, 0.5f, 0.9f, 1e-3f, 1e-3f, 1, "random"},
                              LarsCase{7, 2.0f, 0.9f, 1e-6f, 0.02f, 1, "random"},
                              LarsCase{70001, 1.0f, 0.9f, 5e-4f, 1e-3f, 1, "random"},
                              LarsCase{33, 0.3f, 0.0f, 0.1f, 0.05f, 1, "random"},
                              LarsCase{129, 0.1f, 0.9f, 1e-3f, 1e-3f, 0, "random"},
                              LarsCase{1, 0.1f, 0.5f, 0.0f, 1e-3f, 1, "random"},
                              LarsCase{17, 0.1f, 0.9f, 1e-3f, 1e-3f, 1, "zero param"},
                              LarsCase{17, 0.1f, 0.9f, 1e-3f, 1e-3f, 1, "zero grad"}})
        run_test("lars " + h.str(), [&](Test& t) { test_lars(t, h); });
    run_test("lars argument errors", test_lars_errors);

    run_cuda_pass(test_no_device);
    return end_program();
}
