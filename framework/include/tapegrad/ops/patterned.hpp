#pragma once
// Matrix products whose left operand has a pattern (Node::pattern, tape.hpp). The stacked
// Jacobian of jacobian.hpp multiplies (K·B)-row matrices that are K copies of one B-row block
// (tile_rows) or zero outside one column per row (the unit cotangents, and their elementwise
// products). A dense product does K times the needed work on the first and `units` times on the
// second; these kernels do only what the numbers need. They give the dense product's results
// (to rounding: the copies' gradients are summed before the product, not after).
//
// A unit_rows matrix's zeros are structural (zero for every value of what it is computed from),
// so its gradient there never reaches anything: the backward writes zeros there.
#include "tapegrad/blas.hpp"
#include "tapegrad/ops/blocks.hpp"
#include "tapegrad/tape.hpp"

#include <xsimd/xsimd.hpp>

#include <algorithm>

namespace tg::detail {

// Rows of one block: of the first copy (repeated), or of one unit's rows (unit_rows).
template <class T>
std::size_t rows_per_block(const Node<T>& a) {
    return a.shape[0] / a.pattern_blocks;
}

// An elementwise product keeps the structural zeros of an operand of its own shape.
template <class T>
void keep_unit_rows(Node<T>& y, const Node<T>& a, const Node<T>& b) {
    for (const Node<T>* x : {&a, &b})
        if (x->pattern == Pattern::unit_rows && x->shape == y.shape) {
            y.pattern = Pattern::unit_rows;
            y.pattern_blocks = x->pattern_blocks;
        }
}

// op(B) with contiguous rows: B itself, or B^T copied into `buffer` (a small weight matrix).
template <class T>
const Matrix<T>& rows_of_op(const Matrix<T>& b, bool transposed, Matrix<T>& buffer) {
    if (!transposed) return b;
    const std::size_t r = b.shape()[0], c = b.shape()[1];
    ensure_shape(buffer, Shape{c, r});
    for (std::size_t i = 0; i < r; ++i)
        for (std::size_t j = 0; j < c; ++j) buffer(j, i) = b(i, j);
    return buffer;
}

// C (+)= A op(B) for a patterned A (not transposed); beta 0 overwrites C, 1 adds to it (affine
// has broadcast its bias into C's first block, or into all of it for unit rows). Returns false,
// doing nothing, when A has no pattern.
//   repeated:  the first block's product, copied into the others (C is repeated too);
//   unit_rows: row r of unit k is A[r, k] times row k of op(B).
template <class T>
bool patterned_product(const Node<T>& a, const Matrix<T>& b, bool tb, Node<T>& c, T beta) {
    const std::size_t n = c.shape[1], k = a.shape[1];
    if (a.pattern == Pattern::repeated) {
        const std::size_t rows = rows_per_block(a), block = rows * n;
        blas::gemm(false, tb, rows, n, k, T(1), a.value->data(), k, b.data(), b.shape()[1], beta, c.result.data(), n);
        T* out = c.result.data();
        for (std::size_t copy = 1; copy < a.pattern_blocks; ++copy) std::copy(out, out + block, out + copy * block);
        c.pattern = Pattern::repeated;
        c.pattern_blocks = a.pattern_blocks;
        return true;
    }
    if (a.pattern != Pattern::unit_rows) return false;
    const Matrix<T>& op_b = rows_of_op(b, tb, c.scratch);
    const std::size_t per_unit = rows_per_block(a);
    const T* av = a.value->data();
    parallel::for_rows(a.shape[0], n, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t r = lo; r < hi; ++r) {
            const std::size_t unit = r / per_unit;
            const T s = av[r * k + unit];
            const T* brow = op_b.data() + unit * n;
            T* crow = c.result.data() + r * n;
            if (beta == T(0)) for (std::size_t j = 0; j < n; ++j) crow[j] = s * brow[j];
            else              for (std::size_t j = 0; j < n; ++j) crow[j] += s * brow[j];
        }
    });
    return true;
}

