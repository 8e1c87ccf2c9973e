#pragma once
// Elementwise arithmetic and math. Binary ops broadcast (see broadcast.hpp); unary ops run as
// xtensor expressions, which xsimd vectorizes (exp and log included).
#include "tapegrad/ops/blocks.hpp"
#include "tapegrad/ops/broadcast.hpp"
#include "tapegrad/ops/patterned.hpp"

#include <xtensor/xmath.hpp>

namespace tg {

/// A constant factor an op's backward multiplies by (`scale`, `sum`, `mean`).
struct Scale {
    double factor;
};

// Used by gradient rules, defined with the ops they belong to (shape.hpp).
template <class T> Var<T> sum_to(Var<T> v, Shape shape);

namespace detail {
// Records a unary op y = f(x) whose backward only reads y, x, dy and the attributes. `forward`
// maps a range of x to the expression for that range of y (run over the threads by ranges).
template <class T, class Forward, class Attributes = NoAttributes>
Var<T> unary(const char* op, Var<T> x, Forward forward, typename Node<T>::Backward backward,
             typename Node<T>::Rule rule, const Attributes& attributes = Attributes{}) {
    return x.tape->record(
        op, x.shape(), {x}, [&](Node<T>& y) { map_elements(y.result, forward, x.value()); }, backward, rule, attributes);
}
}  // namespace detail

/// y = a + b;  da = dy, db = dy (reduced over broadcast dimensions)
template <class T>
Var<T> operator+(Var<T> a, Var<T> b) {
    return a.tape->record(
        "add", detail::broadcast_shape("add", a.shape(), b.shape()), {a, b},
        [&](Node<T>& y) { detail::broadcast_apply(a.value(), b.value(), y.result, [](T p, T q) { return p + q; }); },
        [](Node<T>& y) {
            const detail::Broadcast<T> g(*y.grad);
            for (std::size_t k = 0; k < 2; ++k)
                if (y.in(k).requires_grad) detail::reduce_grad(y.in(k), y.shape, g);
        },
        [](RuleContext<T>& c) {
            for (std::size_t k = 0; k < 2; ++k)
                if (c.needs[k]) c.dx[k] = sum_to(c.dy, c.x[k].shape());
        });
}

/// y = a - b;  da = dy, db = -dy
template <class T>
Var<T> operator-(Var<T> a, Var<T> b) {
    return a.tape->record(
        "sub", detail::broadcast_shape("sub", a.shape(), b.shape()), {a, b},
        [&](Node<T>& y) { detail::broadcast_apply(a.value(), b.value(), y.result, [](T p, T q) { return p - q; }); },
        [](Node<T>& y) {
            const detail::Broadcast<T> g(*y.grad);
            if (y.in(0).requires_grad) detail::reduce_grad(y.in(0), y.shape, g);
            if (y.in(1).requires_grad)
                detail::reduce_grad(y.in(1), y.shape, [&](std::size_t i, std::size_t j) { return -g(i, j); });
        },
        [](RuleContext<T>& c) {
            if (c.needs[0]) c.dx[0] = sum_to(c.dy, c.x[0].shape());
            if (c.needs[1]) c.dx[1] = sum_to(-c.dy, c.x[1].shape());
        });
}

/// y = a * b (elementwise);  da = dy * b, db = dy * a
template <class T>
Var<T> operator*(Var<T> a, Var<T> b) {
    return a.tape->record(
        "mul", detail::broadcast_shape("mul", a.shape(), b.shape()), {a, b},
        [&](Node<T>& y) {
            detail::broadcast_apply(a.value(), b.value(), y.result, [](T p, T q) { return p * q; });
            detail::keep_unit_rows(y, *a.node, *b.node);
        },
        [](Node<T>& y) {
            const detail::Broadcast<T> g(*y.grad), av(*y.in(0).value), bv(*y.in(1).value);
            if (y.in(0).requires_grad)
                detail::reduce_grad(y.in(0), y.shape, [&](std::size_t i, std::size_t j) { return g(i, j) * bv(i, j); });
            if (y.in(1).requires_grad)
                detail::reduce_grad(y.in(1), y.shape, [&](std::size_t i, std::size_t j) { return g(i, j) * av(i, j); });
        },
        [](RuleContext<T>& c) {
            if (c.needs[0]) c.dx[0] = sum_to(c.dy * c.x[1], c.x[0].shape());
            if (c.needs[1]) c.dx[1] = sum_to(c.dy * c.x[0], c.x[1].shape());
        });
}

/// y = a / b (elementwise);  da = dy / b, db = -dy y / b
template <class T>
Var<T> operator/(Var<T> a, Var<T> b) {
    return a.tape->record(
        "div", detail::broadcast_shape("div", a.shape(), b.shape()), {a, b},
        [&](Node<T>& y) { detail::broadcast_apply(a.value(), b.value(), y.result, [](T p, T q) { return p / q; }); },
        [](Node<T>& y) {
            const detail::Broadcast<T> g(*y.grad), bv(*y.in(1).value);
            const T* yv = y.value->data();
            const std::size_t cols = y.shape[1];
            if (y.in(0).requires_grad)
                detail::reduce_grad(y.in(0), y.shape, [&](std::size_t i, std::size_t j) { return g(i, j) / bv(i, j); });
            if (y.in(1).requires_grad)
                detail::reduce_grad(y.in(1), y.shape,
                                    [&](std::size_t i, std::size_t j) { return -g(i, j) * yv[i * cols + j] / bv(i, j); });
        },
        [](RuleContext<T>& c) {
            if (c.needs[0]) c.dx[0] = sum_to(c.dy / c.x[1], c.x[0].shape());
            if (c.needs[1]) c.dx[1] = sum_to(-(c.dy * c.y) / c.x[1], c.x[1].shape());
        });
}

/// y = s x;  dx = s dy
template <class T>
Var<T> scale(Var<T> x, double s) {
    return detail::unary(
        "scale", x, [s](const auto& v) { return T(s) * v; },
        [](Node<T>& y) {
            const T f = T(y.template attributes<Scale>().factor);
            detail::add_grad_elements(y.in(0), [f](const auto& g) { return f * g; }, *y.grad);
        },
        [](RuleContext<T>& c) { c.dx[0] = scale(c.dy, c.template attributes<Scale>().factor); }, Scale{s});
}
template <class T> Var<T> operator*(Var<T> x, double s) { return scale(x, s); }
template <class T> Var<T> operator*(double s, Var<T> x) { return scale(x, s); }
template <class T> Var<T> operator-(Var<T> x) { return scale(x, -1.0); }

/// y = x + c for a constant c;  dx = dy
template <class T>
Var<T> add_scalar(Var<T> x, double c) {
    return detail::unary(
        "add_scalar", x, [c](const auto& v) { return v + T(c); },
        // The map returns g by reference: by value, it copied the whole gradient array (an
        // allocation every step, found by the allocation test once it counted aligned buffers).
        [](Node<T>& y) { detail::add_grad_elements(y.in(0), [](const auto& g) -> const auto& { return g; }, *y.grad); },
        [](RuleContext<T>& c) { c.dx[0] = c.dy; });
}
template <class T> Var<T> operator+(Var<T> x, double c) { return add_scalar(x, c); }
template <class T> Var<T> operator+(double c, Var<T> x) { return add_scalar(x, c); }
template <class T> Var<T> operator-(Var<T> x, double c) { return add_scalar(x, -c); }
template <class T> Var<T> operator-(double c, Var<T> x) { return add_scalar(scale(x, -1.0), c); }

/// y = x * M for a constant mask (or any constant weights) M of x's shape;  dx = dy * M.
/// The mask is referenced, not copied: keep it alive until backward has run.
template <class T>
Var<T> masked(Var<T> x, const Matrix<T>& mask) {
    if (shape_of(mask) != x.shape())
        throw ShapeError("masked: mask has shape " + to_string(shape_of(mask)) + " but the input has shape " +
                         to_string(x.shape()) + "; they must be equal");
    Var<T> m = x.tape->constant(mask, "mask");
    return x.tape->record(
        "masked", x.shape(), {x, m},
        [&](Node<T>& y) { detail::map_elements(y.result, [](const auto& v, const auto& k) { return v * k; }, x.value(), mask); },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& k) { return g * k; }, *y.grad, *y.in(1).value);
        },
        [](RuleContext<T>& c) { c.dx[0] = masked(c.dy, c.x[1].value()); });
}

