#pragma once
// Matrix products. Transposes are BLAS flags, never copies; gradients are written by gemm
// straight into the operand's gradient buffer (beta = 1 accumulates a second contribution,
// e.g. the decoder's share of a tied weight on top of the encoder's).
#include "tapegrad/blas.hpp"
#include "tapegrad/ops/blocks.hpp"
#include "tapegrad/ops/patterned.hpp"
#include "tapegrad/tape.hpp"

#include <xsimd/xsimd.hpp>

#include <algorithm>

namespace tg {

template <class T> Var<T> sum(Var<T> x, int axis);  // reductions.hpp: affine's bias rule

/// Whether a matrix product reads an operand as stored (N) or transposed (T).
enum class Trans : std::uint32_t { N = 0, T = 1 };

/// `matmul`'s switches: which operands enter transposed.
struct MatmulAttributes {
    bool transpose_a, transpose_b;
};

/// `affine`'s switch: whether W enters transposed (op(W) = W^T).
struct AffineAttributes {
    bool transpose_w;
};

namespace detail {
inline Shape op_shape(Shape s, Trans t) { return t == Trans::T ? Shape{s[1], s[0]} : s; }
inline std::string op_name(const char* name, Shape s, Trans t) {
    return std::string(name) + (t == Trans::T ? "^T " : " ") + to_string(s);
}

// Gradients of C = op(A) op(B) given G = dC:
//   dA = G op(B)^T      (stored transposed when A enters transposed: dA = op(B) G^T)
//   dB = op(A)^T G      (likewise:                                  dB = G^T op(A))
template <class T>
void matmul_backward_operands(const Matrix<T>& g, Node<T>& a, bool ta, Node<T>& b, bool tb) {
    if (a.requires_grad) {
        if (!ta) blas::gemm(g, false, *b.value, !tb, *a.grad, T(1), gemm_beta(a));
        else     blas::gemm(*b.value, tb, g, true, *a.grad, T(1), gemm_beta(a));
    }
    if (b.requires_grad) {
        if (!tb) blas::gemm(*a.value, !ta, g, false, *b.grad, T(1), gemm_beta(b));
        else     blas::gemm(g, true, *a.value, ta, *b.grad, T(1), gemm_beta(b));
    }
}

// grad(b) (+)= the column sums of the rows x cols array g: the gradient of a bias row
// broadcast over `rows` rows (affine's batch, a convolution's pixels). Nothing if b needs none.
template <class T>
void add_column_sums(Node<T>& b, const T* g, std::size_t rows, std::size_t cols) {
    if (b.requires_grad) column_sums(g, rows, cols, b.grad->data(), accumulate_into(b), [](auto e) { return e; });
}

// Writes the bias row `bias` (1 x cols) into every one of the `rows` rows of `out`.
template <class T>
void broadcast_rows(const T* bias, std::size_t rows, std::size_t cols, T* out) {
    parallel::for_rows(rows, cols, [&](std::size_t lo, std::size_t hi) {
        if (cols == 1) {  // one channel (a decoder's image): a fill, not a loop of one element per row
            std::fill(out + lo, out + hi, bias[0]);
            return;
        }
        for (std::size_t i = lo; i < hi; ++i)
            for (std::size_t j = 0; j < cols; ++j) out[i * cols + j] = bias[j];
    });
}

// The same gradients as ops (the rules of matmul and affine): dA and dB of C = op(A) op(B).
template <class T>
void matmul_rule_operands(RuleContext<T>& c, Var<T> g, std::size_t ia, bool ta, std::size_t ib, bool tb) {
    const Var<T> a = c.x[ia], b = c.x[ib];
    auto flag = [](bool t) { return t ? Trans::T : Trans::N; };
    if (c.needs[ia]) c.dx[ia] = !ta ? matmul(g, b, Trans::N, flag(!tb)) : matmul(b, g, flag(tb), Trans::T);
    if (c.needs[ib]) c.dx[ib] = !tb ? matmul(a, g, flag(!ta), Trans::N) : matmul(g, a, Trans::T, flag(ta));
}

inline Shape product_shape(const char* op, Shape a, Trans ta, Shape b, Trans tb) {
    const Shape oa = op_shape(a, ta), ob = op_shape(b, tb);
    if (oa[1] != ob[0])
        throw ShapeError(std::string(op) + ": cannot multiply " + op_name("A", a, ta) + " by " + op_name("B", b, tb) +
                         ": inner dimensions " + std::to_string(oa[1]) + " and " + std::to_string(ob[0]) +
                         " must be equal");
    return {oa[0], ob[1]};
}
}  // namespace detail

/// C = op(A) op(B), with op = identity (Trans::N) or transpose (Trans::T).
///   dA = dC op(B)^T,  dB = op(A)^T dC   (gemm with transpose flags, accumulating;
///   a patterned A, not transposed, takes the kernels of ops/patterned.hpp)
template <class T>
Var<T> matmul(Var<T> a, Var<T> b, Trans ta = Trans::N, Trans tb = Trans::N) {
    const Shape shape = detail::product_shape("matmul", a.shape(), ta, b.shape(), tb);
    return a.tape->record(
        "matmul", shape, {a, b},
        [&](Node<T>& c) {
            if (ta == Trans::T || !detail::patterned_product(*a.node, b.value(), tb == Trans::T, c, T(0)))
                blas::gemm(a.value(), ta == Trans::T, b.value(), tb == Trans::T, c.result, T(1), T(0));
        },
        [](Node<T>& c) {
            const auto& t = c.template attributes<MatmulAttributes>();
            if (t.transpose_a || !detail::patterned_product_backward(*c.grad, c.in(0), c.in(1), t.transpose_b, c))
                detail::matmul_backward_operands(*c.grad, c.in(0), t.transpose_a, c.in(1), t.transpose_b);
        },
        [](RuleContext<T>& c) {
            const auto& t = c.template attributes<MatmulAttributes>();
            detail::matmul_rule_operands(c, c.dy, 0, t.transpose_a, 1, t.transpose_b);
        },
        MatmulAttributes{.transpose_a = ta == Trans::T, .transpose_b = tb == Trans::T});
}

/// Y = X op(W) + b, the bias row b (1 x n) broadcast over the batch. op(W) = W^T (the default,
/// W stored out x in like a Linear layer) or W (Trans::N, e.g. a tied decoder reading the
/// encoder's weight). Fused: one gemm, one pass adding the bias. A patterned X takes the kernels
/// of ops/patterned.hpp (a repeated X: one block's product, copied).
///   dX = dY op(W)^T,  dW as in matmul,  db = column sums of dY
template <class T>
Var<T> affine(Var<T> x, Var<T> w, Var<T> b, Trans tw = Trans::T) {
    const Shape shape = detail::product_shape("affine", x.shape(), Trans::N, w.shape(), tw);
    if (b.shape() != Shape{1, shape[1]})
        throw ShapeError("affine: bias has shape " + to_string(b.shape()) + " but X op(W) has shape " +
                         to_string(shape) + "; expected bias shape " + to_string(Shape{1, shape[1]}));
    return x.tape->record(
        "affine", shape, {x, w, b},
        [&](Node<T>& y) {
            // Broadcast the bias into Y first, then let gemm add X op(W) on top (beta = 1):
            // one pass over Y instead of two. A repeated X needs only its first block's.
            const Node<T>& xn = *x.node;
            const std::size_t rows = xn.pattern == Pattern::repeated ? detail::rows_per_block(xn) : shape[0];
            detail::broadcast_rows(b.value().data(), rows, shape[1], y.result.data());
            if (!detail::patterned_product(xn, w.value(), tw == Trans::T, y, T(1)))
                blas::gemm(x.value(), false, w.value(), tw == Trans::T, y.result, T(1), T(1));
        },
        [](Node<T>& y) {
            const bool tw = y.template attributes<AffineAttributes>().transpose_w;
            if (!detail::patterned_product_backward(*y.grad, y.in(0), y.in(1), tw, y))
                detail::matmul_backward_operands(*y.grad, y.in(0), false, y.in(1), tw);
            detail::add_column_sums(y.in(2), y.grad->data(), y.shape[0], y.shape[1]);
        },
        [](RuleContext<T>& c) {
            detail::matmul_rule_operands(c, c.dy, 0, false, 1, c.template attributes<AffineAttributes>().transpose_w);
            if (c.needs[2]) c.dx[2] = sum(c.dy, 0);
        },
        AffineAttributes{.transpose_w = tw == Trans::T});
}

// Compiled once per precision in framework/src/ops_float.cpp and ops_double.cpp; every other
// translation unit only declares them (instantiated in each, they made most of the build time).
#define TG_LINEAR_OPS(PREFIX, T) \
    PREFIX template Var<T> matmul<T>(Var<T>, Var<T>, Trans, Trans); \
    PREFIX template Var<T> affine<T>(Var<T>, Var<T>, Var<T>, Trans);
TG_LINEAR_OPS(extern, float)
TG_LINEAR_OPS(extern, double)

}  // namespace tg