// The gradients of C = A op(B) for a patterned A (not transposed), from G = dC; false, doing
// nothing, when A has no pattern.
//   repeated:  dA = G op(B)^T as for a dense A (its copies are distinct values); dB from the
//              first block and the sum of G's blocks: dB = op^-1(A_1^T sum_c G_c);
//   unit_rows: dA only on the pattern, dA[r, k] = <G row r, op(B) row k>; row k of d op(B) is
//              sum over unit k's rows r of A[r, k] G row r.
template <class T>
bool patterned_product_backward(const Matrix<T>& g, Node<T>& a, Node<T>& b, bool tb, Node<T>& c) {
    const std::size_t n = c.shape[1], k = a.shape[1];
    if (a.pattern == Pattern::repeated) {
        if (a.requires_grad) blas::gemm(g, false, *b.value, !tb, *a.grad, T(1), gemm_beta(a));
        if (b.requires_grad) {
            const std::size_t rows = rows_per_block(a);
            ensure_shape(c.scratch, Shape{rows, n});
            T* gs = c.scratch.data();
            sum_blocks(g.data(), a.pattern_blocks, rows * n, gs, false);
            const T* a1 = a.value->data();
            if (!tb) blas::gemm(true, false, k, n, rows, T(1), a1, k, gs, n, gemm_beta(b), b.grad->data(), n);
            else     blas::gemm(true, false, n, k, rows, T(1), gs, n, a1, k, gemm_beta(b), b.grad->data(), k);
        }
        return true;
    }
    if (a.pattern != Pattern::unit_rows) return false;
    // One pass over G, unit by unit: for each row r of unit k, the dot product <G_r, op(B)_k>
    // (dA's one entry in that row) and d op(B)_k += A[r, k] G_r, with op(B)_k and the sum in L1.
    const std::size_t per_unit = rows_per_block(a), units = k;
    const Matrix<T>& op_b = tb ? c.scratch : *b.value;  // the forward left op(B)'s rows there
    const bool want_a = a.requires_grad, want_b = b.requires_grad;
    const bool add_a = want_a && accumulate_into(a);
    if (want_b) ensure_shape(c.saved, Shape{units, n});  // d op(B), then into dB
    const T* av = a.value->data();
    T* da = want_a ? a.grad->data() : nullptr;
    using Batch = xsimd::batch<T>;
    constexpr std::size_t w = Batch::size;
    parallel::for_rows(units, per_unit * n, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t unit = lo; unit < hi; ++unit) {
            const T* brow = op_b.data() + unit * n;
            T* out = want_b ? c.saved.data() + unit * n : nullptr;
            if (out) std::fill(out, out + n, T(0));
            for (std::size_t r = unit * per_unit; r < (unit + 1) * per_unit; ++r) {
                const T* grow = g.data() + r * n;
                const T s = av[r * k + unit];
                const Batch sb(s);
                Batch acc0(T(0)), acc1(T(0));
                std::size_t j = 0;
                for (; j + 2 * w <= n; j += 2 * w) {
                    const Batch g0 = Batch::load_unaligned(grow + j), g1 = Batch::load_unaligned(grow + j + w);
                    acc0 = xsimd::fma(g0, Batch::load_unaligned(brow + j), acc0);
                    acc1 = xsimd::fma(g1, Batch::load_unaligned(brow + j + w), acc1);
                    if (out) {
                        xsimd::fma(sb, g0, Batch::load_unaligned(out + j)).store_unaligned(out + j);
                        xsimd::fma(sb, g1, Batch::load_unaligned(out + j + w)).store_unaligned(out + j + w);
                    }
                }
                T dot = xsimd::hadd(acc0 + acc1);
                for (; j < n; ++j) {
                    dot += grow[j] * brow[j];
                    if (out) out[j] += s * grow[j];
                }
                if (!da) continue;
                if (add_a) {
                    da[r * k + unit] += dot;
                } else {
                    std::fill(da + r * k, da + (r + 1) * k, T(0));
                    da[r * k + unit] = dot;
                }
            }
        }
    });
    if (want_b) {
        const bool add = accumulate_into(b);
        T* db = b.grad->data();
        for (std::size_t unit = 0; unit < units; ++unit)
            for (std::size_t j = 0; j < n; ++j) {
                T& target = tb ? db[j * units + unit] : db[unit * n + j];
                target = add ? target + c.saved(unit, j) : c.saved(unit, j);
            }
    }
    return true;
}

}  // namespace tg::detail
