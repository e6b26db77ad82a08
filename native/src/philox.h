// Philox4x32-10 (Salmon, Moraes, Dror, Shaw: "Parallel random numbers: as easy as 1, 2, 3", SC 2011), shared by
// the CPU and CUDA backends so both draw identical streams. See quarry.h for how counters are formed.
#ifndef QUARRY_PHILOX_H
#define QUARRY_PHILOX_H

#include <cstdint>

#ifdef __CUDACC__
#define QY_HD __host__ __device__ __forceinline__
#else
#define QY_HD inline
#endif

namespace qy {

struct U4 {
    uint32_t x, y, z, w;
};

QY_HD void mulhilo32(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    *lo = (uint32_t)p;
}

QY_HD U4 philox4x32_10(U4 c, uint32_t k0, uint32_t k1) {
    for (int round = 0; round < 10; ++round) {
        uint32_t hi0, lo0, hi1, lo1;
        mulhilo32(0xD2511F53u, c.x, &hi0, &lo0);
        mulhilo32(0xCD9E8D57u, c.z, &hi1, &lo1);
        c = U4{hi1 ^ c.y ^ k0, lo1, hi0 ^ c.w ^ k1, lo0};
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
}

QY_HD uint32_t word(const U4& r, int i) { return i == 0 ? r.x : i == 1 ? r.y : i == 2 ? r.z : r.w; }

// [0, 1) with 24 random bits: exact in float32 and identical on both backends.
QY_HD float uniform01(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

// (0, 1]: safe for log in Box-Muller.
QY_HD float uniform01_open0(uint32_t x) { return (float)((x >> 8) + 1u) * (1.0f / 16777216.0f); }

QY_HD U4 fill_block(uint64_t seed, uint32_t stream_id, uint64_t block) {
    return philox4x32_10(U4{(uint32_t)block, (uint32_t)(block >> 32), stream_id, 0x80000000u}, (uint32_t)seed,
                         (uint32_t)(seed >> 32));
}

QY_HD bool dropout_keep(uint64_t seed, uint32_t layer, uint64_t k, uint64_t unit, float p) {
    U4 r = philox4x32_10(U4{(uint32_t)(unit >> 2), (uint32_t)k, (uint32_t)(k >> 32), layer & 0x3fffffffu},
                         (uint32_t)seed, (uint32_t)(seed >> 32));
    return uniform01(word(r, (int)(unit & 3))) >= p;
}

// Uniform in [0, 1) with 53 random bits from two words, for sampling classes in float64.
QY_HD double uniform01_f64(uint32_t hi, uint32_t lo) {
    return (double)(((uint64_t)(hi >> 6) << 27) | (uint64_t)(lo >> 5)) * (1.0 / 9007199254740992.0);
}

QY_HD U4 joint_sample_block(uint64_t seed, uint64_t row, uint32_t point, uint32_t step) {
    return philox4x32_10(U4{(uint32_t)row, point, step, 0x40000000u | (uint32_t)((row >> 32) & 0x3fffffffu)},
                         (uint32_t)seed, (uint32_t)(seed >> 32));
}

// Random crop offsets and flip of image `image` at training step `step` (quarry.h, qy_crop_flip).
struct CropFlip {
    int dy, dx;
    bool flip;
};

QY_HD CropFlip crop_flip_draw(uint64_t seed, uint64_t step, uint32_t image, int pad) {
    U4 r = philox4x32_10(U4{image, (uint32_t)step, (uint32_t)(step >> 32), 0xC0000000u}, (uint32_t)seed,
                         (uint32_t)(seed >> 32));
    const uint64_t span = 2 * (uint64_t)pad + 1;
    return CropFlip{(int)(((uint64_t)r.x * span) >> 32) - pad, (int)(((uint64_t)r.y * span) >> 32) - pad,
                    (r.z >> 31) != 0};
}

}  // namespace qy

#endif
