// Inline PTX behind named device functions. Kernels call these; on a GPU each is one PTX instruction, under the
// CUDA emulator (native/cuda_emu) each is computed lane by lane from the PTX ISA's fragment layout.
#ifndef QUARRY_CUDA_PTX_CUH
#define QUARRY_CUDA_PTX_CUH

#include <cuda_runtime.h>

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "Quarry's CUDA kernels need sm_80 or newer (fp64 mma.sync)"
#endif

namespace qy {
namespace ptx {

// D (8x8) += A (8x4, row-major) . B (4x8, column-major) in fp64, one warp (all 32 lanes). Lane l holds A[l/4][l%4],
// B[l%4][l/4] and D[l/4][2(l%4) + {0, 1}] (PTX ISA, "mma.m8n8k4 with .f64").
__device__ __forceinline__ void mma_m8n8k4_f64(double& d0, double& d1, double a, double b) {
#ifdef QY_CUDA_EMU
    qy_emu::mma_m8n8k4_f64(d0, d1, a, b, __FILE__, __LINE__);
#else
    asm volatile("mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64 {%0,%1}, {%2}, {%3}, {%0,%1};\n"
                 : "+d"(d0), "+d"(d1)
                 : "d"(a), "d"(b));
#endif
}

}  // namespace ptx
}  // namespace qy

#endif
