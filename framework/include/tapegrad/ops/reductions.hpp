#pragma once
// Sums and means, as raw loops. xtensor (0.24, measured on 256x784 float) does not vectorize
// row and full reductions even with xsimd: xt::sum(a, {1}), xt::sum(a)() and xt::amax take
// 91-103 us where a raw loop with several accumulators takes 5-6.5 us; its lazy axis reduction
// xt::sum(a, {0}) takes 83 us. Full sums accumulate in double so a float loss over 200,000
// elements keeps its digits.
#include "tapegrad/ops/broadcast.hpp"
#include "tapegrad/ops/elementwise.hpp"  // Scale

#include <xsimd/xsimd.hpp>

namespace tg {

template <class T> Var<T> broadcast_to(Var<T> x, Shape shape);  // shape.hpp: the sums' rules

/// `sum`/`mean` along an axis: the axis (0: over rows, 1: over columns) and the factor the sum
/// is multiplied by (1, or 1/n for a mean).
struct AxisSum {
    int axis;
    double factor;
};

namespace detail {
// sum over i < n of term(i), in double. Four SIMD registers' worth of independent accumulators:
// a single one would serialise every add on its latency and keep the compiler from vectorizing.
// The accumulators are combined as four batches and one horizontal add (a loop over the array
// in memory, even as a tree, compiled to a chain of scalar stores and reloads that cost more
// than the sum itself on short rows such as the contractive penalty's rows of W).
template <class F>
double lane_sum(std::size_t n, F term) {
    using Batch = xsimd::batch<double>;
    constexpr std::size_t lanes = 4 * Batch::size;  // 32 on AVX-512, 16 on AVX2
    double s = 0;
    std::size_t i = 0;
    if (n >= lanes) {
        alignas(64) double acc[lanes] = {};
        for (; i + lanes <= n; i += lanes)
            for (std::size_t l = 0; l < lanes; ++l) acc[l] += double(term(i + l));
        Batch b = (Batch::load_aligned(acc) + Batch::load_aligned(acc + Batch::size)) +
                  (Batch::load_aligned(acc + 2 * Batch::size) + Batch::load_aligned(acc + 3 * Batch::size));
        s = xsimd::hadd(b);
    }
    for (; i < n; ++i) s += double(term(i));
    return s;
}

// lane_sum over chunks of 1024 terms split over the threads (sum_over_chunks): the same value
// whatever the thread count, and lane_sum's own for n <= 1024.
template <class F>
double parallel_sum(std::size_t n, F term) {
    return sum_over_chunks(n, 1024, [&](std::size_t begin, std::size_t size) {
        return lane_sum(size, [&](std::size_t i) { return term(begin + i); });
    });
}

template <class T>
double sum_all(const Matrix<T>& m) {
    const T* p = m.data();
    return parallel_sum(m.size(), [p](std::size_t i) { return p[i]; });
}

// grad(n) (+)= c everywhere
template <class T>
void add_grad_constant(Node<T>& n, T c) {
    T* g = n.grad->data();
    const bool add = accumulate_into(n);
    for_elements(n.grad->size(), [&](std::size_t lo, std::size_t hi) {
        if (add) for (std::size_t i = lo; i < hi; ++i) g[i] += c;
        else     for (std::size_t i = lo; i < hi; ++i) g[i] = c;
    });
}

// out[j] = f * sum_i term(v(i, j)) for the cols columns (axis 0) or out[i] = f * sum_j
// term(v(i, j)) for the rows (axis 1) of a rows x cols array: split by columns or by rows, each
// sum taken in the same order whatever the threads. term maps a value or an xsimd batch.
template <class T, class Term>
void sum_along_axis(const T* v, std::size_t rows, std::size_t cols, int axis, T f, T* out, Term term) {
    if (axis == 0) {
        column_sums(v, rows, cols, out, false, term);
        if (f != T(1))
            for (std::size_t j = 0; j < cols; ++j) out[j] *= f;
    } else {
        parallel::for_rows(rows, cols, [&](std::size_t lo, std::size_t hi) {
            for (std::size_t i = lo; i < hi; ++i) {
                const T* row = v + i * cols;
                out[i] = T(f * lane_sum(cols, [row, &term](std::size_t j) { return term(row[j]); }));
            }
        });
    }
}

// dx(i, j) (+)= step(dy's entry for (i, j), x(i, j)): dy's entry is g[j] (axis 0) or g[i]
// (axis 1). Split by rows.
template <class T, class Step>
void spread_along_axis(Node<T>& x, const T* g, int axis, Step step) {
    const std::size_t cols = x.shape[1];
    const T* v = x.value->data();
    T* dx = x.grad->data();
    const bool add = accumulate_into(x);
    parallel::for_rows(x.shape[0], cols, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t i = lo; i < hi; ++i) {
            T* __restrict d = dx + i * cols;  // x's gradient never shares storage with x or dy
            const T* __restrict row = v + i * cols;
            if (axis == 0) {
                if (add) for (std::size_t j = 0; j < cols; ++j) d[j] += step(g[j], row[j]);
                else     for (std::size_t j = 0; j < cols; ++j) d[j] = step(g[j], row[j]);
            } else {
                const T c = g[i];
                if (add) for (std::size_t j = 0; j < cols; ++j) d[j] += step(c, row[j]);
                else     for (std::size_t j = 0; j < cols; ++j) d[j] = step(c, row[j]);
            }
        }
    });
}

