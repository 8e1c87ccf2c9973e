#include "tapegrad/blas.hpp"

#include "tapegrad/parallel.hpp"
#include "tapegrad/threads.hpp"

#include <cblas.h>
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>

namespace tg::blas {

namespace {
CBLAS_TRANSPOSE flag(bool transposed) { return transposed ? CblasTrans : CblasNoTrans; }
blasint as_int(std::size_t v) { return static_cast<blasint>(v); }

void raw_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, float alpha, const float* a,
              std::size_t lda, const float* b, std::size_t ldb, float beta, float* c, std::size_t ldc) {
    cblas_sgemm(CblasRowMajor, flag(ta), flag(tb), as_int(m), as_int(n), as_int(k), alpha, a, as_int(lda), b,
                as_int(ldb), beta, c, as_int(ldc));
}
void raw_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, double alpha, const double* a,
              std::size_t lda, const double* b, std::size_t ldb, double beta, double* c, std::size_t ldc) {
    cblas_dgemm(CblasRowMajor, flag(ta), flag(tb), as_int(m), as_int(n), as_int(k), alpha, a, as_int(lda), b,
                as_int(ldb), beta, c, as_int(ldc));
}

// A product worth splitting over the pool has at least this many multiply-adds per part
// (about 10 us of one core): below it the second core's cold cache costs more than it saves.
constexpr std::size_t min_work_per_part = std::size_t(1) << 20;

// C = alpha op(A) op(B) + beta C as one gemm, or as row blocks of C (when it has more rows than
// columns) or column blocks, one per part. OpenBLAS rounds a block differently from the whole
// matrix, so a split result is the one-thread result to rounding, not bit for bit (the bound
// tests/test_threads.cpp checks).
template <class T>
void split_gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
                std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    const std::size_t work = m * n * k;
    if (parallel::threads() == 1 || work < 2 * min_work_per_part) {
        raw_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    const bool by_rows = m >= n;
    const std::size_t along = by_rows ? m : n, work_per_line = work / along;
    const std::size_t min_lines = std::max<std::size_t>(16, (min_work_per_part + work_per_line - 1) / work_per_line);
    parallel::for_range(along, min_lines, [&](std::size_t lo, std::size_t hi) {
        if (by_rows)  // rows lo..hi of op(A) and of C
            raw_gemm(ta, tb, hi - lo, n, k, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * ldc, ldc);
        else          // columns lo..hi of op(B) and of C
            raw_gemm(ta, tb, m, hi - lo, k, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc);
    });
}

// y[i * incy] = alpha <row i of M, x> + beta y[i * incy] for the `rows` rows of M (length n,
// `ldm` apart) and a contiguous x. Four rows at a time, one SIMD accumulator each: four
// independent FMA chains, and each load of x serves four rows.
template <class T>
void dot_rows(std::size_t rows, std::size_t n, T alpha, const T* M, std::size_t ldm, const T* x, T beta, T* y,
              std::size_t incy) {
    using Batch = xsimd::batch<T>;
    constexpr std::size_t w = Batch::size;
    auto finish = [&](std::size_t i, T d) {
        T& out = y[i * incy];
        out = beta == T(0) ? alpha * d : alpha * d + beta * out;
    };
    std::size_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const T *r0 = M + i * ldm, *r1 = r0 + ldm, *r2 = r1 + ldm, *r3 = r2 + ldm;
        Batch s0(T(0)), s1(T(0)), s2(T(0)), s3(T(0));
        std::size_t p = 0;
        for (; p + w <= n; p += w) {
            const Batch xp = Batch::load_unaligned(x + p);
            s0 = xsimd::fma(Batch::load_unaligned(r0 + p), xp, s0);
            s1 = xsimd::fma(Batch::load_unaligned(r1 + p), xp, s1);
            s2 = xsimd::fma(Batch::load_unaligned(r2 + p), xp, s2);
            s3 = xsimd::fma(Batch::load_unaligned(r3 + p), xp, s3);
        }
        T d0 = xsimd::hadd(s0), d1 = xsimd::hadd(s1), d2 = xsimd::hadd(s2), d3 = xsimd::hadd(s3);
        for (; p < n; ++p) d0 += r0[p] * x[p], d1 += r1[p] * x[p], d2 += r2[p] * x[p], d3 += r3[p] * x[p];
        finish(i, d0), finish(i + 1, d1), finish(i + 2, d2), finish(i + 3, d3);
    }
    for (; i < rows; ++i) {
        const T* r = M + i * ldm;
        Batch s(T(0));
        std::size_t p = 0;
        for (; p + w <= n; p += w) s = xsimd::fma(Batch::load_unaligned(r + p), Batch::load_unaligned(x + p), s);
        T d = xsimd::hadd(s);
        for (; p < n; ++p) d += r[p] * x[p];
        finish(i, d);
    }
}

