#pragma once
// Ops that move values without arithmetic (broadcast, transpose, reshape), constants made on
// the tape, and the stop-gradient. Gradient rules need them: the gradient of a broadcast
// operand is a sum (`sum_to`), the gradient of a sum is a broadcast.
#include "tapegrad/ops/reductions.hpp"

namespace tg {

template <class T> Var<T> sum_row_blocks(Var<T> v, std::size_t blocks);

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

/// The `copies` x n stacked copies of x's rows: row c·B + b is x's row b (B = x's rows);
///   dx = the sum of dy's `copies` blocks of B rows
template <class T>
Var<T> tile_rows(Var<T> x, std::size_t copies) {
    return x.tape->record(
        "tile_rows", Shape{copies * x.rows(), x.cols()}, {x},
        [&](Node<T>& y) {
            const std::size_t block = x.value().size();
            for (std::size_t c = 0; c < copies; ++c) std::copy(x.value().begin(), x.value().end(), y.result.begin() + c * block);
            y.pattern = Pattern::repeated;
            y.pattern_blocks = copies;
        },
        [](Node<T>& y) {
            Node<T>& x = y.in(0);
            const std::size_t block = x.grad->size(), copies = y.shape[0] / x.shape[0];
            detail::sum_blocks(y.grad->data(), copies, block, x.grad->data(), accumulate_into(x));
        },
        [](RuleContext<T>& c) { c.dx[0] = sum_row_blocks(c.dy, c.node.shape[0] / c.x[0].rows()); });
}

/// The sum of v's `blocks` consecutive blocks of rows (the adjoint of tile_rows);
///   dv = dy tiled `blocks` times
template <class T>
Var<T> sum_row_blocks(Var<T> v, std::size_t blocks) {
    if (blocks == 0 || v.rows() % blocks != 0)
        throw ShapeError("sum_row_blocks: " + std::to_string(v.rows()) + " rows do not split into " + std::to_string(blocks) +
                         " equal blocks");
    return v.tape->record(
        "sum_row_blocks", Shape{v.rows() / blocks, v.cols()}, {v},
        [&, blocks](Node<T>& y) {
            detail::sum_blocks(v.value().data(), blocks, y.result.size(), y.result.data(), false);
        },
        [](Node<T>& y) {
            Node<T>& v = y.in(0);
            const std::size_t block = y.grad->size(), blocks = v.shape[0] / y.shape[0];
            const bool add = accumulate_into(v);
            for (std::size_t c = 0; c < blocks; ++c) {
                T* g = v.grad->data() + c * block;
                const T* dy = y.grad->data();
                if (add) for (std::size_t i = 0; i < block; ++i) g[i] += dy[i];
                else     std::copy(dy, dy + block, g);
            }
        },
        [](RuleContext<T>& c) { c.dx[0] = tile_rows(c.dy, c.x[0].rows() / c.node.shape[0]); });
}

/// The cotangents that pick every output unit at once: a (units·B) x units matrix whose row
/// k·B + b is the unit vector e_k (the seed of a stacked Jacobian, jacobian.hpp).
template <class T>
Var<T> unit_cotangents(Tape<T>& t, std::size_t batch, std::size_t units) {
    return t.record(
        "unit_cotangents", Shape{units * batch, units}, {},
        [batch, units](Node<T>& y) {
            std::fill(y.result.begin(), y.result.end(), T(0));
            for (std::size_t k = 0; k < units; ++k)
                for (std::size_t b = 0; b < batch; ++b) y.result((k * batch + b), k) = T(1);
            y.pattern = Pattern::unit_rows;
            y.pattern_blocks = units;
        },
        nullptr, zero_rule<T>);
}

// Compiled once per precision in framework/src/ops_float.cpp and ops_double.cpp; every other
// translation unit only declares them (instantiated in each, they made most of the build time).
#define TG_SHAPE_OPS(PREFIX, T) \
    PREFIX template Var<T> full<T>(Tape<T>&, Shape, double); \
    PREFIX template Var<T> broadcast_to<T>(Var<T>, Shape); \
    PREFIX template Var<T> sum_to<T>(Var<T>, Shape); \
    PREFIX template Var<T> transpose<T>(Var<T>); \
    PREFIX template Var<T> reshape<T>(Var<T>, std::size_t, std::size_t); \
    PREFIX template Var<T> tile_rows<T>(Var<T>, std::size_t); \
    PREFIX template Var<T> sum_row_blocks<T>(Var<T>, std::size_t); \
    PREFIX template Var<T> unit_cotangents<T>(Tape<T>&, std::size_t, std::size_t);
TG_SHAPE_OPS(extern, float)
TG_SHAPE_OPS(extern, double)

}  // namespace tg
