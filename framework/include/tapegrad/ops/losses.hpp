#pragma once
// Losses, each fused: one pass computes the value, one pass writes the gradient. They are the
// mean over all elements (so the gradient carries 1/n).
#include "tapegrad/ops/blocks.hpp"
#include "tapegrad/ops/reductions.hpp"

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace tg {

namespace detail {
// sum (a - b)^2 over n <= 1024 elements, writing direction = scale (a - b) on the way: the
// MSE's value and gradient in one pass. Explicit SIMD because this pass is memory-bound at small
// sizes and the compiler keeps plain accumulator arrays on the stack. Four register
// accumulators hide the FMA latency; 1024 floats are few enough to sum in float.
template <class T>
double squared_distance_chunk(const T* a, const T* b, T* direction, std::size_t n, T scale) {
    using Batch = xsimd::batch<T>;
    constexpr std::size_t w = Batch::size, step = 4 * w;
    const Batch k(scale);
    Batch s0(T(0)), s1(T(0)), s2(T(0)), s3(T(0));
    std::size_t i = 0;
    for (; i + step <= n; i += step) {
        const Batch d0 = Batch::load_unaligned(a + i) - Batch::load_unaligned(b + i);
        const Batch d1 = Batch::load_unaligned(a + i + w) - Batch::load_unaligned(b + i + w);
        const Batch d2 = Batch::load_unaligned(a + i + 2 * w) - Batch::load_unaligned(b + i + 2 * w);
        const Batch d3 = Batch::load_unaligned(a + i + 3 * w) - Batch::load_unaligned(b + i + 3 * w);
        s0 = xsimd::fma(d0, d0, s0);
        s1 = xsimd::fma(d1, d1, s1);
        s2 = xsimd::fma(d2, d2, s2);
        s3 = xsimd::fma(d3, d3, s3);
        (k * d0).store_unaligned(direction + i);
        (k * d1).store_unaligned(direction + i + w);
        (k * d2).store_unaligned(direction + i + 2 * w);
        (k * d3).store_unaligned(direction + i + 3 * w);
    }
    double total = double(xsimd::hadd(s0 + s1)) + double(xsimd::hadd(s2 + s3));
    for (; i < n; ++i) {
        const T d = a[i] - b[i];
        direction[i] = scale * d;
        total += double(d) * double(d);
    }
    return total;
}

// The same over any n: chunks of 1024 elements, split over the threads, their sums added in
// chunk order, so the value does not depend on the thread count.
template <class T>
double squared_distance(const T* a, const T* b, T* direction, std::size_t n, T scale) {
    return sum_over_chunks(n, 1024, [&](std::size_t begin, std::size_t size) {
        return squared_distance_chunk(a + begin, b + begin, direction + begin, size, scale);
    });
}

inline void check_same_shape(const char* op, Shape prediction, Shape target) {
    if (prediction != target)
        throw ShapeError(std::string(op) + ": prediction has shape " + to_string(prediction) +
                         " but target has shape " + to_string(target) + "; they must be equal");
}

// Probabilities are clamped so that log never sees 0; eps is near each type's resolution.
template <class T> constexpr T probability_eps() { return sizeof(T) == 4 ? T(1e-7) : T(1e-12); }
}  // namespace detail

/// A mean loss's normaliser: 1/n for n elements (the binary cross-entropies' backward reads it).
struct LossNormaliser {
    double inv_n;
};

/// L = mean((r - t)^2);  dr = 2 (r - t) dL / n,  dt = -dr
/// The forward pass already writes the gradient direction 2 (r - t) / n (one pass over r and t
/// for both). Backward with dL = 1 into a fresh intermediate gradient, the usual case of a loss
/// at the root, then hands that buffer over by swapping it in (`hand_over_gradient`): no pass.
template <class T>
Var<T> mse(Var<T> r, Var<T> t) {
    detail::check_same_shape("mse", r.shape(), t.shape());
    const double inv_n = 1.0 / double(r.rows() * r.cols());
    return r.tape->record(
        "mse", Shape{1, 1}, {r, t},
        [&](Node<T>& y) {
            ensure_shape(y.saved, r.shape());
            const double s = detail::squared_distance(r.value().data(), t.value().data(), y.saved.data(),
                                                      r.value().size(), T(2 * inv_n));
            y.result(0, 0) = T(s * inv_n);
        },
        [](Node<T>& y) {
            const T g = (*y.grad)(0, 0);
            Node<T>& r = y.in(0);
            Node<T>& t = y.in(1);
            auto times = [](T c) { return [c](const auto& d) { return c * d; }; };
            if (t.requires_grad) detail::add_grad_elements(t, times(-g), y.saved);
            if (!r.requires_grad) return;
            if (g != T(1) || !hand_over_gradient(r, y.saved)) detail::add_grad_elements(r, times(g), y.saved);
        },
        [](RuleContext<T>& c) {
            const Var<T> g = scale(c.dy * (c.x[0] - c.x[1]), 2.0 / double(c.x[0].rows() * c.x[0].cols()));
            if (c.needs[0]) c.dx[0] = g;
            if (c.needs[1]) c.dx[1] = -g;
        });
}

/// L = -mean(t ln p + (1 - t) ln(1 - p)), p clamped to [eps, 1 - eps];
/// dp = dL (p - t) / (p (1 - p)) / n,  dt = dL (ln(1 - p) - ln p) / n
template <class T>
Var<T> binary_cross_entropy(Var<T> p, Var<T> t) {
    detail::check_same_shape("binary_cross_entropy", p.shape(), t.shape());
    const double inv_n = 1.0 / double(p.rows() * p.cols());
    return p.tape->record(
        "binary_cross_entropy", Shape{1, 1}, {p, t},
        [&](Node<T>& y) {
            constexpr T eps = detail::probability_eps<T>();
            const T* a = p.value().data();
            const T* b = t.value().data();
            const double s = detail::parallel_sum(p.value().size(), [=](std::size_t i) {
                const T q = std::clamp(a[i], eps, T(1) - eps);
                return -(b[i] * std::log(q) + (T(1) - b[i]) * std::log1p(-q));
            });
            y.result(0, 0) = T(s * inv_n);
        },
        [](Node<T>& y) {
            const T c = T(y.template attributes<LossNormaliser>().inv_n * (*y.grad)(0, 0));
            const Matrix<T>& p = *y.in(0).value;
            const Matrix<T>& t = *y.in(1).value;
            // q() makes a fresh clip expression each time: the returned expression holds its
            // operands by value, so it may outlive this lambda's locals.
            auto clipped = [](const auto& pv) {
                return [&pv] { return xt::clip(pv, detail::probability_eps<T>(), T(1) - detail::probability_eps<T>()); };
            };
            if (y.in(0).requires_grad)
                detail::add_grad_elements(y.in(0), [c, clipped](const auto& pv, const auto& tv) {
                    const auto q = clipped(pv);
                    return c * (q() - tv) / (q() * (T(1) - q()));
                }, p, t);
            if (y.in(1).requires_grad)
                detail::add_grad_elements(y.in(1), [c, clipped](const auto& pv) {
                    const auto q = clipped(pv);
                    return c * (xt::log1p(-q()) - xt::log(q()));
                }, p);
        },
        [](RuleContext<T>& c) {
            constexpr double eps = detail::probability_eps<T>();
            const Var<T> q = clamp(c.x[0], eps, 1.0 - eps), t = c.x[1];
            const Var<T> dl = scale(c.dy, c.template attributes<LossNormaliser>().inv_n);
            if (c.needs[0]) c.dx[0] = dl * ((q - t) / (q * (1.0 - q)));
            if (c.needs[1]) c.dx[1] = dl * (log(1.0 - q) - log(q));
        },
        LossNormaliser{inv_n});
}

/// The same loss on logits z (p = sigmoid(z)), stable for any z:
/// L = mean(max(z, 0) - z t + ln(1 + e^-|z|));  dz = dL (sigmoid(z) - t) / n,  dt = -dL z / n
template <class T>
Var<T> binary_cross_entropy_with_logits(Var<T> z, Var<T> t) {
    detail::check_same_shape("binary_cross_entropy_with_logits", z.shape(), t.shape());
    const double inv_n = 1.0 / double(z.rows() * z.cols());
    return z.tape->record(
        "bce_with_logits", Shape{1, 1}, {z, t},
        [&](Node<T>& y) {
            const T* a = z.value().data();
            const T* b = t.value().data();
            const double s = detail::parallel_sum(z.value().size(), [a, b](std::size_t i) {
                return std::max(a[i], T(0)) - a[i] * b[i] + std::log1p(std::exp(-std::abs(a[i])));
            });
            y.result(0, 0) = T(s * inv_n);
        },
        [](Node<T>& y) {
            const T c = T(y.template attributes<LossNormaliser>().inv_n * (*y.grad)(0, 0));
            const Matrix<T>& zv = *y.in(0).value;
            const Matrix<T>& t = *y.in(1).value;
            if (y.in(0).requires_grad)
                detail::add_grad_elements(y.in(0), [c](const auto& z, const auto& tv) { return c * (T(1) / (T(1) + xt::exp(-z)) - tv); },
                                          zv, t);
            if (y.in(1).requires_grad) detail::add_grad_elements(y.in(1), [c](const auto& z) { return -c * z; }, zv);
        },
        [](RuleContext<T>& c) {
            const Var<T> dl = scale(c.dy, c.template attributes<LossNormaliser>().inv_n);
            if (c.needs[0]) c.dx[0] = dl * (sigmoid(c.x[0]) - c.x[1]);
            if (c.needs[1]) c.dx[1] = -(dl * c.x[0]);
        },
        LossNormaliser{inv_n});
}

namespace detail {
// Class indices arrive as a B x 1 matrix of whole numbers (exact in float up to 2^24).
template <class T>
void check_labels(const char* op, Shape logits, const Matrix<T>& labels, bool labels_need_grad) {
    if (labels_need_grad)
        throw ShapeError(std::string(op) + ": labels are class indices and take no gradient; pass them as a constant");
    if (shape_of(labels) != Shape{logits[0], 1})
        throw ShapeError(std::string(op) + ": logits have shape " + to_string(logits) + " (rows x classes), so labels " +
                         "must have shape " + to_string(Shape{logits[0], 1}) + ", not " + to_string(shape_of(labels)));
    for (std::size_t i = 0; i < logits[0]; ++i) {
        const T c = labels(i, 0);
        if (!(c >= 0 && c < T(logits[1]) && c == std::floor(c)))
            throw ShapeError(std::string(op) + ": label " + std::to_string(double(c)) + " of row " + std::to_string(i) +
                             " is not a class index in 0.." + std::to_string(logits[1] - 1));
    }
}
}  // namespace detail

/// L = mean_i(ln sum_c e^{z_ic} - z_{i,y_i}) for logits z (B x C) and class indices y (B x 1);
/// dz = dL (softmax(z) - onehot(y)) / B. Stable for any z (the row maximum is subtracted). The
/// forward pass already writes (softmax - onehot) / B, which backward hands over as mse does.
template <class T>
Var<T> softmax_cross_entropy(Var<T> z, Var<T> labels) {
    detail::check_labels("softmax_cross_entropy", z.shape(), labels.value(), labels.requires_grad());
    return z.tape->record(
        "softmax_cross_entropy", Shape{1, 1}, {z, labels},
        [&](Node<T>& y) {
            const std::size_t rows = z.rows(), classes = z.cols();
            ensure_shape(y.saved, z.shape());
            const T* zv = z.value().data();
            const T* label_of = labels.value().data();
            T* saved = y.saved.data();
            // Rows in chunks of 64, split over the threads; the chunks' losses added in order.
            const double total = detail::sum_over_chunks(rows, 64, [&](std::size_t begin, std::size_t count) {
                double chunk_total = 0;
                for (std::size_t i = begin; i < begin + count; ++i) {
                    const T* row = zv + i * classes;
                    T* grad = saved + i * classes;
                    const T top = *std::max_element(row, row + classes);
                    double sum = 0;
                    for (std::size_t c = 0; c < classes; ++c) sum += double(grad[c] = std::exp(row[c] - top));
                    const std::size_t label = std::size_t(label_of[i]);
                    chunk_total += std::log(sum) + double(top) - double(row[label]);
                    for (std::size_t c = 0; c < classes; ++c) grad[c] = T(double(grad[c]) / sum / double(rows));
                    grad[label] -= T(1.0 / double(rows));
                }
                return chunk_total;
            }, classes);
            y.result(0, 0) = T(total / double(rows));
        },
        [](Node<T>& y) {
            const T g = (*y.grad)(0, 0);
            Node<T>& z = y.in(0);
            if (!z.requires_grad) return;
            if (g != T(1) || !hand_over_gradient(z, y.saved))
                detail::add_grad_elements(z, [g](const auto& d) { return g * d; }, y.saved);
        },
        [](RuleContext<T>& c) {
            const Var<T> z = c.x[0];
            c.dx[0] = scale(c.dy * (softmax(z) - one_hot(c.x[1], z.cols())), 1.0 / double(z.rows()));
        });
}

/// y_ic = e^(z_ic) / sum_k e^(z_ik), row by row (the row maximum subtracted first);
///   dz = y (dy - rowsum(dy y))
template <class T>
Var<T> softmax(Var<T> z) {
    return z.tape->record(
        "softmax", z.shape(), {z},
        [&](Node<T>& y) {
            const std::size_t classes = z.cols();
            parallel::for_rows(z.rows(), classes, [&](std::size_t lo, std::size_t hi) {
                for (std::size_t i = lo; i < hi; ++i) {
                    const T* row = z.value().data() + i * classes;
                    T* out = y.result.data() + i * classes;
                    const T top = *std::max_element(row, row + classes);
                    double sum = 0;
                    for (std::size_t k = 0; k < classes; ++k) sum += double(out[k] = std::exp(row[k] - top));
                    for (std::size_t k = 0; k < classes; ++k) out[k] = T(double(out[k]) / sum);
                }
            });
        },
        [](Node<T>& y) {
            Node<T>& z = y.in(0);
            const std::size_t classes = y.shape[1];
            const bool add = accumulate_into(z);
            parallel::for_rows(y.shape[0], classes, [&](std::size_t lo, std::size_t hi) {
                for (std::size_t i = lo; i < hi; ++i) {
                    const T* s = y.value->data() + i * classes;
                    const T* g = y.grad->data() + i * classes;
                    T* d = z.grad->data() + i * classes;
                    double dot = 0;
                    for (std::size_t k = 0; k < classes; ++k) dot += double(g[k]) * double(s[k]);
                    for (std::size_t k = 0; k < classes; ++k) d[k] = (add ? d[k] : T(0)) + s[k] * (g[k] - T(dot));
                }
            });
        },
        [](RuleContext<T>& c) { c.dx[0] = c.y * (c.dy - sum(c.dy * c.y, 1)); });
}

/// Row i is the indicator of class labels(i) among `classes` (labels: B x 1 class indices, as
/// softmax_cross_entropy takes them);  piecewise constant, no gradient
template <class T>
Var<T> one_hot(Var<T> labels, std::size_t classes) {
    detail::check_labels("one_hot", Shape{labels.rows(), classes}, labels.value(), labels.requires_grad());
    return labels.tape->record(
        "one_hot", Shape{labels.rows(), classes}, {labels},
        [&](Node<T>& y) {
            std::fill(y.result.begin(), y.result.end(), T(0));
            for (std::size_t i = 0; i < labels.rows(); ++i) y.result(i, std::size_t(labels.value()(i, 0))) = T(1);
        },
        nullptr, zero_rule<T>);
}

/// `softmax_cross_entropy` against constant labels (referenced, not copied).
template <class T>
Var<T> softmax_cross_entropy(Var<T> z, const Matrix<T>& labels) {
    return softmax_cross_entropy(z, z.tape->constant(labels, "labels"));
}

/// `mse` against a constant target (referenced, not copied: keep it alive until backward).
template <class T> Var<T> mse(Var<T> r, const Matrix<T>& t) { return mse(r, r.tape->constant(t, "target")); }
/// `binary_cross_entropy` against a constant target (referenced, not copied).
template <class T>
Var<T> binary_cross_entropy(Var<T> p, const Matrix<T>& t) { return binary_cross_entropy(p, p.tape->constant(t, "target")); }
/// `binary_cross_entropy_with_logits` against a constant target (referenced, not copied).
template <class T>
Var<T> binary_cross_entropy_with_logits(Var<T> z, const Matrix<T>& t) {
    return binary_cross_entropy_with_logits(z, z.tape->constant(t, "target"));
}

// Compiled once per precision in framework/src/ops_float.cpp and ops_double.cpp; every other
// translation unit only declares them (instantiated in each, they made most of the build time).
#define TG_LOSS_OPS(PREFIX, T) \
    PREFIX template Var<T> mse<T>(Var<T>, Var<T>); \
    PREFIX template Var<T> binary_cross_entropy<T>(Var<T>, Var<T>); \
    PREFIX template Var<T> binary_cross_entropy_with_logits<T>(Var<T>, Var<T>); \
    PREFIX template Var<T> softmax_cross_entropy<T>(Var<T>, Var<T>); \
    PREFIX template Var<T> softmax<T>(Var<T>); \
    PREFIX template Var<T> one_hot<T>(Var<T>, std::size_t);
TG_LOSS_OPS(extern, float)
TG_LOSS_OPS(extern, double)

}  // namespace tg