// y (contiguous, length n) = beta y + alpha sum_p x[p * incx] (row p of M), the `k` rows `ldm`
// apart: the row-axpy form, which streams M once in storage order while a block of y stays in
// registers.
template <class T>
void axpy_rows(std::size_t k, std::size_t n, T alpha, const T* M, std::size_t ldm, const T* x, std::size_t incx,
               T beta, T* y) {
    using Batch = xsimd::batch<T>;
    constexpr std::size_t w = Batch::size;
    auto start = [&](const T* at) { return beta == T(0) ? Batch(T(0)) : Batch(beta) * Batch::load_unaligned(at); };
    std::size_t j = 0;
    for (; j + 4 * w <= n; j += 4 * w) {
        Batch s0 = start(y + j), s1 = start(y + j + w), s2 = start(y + j + 2 * w), s3 = start(y + j + 3 * w);
        for (std::size_t p = 0; p < k; ++p) {
            const Batch xp(alpha * x[p * incx]);
            const T* r = M + p * ldm + j;
            s0 = xsimd::fma(xp, Batch::load_unaligned(r), s0);
            s1 = xsimd::fma(xp, Batch::load_unaligned(r + w), s1);
            s2 = xsimd::fma(xp, Batch::load_unaligned(r + 2 * w), s2);
            s3 = xsimd::fma(xp, Batch::load_unaligned(r + 3 * w), s3);
        }
        s0.store_unaligned(y + j), s1.store_unaligned(y + j + w), s2.store_unaligned(y + j + 2 * w);
        s3.store_unaligned(y + j + 3 * w);
    }
    for (; j < n; ++j) {
        T s = beta == T(0) ? T(0) : beta * y[j];
        for (std::size_t p = 0; p < k; ++p) s = std::fma(alpha * x[p * incx], M[p * ldm + j], s);
        y[j] = s;
    }
}

// C = alpha op(A) op(B) + beta C with a unit dimension, as fused loops instead of gemm: OpenBLAS
// 0.3.21 runs such products at a few GFLOP/s on AVX2 machines (its packing costs more than the
// work), and its gemv was slower than its gemm here (AVX-512: 1.1-1.5 us against 0.85 us at
// 128x1x129); these loops stream each operand once. Strides: op(A)'s rows are `a_row` apart and
// its columns `a_col`; likewise for op(B). Shapes no loop covers (a strided vector where a
// contiguous one is needed) go to gemm.
template <class T>
bool unit_product(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a,
                  std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    const std::size_t a_row = ta ? 1 : lda, a_col = ta ? lda : 1, b_row = tb ? 1 : ldb, b_col = tb ? ldb : 1;
    if (k == 1) {  // outer product: C = alpha a b^T + beta C (beta = 0 reads no C)
        if (b_col != 1) return false;
        for (std::size_t i = 0; i < m; ++i) {
            const T ai = alpha * a[i * a_row];
            T* ci = c + i * ldc;
            if (beta == T(0))
                for (std::size_t j = 0; j < n; ++j) ci[j] = ai * b[j];
            else if (beta == T(1))
                for (std::size_t j = 0; j < n; ++j) ci[j] += ai * b[j];
            else
                for (std::size_t j = 0; j < n; ++j) ci[j] = beta * ci[j] + ai * b[j];
        }
        return true;
    }
    if (n == 1) {  // C (m x 1) = alpha op(A) x + beta C, x = the column op(B)
        if (!ta && b_row == 1) return dot_rows(m, k, alpha, a, lda, b, beta, c, ldc), true;
        if (ta && ldc == 1) return axpy_rows(k, m, alpha, a, lda, b, b_row, beta, c), true;
        return false;
    }
    if (m == 1) {  // C (1 x n) = alpha x^T op(B) + beta C, x = the row op(A)
        if (!tb) return axpy_rows(k, n, alpha, b, ldb, a, a_col, beta, c), true;
        if (a_col == 1) return dot_rows(n, k, alpha, b, ldb, a, beta, c, 1), true;
        return false;
    }
    return false;
}

template <class T>
void product(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, T alpha, const T* a, std::size_t lda,
             const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
    if (m == 0 || n == 0) return;
    if ((m == 1 || n == 1 || k == 1) && unit_product(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) return;
    split_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
}  // namespace

void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
          const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
          std::size_t ldc) {
    product(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha,
          const double* a, std::size_t lda, const double* b, std::size_t ldb, double beta, double* c,
          std::size_t ldc) {
    product(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void general_gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
                  const float* a, std::size_t lda, const float* b, std::size_t ldb, float beta, float* c,
                  std::size_t ldc) {
    split_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void general_gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, double alpha,
                  const double* a, std::size_t lda, const double* b, std::size_t ldb, double beta, double* c,
                  std::size_t ldc) {
    split_gemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void set_num_threads(int threads) { tg::set_num_threads(threads); }
int num_threads() { return tg::num_threads(); }

namespace detail {
void set_blas_threads(int threads) { openblas_set_num_threads(threads); }
}  // namespace detail

}  // namespace tg::blas
