// CPU GEMM: OpenBLAS (JavaCPP preset) when built with it, else a cache-blocked OpenMP loop that exists so the
// native library builds and tests on hosts without the preset (the GPU validation host).
#include "gemm.h"

#include <algorithm>
#include <vector>

#ifdef QUARRY_WITH_OPENBLAS
#include <cblas.h>
#endif

extern "C" const char* qy_blas_info(void) {
#ifdef QUARRY_WITH_OPENBLAS
    return openblas_get_config();
#else
    return "built-in blocked SGEMM (no OpenBLAS)";
#endif
}

namespace qy {

namespace {

#ifndef QUARRY_WITH_OPENBLAS
// Pack op(B) as K x N row-major once so the inner loop runs over contiguous memory.
template <class T>
void gemm_fallback(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                   const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
    std::vector<T> bp((size_t)k * (size_t)n);
    for (int64_t p = 0; p < k; ++p)
        for (int64_t j = 0; j < n; ++j) bp[(size_t)(p * n + j)] = trans_b ? b[j * ldb + p] : b[p * ldb + j];
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < m; ++i) {
        std::vector<T> acc((size_t)n, T(0));
        for (int64_t p = 0; p < k; ++p) {
            T av = trans_a ? a[p * lda + i] : a[i * lda + p];
            const T* brow = &bp[(size_t)(p * n)];
            for (int64_t j = 0; j < n; ++j) acc[(size_t)j] += av * brow[j];
        }
        T* crow = c + i * ldc;
        for (int64_t j = 0; j < n; ++j) crow[j] = alpha * acc[(size_t)j] + (beta == T(0) ? T(0) : beta * crow[j]);
    }
}
#endif

}  // namespace

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
           const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#ifdef QUARRY_WITH_OPENBLAS
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (blasint)m,
                (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
#else
    gemm_fallback<float>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

void dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
           const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
#ifdef QUARRY_WITH_OPENBLAS
    cblas_dgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (blasint)m,
                (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
#else
    gemm_fallback<double>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#endif
}

}  // namespace qy
