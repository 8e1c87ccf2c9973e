#pragma once
// Thin wrapper over CBLAS gemm. The raw calls live in src/blas.cpp because <cblas.h> and the
// xtensor-blas headers cannot share a translation unit (duplicate CBLAS enums).
#include "tapegrad/tensor.hpp"

#include <cstddef>

namespace tg::blas {

void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
          std::size_t ldc);
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* a, std::size_t lda, const double* b, std::size_t ldb, double beta, double* c,
          std::size_t ldc);

// OpenBLAS worker threads for every later gemm.
void set_num_threads(int threads);
int num_threads();

// C = alpha * op(A) op(B) + beta * C, straight into C's buffer (row-major, leading dimension =
// column count). The caller has checked the shapes.
template <class T>
void gemm(const Matrix<T>& a, bool trans_a, const Matrix<T>& b, bool trans_b, Matrix<T>& c, T alpha, T beta) {
    const std::size_t m = c.shape()[0], n = c.shape()[1];
    const std::size_t k = trans_a ? a.shape()[0] : a.shape()[1];
    gemm(trans_a, trans_b, m, n, k, alpha, a.data(), a.shape()[1], b.data(), b.shape()[1], beta, c.data(), n);
}

}  // namespace tg::blas
