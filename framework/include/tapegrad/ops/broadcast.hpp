#pragma once
// Broadcasting for binary elementwise ops, written as plain row loops: xtensor's broadcasting
// expressions are far slower than a loop (xtensor 0.24, measured: about 50x slower than a raw
// loop when XTENSOR_USE_XSIMD is not defined), and a plain loop is vectorized by the compiler
// whatever the xtensor configuration. An operand broadcasts along a dimension of extent 1 (a
// 1 x n row, an m x 1 column, a 1 x 1 scalar).
#include "tapegrad/ops/blocks.hpp"

#include <algorithm>

namespace tg::detail {

inline Shape broadcast_shape(const char* op, Shape a, Shape b) {
    Shape out{};
    for (int d = 0; d < 2; ++d) {
        if (a[d] == b[d] || b[d] == 1) out[d] = a[d];
        else if (a[d] == 1) out[d] = b[d];
        else
            throw ShapeError(std::string(op) + ": shapes " + to_string(a) + " and " + to_string(b) +
                             " do not broadcast: each dimension must be equal or 1");
    }
    return out;
}

// Reads m at output position (i, j), repeating it along its dimensions of extent 1.
template <class T>
struct Broadcast {
    const T* data;
    std::size_t row_stride, col_stride;
    explicit Broadcast(const Matrix<T>& m)
        : data(m.data()), row_stride(m.shape()[0] == 1 ? 0 : m.shape()[1]), col_stride(m.shape()[1] == 1 ? 0 : 1) {}
    T operator()(std::size_t i, std::size_t j) const { return data[i * row_stride + j * col_stride]; }
};

// out(i, j) = f(a(i, j), b(i, j)) with broadcasting; split by rows.
template <class T, class F>
void broadcast_apply(const Matrix<T>& a, const Matrix<T>& b, Matrix<T>& out, F f) {
    const std::size_t cols = out.shape()[1];
    const Broadcast<T> A(a), B(b);
    parallel::for_rows(out.shape()[0], cols, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t i = lo; i < hi; ++i) {
            T* o = out.data() + i * cols;
            if (A.col_stride && B.col_stride) {  // the common case: a loop the compiler vectorizes
                const T* ar = A.data + i * A.row_stride;
                const T* br = B.data + i * B.row_stride;
                for (std::size_t j = 0; j < cols; ++j) o[j] = f(ar[j], br[j]);
            } else {
                for (std::size_t j = 0; j < cols; ++j) o[j] = f(A(i, j), B(i, j));
            }
        }
    });
}

// grad(n) (+)= contribution(i, j) summed over the dimensions along which n was broadcast to
// `out` (Flashlight's sumAs): the one place where a broadcast gradient is reduced. Split so that
// every sum runs in the same order whatever the threads: by rows (n of out's shape, or a column
// out[0] x 1), by columns (a row 1 x out[1]), by chunks of rows (a scalar, summed in double).
template <class T, class F>
void reduce_grad(Node<T>& n, Shape out, F contribution) {
    T* g = n.grad->data();
    const bool add = accumulate_into(n);
    const std::size_t rows = out[0], cols = out[1];
    if (n.shape == out || (n.shape[0] == rows && n.shape[1] == 1)) {
        const bool whole = n.shape == out;
        parallel::for_rows(rows, cols, [&](std::size_t lo, std::size_t hi) {
            for (std::size_t i = lo; i < hi; ++i) {
                if (whole) {
                    T* gi = g + i * cols;
                    if (add) for (std::size_t j = 0; j < cols; ++j) gi[j] += contribution(i, j);
                    else     for (std::size_t j = 0; j < cols; ++j) gi[j] = contribution(i, j);
                } else {
                    T s = add ? g[i] : T(0);
                    for (std::size_t j = 0; j < cols; ++j) s += contribution(i, j);
                    g[i] = s;
                }
            }
        });
    } else if (n.shape[0] == 1 && n.shape[1] == cols) {
        for_columns(rows, cols, [&](std::size_t lo, std::size_t hi) {
            if (!add) std::fill(g + lo, g + hi, T(0));
            for (std::size_t i = 0; i < rows; ++i)
                for (std::size_t j = lo; j < hi; ++j) g[j] += contribution(i, j);
        });
    } else {  // a scalar
        const std::size_t rows_per_chunk = std::max<std::size_t>(1, 1024 / std::max<std::size_t>(1, cols));
        const double total = sum_over_chunks(rows, rows_per_chunk, [&](std::size_t begin, std::size_t count) {
            double s = 0;
            for (std::size_t i = begin; i < begin + count; ++i)
                for (std::size_t j = 0; j < cols; ++j) s += double(contribution(i, j));
            return s;
        }, cols);
        g[0] = add ? T(double(g[0]) + total) : T(total);
    }
}

}  // namespace tg::detail

namespace tg::detail {
// Sizes a node's `saved` buffer like its result (no allocation when the shape is unchanged).
template <class T>
void ensure_saved(Node<T>& n) { ensure_shape(n.saved, n.shape); }
}  // namespace tg::detail
