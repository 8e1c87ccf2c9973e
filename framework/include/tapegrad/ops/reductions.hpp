#pragma once
// Sums and means, as raw loops. xtensor (0.24, measured on 256x784 float) does not vectorize
// row and full reductions even with xsimd: xt::sum(a, {1}), xt::sum(a)() and xt::amax take
// 91-103 us where a raw loop with several accumulators takes 5-6.5 us; its lazy axis reduction
// xt::sum(a, {0}) takes 83 us. Full sums accumulate in double so a float loss over 200,000
// elements keeps its digits.
#include "tapegrad/ops/broadcast.hpp"
#include "tapegrad/ops/elementwise.hpp"  // Scale

namespace tg {

/// `sum`/`mean` along an axis: the axis (0: over rows, 1: over columns) and the factor the sum
/// is multiplied by (1, or 1/n for a mean).
struct AxisSum {
    int axis;
    double factor;
};

namespace detail {
// sum over i < n of term(i), in double. 32 independent accumulators: a single one would
// serialise every add on its latency and keep the compiler from vectorizing.
// The lanes are combined as a tree (five vector steps; adding them one by one was a chain of
// 32 dependent adds, which dominated short rows such as the contractive penalty's rows of W).
template <class F>
double lane_sum(std::size_t n, F term) {
    constexpr std::size_t lanes = 32;  // four AVX-512 registers of doubles: hides the add latency
    double s = 0;
    std::size_t i = 0;
    if (n >= lanes) {
        double acc[lanes] = {};
        for (; i + lanes <= n; i += lanes)
            for (std::size_t l = 0; l < lanes; ++l) acc[l] += double(term(i + l));
        for (std::size_t width = lanes / 2; width > 0; width /= 2)
            for (std::size_t l = 0; l < width; ++l) acc[l] += acc[l + width];
        s = acc[0];
    }
    for (; i < n; ++i) s += double(term(i));
    return s;
}

template <class T>
double sum_all(const Matrix<T>& m) {
    const T* p = m.data();
    return lane_sum(m.size(), [p](std::size_t i) { return p[i]; });
}

// grad(n) (+)= c everywhere
template <class T>
void add_grad_constant(Node<T>& n, T c) {
    T* g = n.grad->data();
    const std::size_t size = n.grad->size();
    if (accumulate_into(n))
        for (std::size_t i = 0; i < size; ++i) g[i] += c;
    else
        for (std::size_t i = 0; i < size; ++i) g[i] = c;
}

template <class T>
Var<T> scaled_sum(const char* op, Var<T> x, double factor) {
    return x.tape->record(
        op, Shape{1, 1}, {x}, [&](Node<T>& y) { y.result(0, 0) = T(factor * sum_all(x.value())); },
        [](Node<T>& y) { add_grad_constant(y.in(0), T(y.template attributes<Scale>().factor * (*y.grad)(0, 0))); },
        Scale{factor});
}

inline Shape axis_shape(const char* op, Shape s, int axis) {
    if (axis != 0 && axis != 1)
        throw ShapeError(std::string(op) + ": axis must be 0 (over rows, giving 1 x cols) or 1 (over columns, "
                         "giving rows x 1), got " + std::to_string(axis) + " for shape " + to_string(s));
    return axis == 0 ? Shape{1, s[1]} : Shape{s[0], 1};
}

template <class T>
Var<T> scaled_sum_axis(const char* op, Var<T> x, int axis, double factor) {
    return x.tape->record(
        op, axis_shape(op, x.shape(), axis), {x},
        [&](Node<T>& y) {
            const Matrix<T>& v = x.value();
            const std::size_t rows = v.shape()[0], cols = v.shape()[1];
            const T f = T(factor);
            T* out = y.result.data();
            const T* row = v.data();
            if (axis == 0) {
                std::fill(out, out + cols, T(0));
                for (std::size_t i = 0; i < rows; ++i, row += cols)
                    for (std::size_t j = 0; j < cols; ++j) out[j] += row[j];
                for (std::size_t j = 0; j < cols; ++j) out[j] *= f;
            } else {
                for (std::size_t i = 0; i < rows; ++i, row += cols)
                    out[i] = T(f * lane_sum(cols, [row](std::size_t j) { return row[j]; }));
            }
        },
        // dx(i, j) = factor * dy broadcast back along the summed axis
        [](Node<T>& y) {
            Node<T>& x = y.in(0);
            const std::size_t rows = x.shape[0], cols = x.shape[1];
            const AxisSum a = y.template attributes<AxisSum>();
            const T f = T(a.factor);
            const T* g = y.grad->data();
            T* dx = x.grad->data();
            const bool add = accumulate_into(x);
            for (std::size_t i = 0; i < rows; ++i, dx += cols) {
                // Axis 0: row i of dx is f * (the row dy); axis 1: it is the constant f * dy_i.
                if (a.axis == 0) {
                    if (add) for (std::size_t j = 0; j < cols; ++j) dx[j] += f * g[j];
                    else     for (std::size_t j = 0; j < cols; ++j) dx[j] = f * g[j];
                } else {
                    const T c = f * g[i];
                    if (add) for (std::size_t j = 0; j < cols; ++j) dx[j] += c;
                    else     for (std::size_t j = 0; j < cols; ++j) dx[j] = c;
                }
            }
        },
        AxisSum{.axis = axis, .factor = factor});
}
}  // namespace detail

/// y = sum of all elements (1 x 1);  dx = dy everywhere
template <class T> Var<T> sum(Var<T> x) { return detail::scaled_sum("sum", x, 1.0); }

/// y = sum |x|, the L1 norm;  dx = dy sign(x)  (0 at x = 0). One pass each way where abs followed
/// by sum makes two and keeps a buffer of x's shape (the sparse autoencoder's penalty).
template <class T>
Var<T> sum_abs(Var<T> x) {
    return x.tape->record(
        "sum_abs", Shape{1, 1}, {x},
        [&](Node<T>& y) {
            const T* v = x.value().data();
            y.result(0, 0) = T(detail::lane_sum(x.value().size(), [v](std::size_t i) { return std::abs(v[i]); }));
        },
        [](Node<T>& y) {
            const T c = (*y.grad)(0, 0);
            detail::add_grad_elements(y.in(0), [c](const auto& v) { return c * xt::sign(v); }, *y.in(0).value);
        });
}

/// y = mean of all elements;  dx = dy / n
template <class T>
Var<T> mean(Var<T> x) {
    const double n = double(x.rows() * x.cols());
    return detail::scaled_sum("mean", x, n > 0 ? 1.0 / n : 0.0);
}

/// axis 0: column sums (1 x cols); axis 1: row sums (rows x 1);  dx = dy broadcast back
template <class T> Var<T> sum(Var<T> x, int axis) { return detail::scaled_sum_axis("sum_axis", x, axis, 1.0); }
/// axis 0: column means (1 x cols); axis 1: row means (rows x 1);  dx = dy / n broadcast back
template <class T>
Var<T> mean(Var<T> x, int axis) {
    const double n = double(axis == 0 ? x.rows() : x.cols());
    return detail::scaled_sum_axis("mean_axis", x, axis, n > 0 ? 1.0 / n : 0.0);
}

/// axis 0: column sums of squares (1 x cols); axis 1: row sums of squares (rows x 1);
///   dx(i, j) = 2 x(i, j) dy  (dy of x's column j, axis 0, or of its row i, axis 1)
/// One pass each way where square followed by sum makes two and keeps a buffer of x's shape
/// (the contractive penalty's sum_i W_ji^2 and sum_b f'(z_bj)^2).
template <class T>
Var<T> sum_of_squares(Var<T> x, int axis) {
    return x.tape->record(
        "sum_of_squares", detail::axis_shape("sum_of_squares", x.shape(), axis), {x},
        [&](Node<T>& y) {
            const Matrix<T>& v = x.value();
            const std::size_t rows = v.shape()[0], cols = v.shape()[1];
            T* out = y.result.data();
            const T* row = v.data();
            if (axis == 0) {
                std::fill(out, out + cols, T(0));
                for (std::size_t i = 0; i < rows; ++i, row += cols)
                    for (std::size_t j = 0; j < cols; ++j) out[j] += row[j] * row[j];
            } else {
                for (std::size_t i = 0; i < rows; ++i, row += cols)
                    out[i] = T(detail::lane_sum(cols, [row](std::size_t j) { return row[j] * row[j]; }));
            }
        },
        [](Node<T>& y) {
            Node<T>& x = y.in(0);
            const std::size_t rows = x.shape[0], cols = x.shape[1];
            const bool by_column = y.template attributes<AxisSum>().axis == 0, add = accumulate_into(x);
            const T* g = y.grad->data();
            const T* v = x.value->data();
            T* dx = x.grad->data();
            for (std::size_t i = 0; i < rows; ++i, dx += cols, v += cols) {
                if (by_column) {
                    if (add) for (std::size_t j = 0; j < cols; ++j) dx[j] += T(2) * v[j] * g[j];
                    else     for (std::size_t j = 0; j < cols; ++j) dx[j] = T(2) * v[j] * g[j];
                } else {
                    const T c = T(2) * g[i];
                    if (add) for (std::size_t j = 0; j < cols; ++j) dx[j] += c * v[j];
                    else     for (std::size_t j = 0; j < cols; ++j) dx[j] = c * v[j];
                }
            }
        },
        AxisSum{.axis = axis, .factor = 1.0});
}

}  // namespace tg
