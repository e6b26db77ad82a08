// Row-major SGEMM used by the CPU backend: C = alpha * op(A) op(B) + beta * C, op(A) is M x K, op(B) is K x N.
#ifndef QUARRY_CPU_GEMM_H
#define QUARRY_CPU_GEMM_H

#include <cstdint>

namespace qy {
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
           const double* b, int64_t ldb, double beta, double* c, int64_t ldc);
}

#endif
