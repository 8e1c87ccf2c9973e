#pragma once
// Ops that move values without arithmetic (broadcast, transpose, reshape), constants made on
// the tape, and the stop-gradient. Gradient rules need them: the gradient of a broadcast
// operand is a sum (`sum_to`), the gradient of a sum is a broadcast.
#include "tapegrad/ops/reductions.hpp"

namespace tg {

/// The value of a `full` node.
struct Fill {
    double value;
};

/// A matrix of `shape` holding `value` everywhere, owned by the tape (no operands, no gradient).
template <class T>
Var<T> full(Tape<T>& t, Shape shape, double value) {
    return t.record(
        "full", shape, {}, [value](Node<T>& y) { std::fill(y.result.begin(), y.result.end(), T(value)); }, nullptr,
        zero_rule<T>, Fill{value});
}

/// x's value as a constant: the same numbers, no gradient flows back through it (stop-gradient).
/// Reads x's value in place: no copy, no node of its own on the sweep.
template <class T>
Var<T> detach(Var<T> x) {
    return x.tape->constant(x.value(), "detach");
}

namespace detail {
inline Shape checked_broadcast(Shape from, Shape to) {
    for (int d = 0; d < 2; ++d)
        if (from[d] != to[d] && from[d] != 1)
            throw ShapeError("broadcast_to: cannot broadcast shape " + to_string(from) + " to " + to_string(to) +
                             ": each dimension must be equal or 1");
    return to;
}
}  // namespace detail

/// y = x repeated along its dimensions of extent 1 to `shape`;  dx = sum_to(dy, x's shape)
template <class T>
Var<T> broadcast_to(Var<T> x, Shape shape) {
    return x.tape->record(
        "broadcast_to", detail::checked_broadcast(x.shape(), shape), {x},
        [&](Node<T>& y) {
            const detail::Broadcast<T> v(x.value());
            const std::size_t cols = shape[1];
            parallel::for_rows(shape[0], cols, [&](std::size_t lo, std::size_t hi) {
                for (std::size_t i = lo; i < hi; ++i)
                    for (std::size_t j = 0; j < cols; ++j) y.result.data()[i * cols + j] = v(i, j);
            });
        },
        [](Node<T>& y) {
            const detail::Broadcast<T> g(*y.grad);
            detail::reduce_grad(y.in(0), y.shape, g);
        },
        [](RuleContext<T>& c) { c.dx[0] = sum_to(c.dy, c.x[0].shape()); });
}

/// v summed along the dimensions where `shape` has extent 1 (the adjoint of broadcast_to): the
/// gradient of an operand that a binary op broadcast. v itself when the shapes agree.
template <class T>
Var<T> sum_to(Var<T> v, Shape shape) {
    if (v.shape() == shape) return v;
    if (shape == Shape{1, 1}) return sum(v);
    if (shape == Shape{1, v.cols()}) return sum(v, 0);
    if (shape == Shape{v.rows(), 1}) return sum(v, 1);
    throw ShapeError("sum_to: cannot sum shape " + to_string(v.shape()) + " to " + to_string(shape));
}

/// y = x^T;  dx = dy^T
template <class T>
Var<T> transpose(Var<T> x) {
    return x.tape->record(
        "transpose", Shape{x.cols(), x.rows()}, {x}, [&](Node<T>& y) { xt::noalias(y.result) = xt::transpose(x.value()); },
        [](Node<T>& y) { add_grad(y.in(0), xt::transpose(*y.grad)); },
        [](RuleContext<T>& c) { c.dx[0] = transpose(c.dy); });
}

/// The same values, row by row, as a rows x cols matrix;  dx = dy reshaped back
template <class T>
Var<T> reshape(Var<T> x, std::size_t rows, std::size_t cols) {
    if (rows * cols != x.rows() * x.cols())
        throw ShapeError("reshape: cannot reshape " + to_string(x.shape()) + " (" + std::to_string(x.rows() * x.cols()) +
                         " values) to " + to_string(Shape{rows, cols}) + " (" + std::to_string(rows * cols) + ")");
    return x.tape->record(
        "reshape", Shape{rows, cols}, {x},
        [&](Node<T>& y) { std::copy(x.value().begin(), x.value().end(), y.result.begin()); },
        [](Node<T>& y) {
            Node<T>& x = y.in(0);
            T* g = x.grad->data();
            const T* dy = y.grad->data();
            const bool add = accumulate_into(x);
            detail::for_elements(x.grad->size(), [&](std::size_t lo, std::size_t hi) {
                if (add) for (std::size_t i = lo; i < hi; ++i) g[i] += dy[i];
                else     std::copy(dy + lo, dy + hi, g + lo);
            });
        },
        [](RuleContext<T>& c) { c.dx[0] = reshape(c.dy, c.x[0].rows(), c.x[0].cols()); });
}

// Compiled once per precision in framework/src/ops_float.cpp and ops_double.cpp; every other
// translation unit only declares them (instantiated in each, they made most of the build time).
#define TG_SHAPE_OPS(PREFIX, T) \
    PREFIX template Var<T> full<T>(Tape<T>&, Shape, double); \
    PREFIX template Var<T> broadcast_to<T>(Var<T>, Shape); \
    PREFIX template Var<T> sum_to<T>(Var<T>, Shape); \
    PREFIX template Var<T> transpose<T>(Var<T>); \
    PREFIX template Var<T> reshape<T>(Var<T>, std::size_t, std::size_t);
TG_SHAPE_OPS(extern, float)
TG_SHAPE_OPS(extern, double)

}  // namespace tg
