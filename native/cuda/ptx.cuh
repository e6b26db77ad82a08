// Inline PTX behind named device functions (sm_80+: fp64, bf16 and tf32 mma.sync, ldmatrix, cp.async). Kernels call these; on a GPU each is one PTX instruction, under the
// CUDA emulator (native/cuda_emu) each is computed lane by lane from the PTX ISA's fragment layout.
#ifndef QUARRY_CUDA_PTX_CUH
#define QUARRY_CUDA_PTX_CUH

#include <cuda_runtime.h>

#include <cstdint>

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

// D (16x8, f32) += A (16x16, row-major bf16) . B (16x8, column-major bf16), one warp. g = lane / 4, t = lane % 4;
// registers hold two bf16 each, the lower-indexed element in the low half:
//   a0 = A[g][2t..2t+1], a1 = A[g+8][2t..2t+1], a2 = A[g][2t+8..2t+9], a3 = A[g+8][2t+8..2t+9]
//   b0 = B[2t..2t+1][g], b1 = B[2t+8..2t+9][g];  d0, d1 = D[g][2t..2t+1], d2, d3 = D[g+8][2t..2t+1]
// (PTX ISA, "Matrix fragments for mma.m16n8k16 with floating point type").
__device__ __forceinline__ void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#ifdef QY_CUDA_EMU
    qy_emu::mma_m16n8k16_bf16(d, a, b, __FILE__, __LINE__);
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// D (16x8, f32) += A (16x8, row-major tf32) . B (8x8, column-major tf32), one warp. g = lane / 4, t = lane % 4:
//   a0 = A[g][t], a1 = A[g+8][t], a2 = A[g][t+4], a3 = A[g+8][t+4]; b0 = B[t][g], b1 = B[t+4][g]; d as for bf16
// (PTX ISA, "Matrix fragments for mma.m16n8k8", .tf32). Operands should come from cvt_tf32.
__device__ __forceinline__ void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#ifdef QY_CUDA_EMU
    qy_emu::mma_m16n8k8_tf32(d, a, b, __FILE__, __LINE__);
#else
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// cvt.rna.tf32.f32: x rounded to tf32 (10 mantissa bits, ties away from zero), as a .b32 operand.
__device__ __forceinline__ uint32_t cvt_tf32(float x) {
#ifdef QY_CUDA_EMU
    return qy_emu::cvt_tf32(x);
#else
    uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(x));
    return r;
#endif
}

#ifndef QY_CUDA_EMU
__device__ __forceinline__ uint32_t smem_address(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }
#endif

// ldmatrix.sync.aligned.m8n8.x4(.trans).shared.b16: lane l gives the shared-memory address of row l % 8 of 8x8 b16
// matrix l / 8; without .trans r[i] holds matrix i's row l/4, elements 2(l%4) and 2(l%4)+1, with .trans its
// elements (2(l%4), l/4) and (2(l%4)+1, l/4) (PTX ISA, "ldmatrix").
template <bool Trans>
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* row) {
#ifdef QY_CUDA_EMU
    qy_emu::ldmatrix(r, 4, Trans, row, __FILE__, __LINE__);
#else
    if constexpr (Trans)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(smem_address(row)));
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(smem_address(row)));
#endif
}

// cp.async.cg.shared.global of 16 bytes, the last 16 - src_bytes of them zero-filled (src_bytes = 0: all zeros,
// the source is not read). Then cp_async_commit() closes a group and cp_async_wait<N>() waits until at most N
// groups are pending.
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, int src_bytes) {
#ifdef QY_CUDA_EMU
    qy_emu::cp_async(smem, gmem, 16, src_bytes, __FILE__, __LINE__);
#else
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_address(smem)), "l"(gmem),
                 "r"(src_bytes));
#endif
}
__device__ __forceinline__ void cp_async_commit() {
#ifdef QY_CUDA_EMU
    qy_emu::cp_async_commit();
#else
    asm volatile("cp.async.commit_group;\n" ::);
#endif
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
#ifdef QY_CUDA_EMU
    qy_emu::cp_async_wait(N);
#else
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
#endif
}

}  // namespace ptx
}  // namespace qy

#endif
