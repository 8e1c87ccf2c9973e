#pragma once
// Broadcasting for binary elementwise ops, written as plain row loops: xtensor's broadcasting
// expressions are far slower than a loop (xtensor 0.24, measured: about 50x slower than a raw
// loop when XTENSOR_USE_XSIMD is not defined), and a plain loop is vectorized by the compiler
// whatever the xtensor configuration. An operand broadcasts along a dimension of extent 1 (a
// 1 x n row, an m x 1 column, a 1 x 1 scalar).
#include "tapegrad/tape.hpp"

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

// out(i, j) = f(a(i, j), b(i, j)) with broadcasting.
template <class T, class F>
void broadcast_apply(const Matrix<T>& a, const Matrix<T>& b, Matrix<T>& out, F f) {
    const std::size_t rows = out.shape()[0], cols = out.shape()[1];
    const Broadcast<T> A(a), B(b);
    T* o = out.data();
    for (std::size_t i = 0; i < rows; ++i, o += cols) {
        if (A.col_stride && B.col_stride) {  // the common case: a loop the compiler vectorizes
            const T* ar = A.data + i * A.row_stride;
            const T* br = B.data + i * B.row_stride;
            for (std::size_t j = 0; j < cols; ++j) o[j] = f(ar[j], br[j]);
        } else {
            for (std::size_t j = 0; j < cols; ++j) o[j] = f(A(i, j), B(i, j));
        }
    }
}

// grad(n) (+)= contribution(i, j) summed over the dimensions along which n was broadcast to
// `out` (Flashlight's sumAs): the one place where a broadcast gradient is reduced.
template <class T, class F>
void reduce_grad(Node<T>& n, Shape out, F contribution) {
    T* g = n.grad->data();
    const bool add = accumulate_into(n);
    if (n.shape == out) {
        const std::size_t cols = out[1];
        for (std::size_t i = 0; i < out[0]; ++i, g += cols)
            if (add) for (std::size_t j = 0; j < cols; ++j) g[j] += contribution(i, j);
            else     for (std::size_t j = 0; j < cols; ++j) g[j] = contribution(i, j);
        return;
    }
    if (!add) std::fill(n.grad->begin(), n.grad->end(), T(0));
    const std::size_t row_stride = n.shape[0] == 1 ? 0 : n.shape[1], col_stride = n.shape[1] == 1 ? 0 : 1;
    for (std::size_t i = 0; i < out[0]; ++i)
        for (std::size_t j = 0; j < out[1]; ++j) g[i * row_stride + j * col_stride] += contribution(i, j);
}

}  // namespace tg::detail

namespace tg::detail {
// Sizes a node's `saved` buffer like its result (no allocation when the shape is unchanged).
template <class T>
void ensure_saved(Node<T>& n) { ensure_shape(n.saved, n.shape); }
}  // namespace tg::detail