template <class T>
Var<T> scaled_sum(const char* op, Var<T> x, double factor) {
    return x.tape->record(
        op, Shape{1, 1}, {x}, [&](Node<T>& y) { y.result(0, 0) = T(factor * sum_all(x.value())); },
        [](Node<T>& y) { add_grad_constant(y.in(0), T(y.template attributes<Scale>().factor * (*y.grad)(0, 0))); },
        [](RuleContext<T>& c) { c.dx[0] = broadcast_to(scale(c.dy, c.template attributes<Scale>().factor), c.x[0].shape()); },
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
            sum_along_axis(v.data(), v.shape()[0], v.shape()[1], axis, T(factor), y.result.data(), [](auto e) { return e; });
        },
        // dx(i, j) = factor * dy broadcast back along the summed axis
        [](Node<T>& y) {
            const AxisSum a = y.template attributes<AxisSum>();
            const T f = T(a.factor);
            spread_along_axis(y.in(0), y.grad->data(), a.axis, [f](T g, T) { return f * g; });
        },
        [](RuleContext<T>& c) { c.dx[0] = broadcast_to(scale(c.dy, c.template attributes<AxisSum>().factor), c.x[0].shape()); },
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
            y.result(0, 0) = T(detail::parallel_sum(x.value().size(), [v](std::size_t i) { return std::abs(v[i]); }));
        },
        [](Node<T>& y) {
            const T c = (*y.grad)(0, 0);
            detail::add_grad_elements(y.in(0), [c](const auto& v) { return c * xt::sign(v); }, *y.in(0).value);
        },
        [](RuleContext<T>& c) { c.dx[0] = c.dy * sign(c.x[0]); });
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
            detail::sum_along_axis(v.data(), v.shape()[0], v.shape()[1], axis, T(1), y.result.data(),
                                   [](auto e) { return e * e; });
        },
        [](Node<T>& y) {
            detail::spread_along_axis(y.in(0), y.grad->data(), y.template attributes<AxisSum>().axis,
                                      [](T g, T v) { return T(2) * v * g; });
        },
        [](RuleContext<T>& c) { c.dx[0] = scale(c.x[0] * c.dy, 2.0); },  // dy broadcast back by the product
        AxisSum{.axis = axis, .factor = 1.0});
}

/// y = sum_b ||diag(S_b) W||_F^2 = sum_j a_j c_j  with a_j = sum_b S_bj^2, c_j = sum_i W_ji^2:
/// the squared Frobenius norms of the Jacobians dh_b/dx_b = diag(f'(z_b)) W of a layer
/// h = f(x W^T + b), summed over the batch, for the slopes S = f'(z) (B x K) and W (K x D).
///   dS_bj = 2 dy c_j S_bj,  dW_ji = 2 dy a_j W_ji
/// One op, one pass over each operand each way, for what two sum_of_squares and a product make
/// in six passes and three nodes (the contractive penalty of a small model paid for them).
template <class T>
Var<T> layer_jacobian_norm_sq(Var<T> slopes, Var<T> w) {
    if (slopes.cols() != w.rows())
        throw ShapeError("layer_jacobian_norm_sq: slopes have shape " + to_string(slopes.shape()) + " (batch x units) but W has shape " +
                         to_string(w.shape()) + " (units x inputs); the units must agree");
    return slopes.tape->record(
        "layer_jacobian_norm_sq", Shape{1, 1}, {slopes, w},
        [&](Node<T>& y) {
            // saved row 0: a (column sums of S^2), row 1: c (row sums of W^2), for backward
            const std::size_t units = w.rows();
            ensure_shape(y.saved, Shape{2, units});
            T* a = y.saved.data();
            T* c = a + units;
            const Matrix<T>& s = slopes.value();
            detail::sum_along_axis(s.data(), s.shape()[0], units, 0, T(1), a, [](auto e) { return e * e; });
            detail::sum_along_axis(w.value().data(), units, w.cols(), 1, T(1), c, [](auto e) { return e * e; });
            double total = 0;
            for (std::size_t j = 0; j < units; ++j) total += double(a[j]) * double(c[j]);
            y.result(0, 0) = T(total);
        },
        [](Node<T>& y) {
            const T twice = T(2) * (*y.grad)(0, 0);
            const T* a = y.saved.data();
            const T* c = a + y.saved.shape()[1];
            // dS: row b scaled elementwise by 2 dy c;  dW: row j scaled by 2 dy a_j
            if (y.in(0).requires_grad)
                detail::spread_along_axis(y.in(0), c, 0, [twice](T cj, T v) { return twice * cj * v; });
            if (y.in(1).requires_grad)
                detail::spread_along_axis(y.in(1), a, 1, [twice](T aj, T v) { return twice * aj * v; });
        },
        // c^T = transpose(row sums of W^2) is 1 x K, a^T = transpose(column sums of S^2) is K x 1
        [](RuleContext<T>& c) {
            const Var<T> s = c.x[0], w = c.x[1];
            if (c.needs[0]) c.dx[0] = scale(c.dy * (s * transpose(sum_of_squares(w, 1))), 2.0);
            if (c.needs[1]) c.dx[1] = scale(c.dy * (transpose(sum_of_squares(s, 0)) * w), 2.0);
        });
}

// Compiled once per precision in framework/src/ops_float.cpp and ops_double.cpp; every other
// translation unit only declares them (instantiated in each, they made most of the build time).
#define TG_REDUCTION_OPS(PREFIX, T) \
    PREFIX template Var<T> sum<T>(Var<T>); \
    PREFIX template Var<T> sum_abs<T>(Var<T>); \
    PREFIX template Var<T> mean<T>(Var<T>); \
    PREFIX template Var<T> sum<T>(Var<T>, int); \
    PREFIX template Var<T> mean<T>(Var<T>, int); \
    PREFIX template Var<T> sum_of_squares<T>(Var<T>, int); \
    PREFIX template Var<T> layer_jacobian_norm_sq<T>(Var<T>, Var<T>);
TG_REDUCTION_OPS(extern, float)
TG_REDUCTION_OPS(extern, double)

}  // namespace tg