/// y = x^2;  dx = 2 x dy
template <class T>
Var<T> square(Var<T> x) {
    return detail::unary(
        "square", x, [](const auto& v) { return v * v; },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& x, const auto& g) { return T(2) * x * g; }, *y.in(0).value, *y.grad);
        },
        [](RuleContext<T>& c) { c.dx[0] = scale(c.x[0] * c.dy, 2.0); });
}

/// y = |x|;  dx = sign(x) dy  (0 at x = 0, the subgradient an L1 penalty wants)
template <class T>
Var<T> abs(Var<T> x) {
    return detail::unary(
        "abs", x, [](const auto& v) { return xt::abs(v); },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& x, const auto& g) { return xt::sign(x) * g; }, *y.in(0).value, *y.grad);
        },
        [](RuleContext<T>& c) { c.dx[0] = sign(c.x[0]) * c.dy; });
}

/// y = sign(x) (-1, 0 or 1);  piecewise constant, so no gradient flows back
template <class T>
Var<T> sign(Var<T> x) {
    return detail::unary("sign", x, [](const auto& v) { return xt::sign(v); }, nullptr, zero_rule<T>);
}

/// y = min(max(x, lo), hi);  dx = dy [lo < x < hi]
template <class T>
Var<T> clamp(Var<T> x, double lo, double hi) {
    return detail::unary(
        "clamp", x, [lo, hi](const auto& v) { return xt::clip(v, T(lo), T(hi)); },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& x, const auto& v) { return xt::where(xt::equal(x, v), g, T(0)); },
                                      *y.grad, *y.in(0).value, *y.value);
        },
        [](RuleContext<T>& c) { c.dx[0] = c.dy * clamp_window(c.x[0], c.y); });
}

