#pragma once
// Matrix products over CBLAS. The raw calls live in src/blas.cpp because <cblas.h> and the
// xtensor-blas headers cannot share a translation unit (duplicate CBLAS enums).
//
// `gemm` is shape-aware: a product with a unit dimension goes to fused dot, axpy or outer-
// product loops (same transpose and alpha/beta semantics), and a large one is split over the
// framework's threads (tg::set_num_threads) in row or column blocks. `general_gemm` always
// calls gemm (split the same way): the baselines use it, as the benchmark workload defines.
#include "tapegrad/tensor.hpp"

#include <cstddef>

namespace tg::blas {

/// C = alpha op(A) op(B) + beta C, row-major with leading dimensions; beta = 0 reads no C.
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
          std::size_t ldc);
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* a, std::size_t lda, const double* b, std::size_t ldb, double beta, double* c,
          std::size_t ldc);
/// The same through ?gemm whatever the shape.
void general_gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
                  const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
                  std::size_t ldc);
void general_gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha,
                  const double* a, std::size_t lda, const double* b, std::size_t ldb, double beta, double* c,
                  std::size_t ldc);

/// The library's thread count (the same as tg::set_num_threads / tg::num_threads, which see).
void set_num_threads(int threads);
int num_threads();

namespace detail {
// OpenBLAS's own threads: kept at 1 by tg::set_num_threads (src/threads.cpp says why).
void set_blas_threads(int threads);
}  // namespace detail

// C = alpha * op(A) op(B) + beta * C, straight into C's buffer (row-major, leading dimension =
// column count). The caller has checked the shapes.
template <class T>
void gemm(const Matrix<T>& a, bool trans_a, const Matrix<T>& b, bool trans_b, Matrix<T>& c, T alpha, T beta) {
    const std::size_t m = c.shape()[0], n = c.shape()[1];
    const std::size_t k = trans_a ? a.shape()[0] : a.shape()[1];
    gemm(trans_a, trans_b, m, n, k, alpha, a.data(), a.shape()[1], b.data(), b.shape()[1], beta, c.data(), n);
}
template <class T>
void general_gemm(const Matrix<T>& a, bool trans_a, const Matrix<T>& b, bool trans_b, Matrix<T>& c, T alpha, T beta) {
    const std::size_t m = c.shape()[0], n = c.shape()[1];
    const std::size_t k = trans_a ? a.shape()[0] : a.shape()[1];
    general_gemm(trans_a, trans_b, m, n, k, alpha, a.data(), a.shape()[1], b.data(), b.shape()[1], beta, c.data(), n);
}

}  // namespace tg::blas
