// The CUDA emulator's <cuda_bf16.h>: the bfloat16 storage types and the conversions Quarry's kernels use.
#ifndef QY_CUDA_EMU_BF16_H
#define QY_CUDA_EMU_BF16_H

#include "cuda_runtime.h"

struct __nv_bfloat16 {
    unsigned short __x;
};
struct __attribute__((aligned(4))) __nv_bfloat162 {
    __nv_bfloat16 x, y;
};

// Round to nearest even; NaN stays a (quiet) NaN.
inline __nv_bfloat16 __float2bfloat16(float f) {
    uint32_t u = (uint32_t)qy_emu::to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return {(unsigned short)((u >> 16) | 0x40u)};
    u += 0x7fffu + ((u >> 16) & 1u);
    return {(unsigned short)(u >> 16)};
}
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __float2bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return qy_emu::from_bits<float>((uint64_t)b.__x << 16); }
inline __nv_bfloat162 __floats2bfloat162_rn(float lo, float hi) { return {__float2bfloat16(lo), __float2bfloat16(hi)}; }

#endif