/// y = [x == c] elementwise: 1 where clamp left x as it was, 0 where it clipped it (clamp's
/// derivative, read from its operand x and result c);  piecewise constant, no gradient
template <class T>
Var<T> clamp_window(Var<T> x, Var<T> c) {
    return x.tape->record(
        "clamp_window", x.shape(), {x, c},
        [&](Node<T>& y) {
            detail::map_elements(y.result, [](const auto& a, const auto& b) { return xt::where(xt::equal(a, b), T(1), T(0)); },
                                 x.value(), c.value());
        },
        nullptr, zero_rule<T>);
}

/// y = e^x;  dx = y dy
template <class T>
Var<T> exp(Var<T> x) {
    return detail::unary(
        "exp", x, [](const auto& v) { return xt::exp(v); },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& e, const auto& g) { return e * g; }, *y.value, *y.grad);
        },
        [](RuleContext<T>& c) { c.dx[0] = c.dy * c.y; });
}

/// y = ln x;  dx = dy / x
template <class T>
Var<T> log(Var<T> x) {
    return detail::unary(
        "log", x, [](const auto& v) { return xt::log(v); },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& x) { return g / x; }, *y.grad, *y.in(0).value);
        },
        [](RuleContext<T>& c) { c.dx[0] = c.dy / c.x[0]; });
}

// Compiled once per precision in framework/src/ops_float.cpp and ops_double.cpp; every other
// translation unit only declares them (instantiated in each, they made most of the build time).
#define TG_ELEMENTWISE_OPS(PREFIX, T) \
    PREFIX template Var<T> operator+ <T>(Var<T>, Var<T>); \
    PREFIX template Var<T> operator- <T>(Var<T>, Var<T>); \
    PREFIX template Var<T> operator* <T>(Var<T>, Var<T>); \
    PREFIX template Var<T> operator/ <T>(Var<T>, Var<T>); \
    PREFIX template Var<T> sign<T>(Var<T>); \
    PREFIX template Var<T> clamp<T>(Var<T>, double, double); \
    PREFIX template Var<T> clamp_window<T>(Var<T>, Var<T>); \
    PREFIX template Var<T> scale<T>(Var<T>, double); \
    PREFIX template Var<T> add_scalar<T>(Var<T>, double); \
    PREFIX template Var<T> masked<T>(Var<T>, const Matrix<T>&); \
    PREFIX template Var<T> square<T>(Var<T>); \
    PREFIX template Var<T> abs<T>(Var<T>); \
    PREFIX template Var<T> exp<T>(Var<T>); \
    PREFIX template Var<T> log<T>(Var<T>);
TG_ELEMENTWISE_OPS(extern, float)
TG_ELEMENTWISE_OPS(extern, double)

}  // namespace tg
