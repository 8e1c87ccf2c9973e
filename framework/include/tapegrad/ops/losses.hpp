#pragma once
// Losses, each fused: one pass computes the value, one pass writes the gradient. They are the
// mean over all elements (so the gradient carries 1/n).
#include "tapegrad/ops/reductions.hpp"

#include <algorithm>

namespace tg {

namespace detail {
inline void check_same_shape(const char* op, Shape prediction, Shape target) {
    if (prediction != target)
        throw ShapeError(std::string(op) + ": prediction has shape " + to_string(prediction) +
                         " but target has shape " + to_string(target) + "; they must be equal");
}

// Probabilities are clamped so that log never sees 0; eps is near each type's resolution.
template <class T> constexpr T probability_eps() { return sizeof(T) == 4 ? T(1e-7) : T(1e-12); }
}  // namespace detail

// L = mean((r - t)^2);  dr = 2 (r - t) dL / n,  dt = -dr
template <class T>
Var<T> mse(Var<T> r, Var<T> t) {
    detail::check_same_shape("mse", r.shape(), t.shape());
    const double inv_n = 1.0 / double(r.rows() * r.cols());
    return r.tape->record(
        "mse", Shape{1, 1}, {r, t},
        [&](Node<T>& y) {
            const T* a = r.value().data();
            const T* b = t.value().data();
            double s = 0;
            for (std::size_t i = 0, n = r.value().size(); i < n; ++i) {
                const T d = a[i] - b[i];
                s += d * d;
            }
            y.result(0, 0) = T(s * inv_n);
        },
        [](Node<T>& y) {
            const T c = T(2 * y.scalar * (*y.grad)(0, 0));
            const Matrix<T>& a = *y.in(0).value;
            const Matrix<T>& b = *y.in(1).value;
            if (y.in(0).requires_grad) add_grad(y.in(0), c * (a - b));
            if (y.in(1).requires_grad) add_grad(y.in(1), c * (b - a));
        },
        inv_n);
}

// L = -mean(t ln p + (1 - t) ln(1 - p)), p clamped to [eps, 1 - eps];
// dp = dL (p - t) / (p (1 - p)) / n,  dt = dL (ln(1 - p) - ln p) / n
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
            double s = 0;
            for (std::size_t i = 0, n = p.value().size(); i < n; ++i) {
                const T q = std::clamp(a[i], eps, T(1) - eps);
                s -= b[i] * std::log(q) + (T(1) - b[i]) * std::log1p(-q);
            }
            y.result(0, 0) = T(s * inv_n);
        },
        [](Node<T>& y) {
            constexpr T eps = detail::probability_eps<T>();
            const T c = T(y.scalar * (*y.grad)(0, 0));
            const auto q = xt::clip(*y.in(0).value, eps, T(1) - eps);
            const Matrix<T>& t = *y.in(1).value;
            if (y.in(0).requires_grad) add_grad(y.in(0), c * (q - t) / (q * (T(1) - q)));
            if (y.in(1).requires_grad) add_grad(y.in(1), c * (xt::log1p(-q) - xt::log(q)));
        },
        inv_n);
}

// The same loss on logits z (p = sigmoid(z)), stable for any z:
// L = mean(max(z, 0) - z t + ln(1 + e^-|z|));  dz = dL (sigmoid(z) - t) / n,  dt = -dL z / n
template <class T>
Var<T> binary_cross_entropy_with_logits(Var<T> z, Var<T> t) {
    detail::check_same_shape("binary_cross_entropy_with_logits", z.shape(), t.shape());
    const double inv_n = 1.0 / double(z.rows() * z.cols());
    return z.tape->record(
        "bce_with_logits", Shape{1, 1}, {z, t},
        [&](Node<T>& y) {
            const T* a = z.value().data();
            const T* b = t.value().data();
            double s = 0;
            for (std::size_t i = 0, n = z.value().size(); i < n; ++i)
                s += std::max(a[i], T(0)) - a[i] * b[i] + std::log1p(std::exp(-std::abs(a[i])));
            y.result(0, 0) = T(s * inv_n);
        },
        [](Node<T>& y) {
            const T c = T(y.scalar * (*y.grad)(0, 0));
            const Matrix<T>& zv = *y.in(0).value;
            const Matrix<T>& t = *y.in(1).value;
            if (y.in(0).requires_grad) add_grad(y.in(0), c * (T(1) / (T(1) + xt::exp(-zv)) - t));
            if (y.in(1).requires_grad) add_grad(y.in(1), -c * zv);
        },
        inv_n);
}

// Conveniences for the common case of a constant target (referenced, not copied).
template <class T> Var<T> mse(Var<T> r, const Matrix<T>& t) { return mse(r, r.tape->constant(t, "target")); }
template <class T>
Var<T> binary_cross_entropy(Var<T> p, const Matrix<T>& t) { return binary_cross_entropy(p, p.tape->constant(t, "target")); }
template <class T>
Var<T> binary_cross_entropy_with_logits(Var<T> z, const Matrix<T>& t) {
    return binary_cross_entropy_with_logits(z, z.tape->constant(t, "target"));
}

}  // namespace tg
