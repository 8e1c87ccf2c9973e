#pragma once
// Activations, and each activation's derivative as an op of its own: a penalty on the encoder's
// Jacobian (the contractive autoencoder) is then ordinary graph ops, differentiable in turn.
// Derivative ops take the pre-activation z and return f'(z); their backward needs f''(z).
#include "tapegrad/ops/elementwise.hpp"

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tg {

/// y = 1 / (1 + e^-x);  dx = dy y (1 - y)   (reads only the result, like Flashlight)
template <class T>
Var<T> sigmoid(Var<T> x) {
    return detail::unary(
        "sigmoid", x, [](const auto& v) { return T(1) / (T(1) + xt::exp(-v)); },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& s) { return g * s * (T(1) - s); }, *y.grad, *y.value);
        },
        [](RuleContext<T>& c) { c.dx[0] = c.dy * sigmoid_derivative_from_output(c.y); });
}

/// y = tanh x;  dx = dy (1 - y^2)
template <class T>
Var<T> tanh(Var<T> x) {
    return detail::unary(
        "tanh", x, [](const auto& v) { return xt::tanh(v); },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& t) { return g * (T(1) - t * t); }, *y.grad, *y.value);
        },
        [](RuleContext<T>& c) { c.dx[0] = c.dy * tanh_derivative_from_output(c.y); });
}

/// y = max(x, 0);  dx = dy [x > 0]
template <class T>
Var<T> relu(Var<T> x) {
    return detail::unary(
        "relu", x, [](const auto& v) { return xt::maximum(v, T(0)); },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& r) { return xt::where(r > T(0), g, T(0)); }, *y.grad, *y.value);
        },
        [](RuleContext<T>& c) { c.dx[0] = c.dy * relu_derivative(c.y); });  // [y > 0] = [x > 0]
}

/// y = ln(1 + e^x), computed as max(x, 0) + ln(1 + e^-|x|) so large |x| neither overflows nor
/// loses the linear part;  dx = dy sigmoid(x)
template <class T>
Var<T> softplus(Var<T> x) {
    return detail::unary(
        "softplus", x,
        [](const auto& v) { return xt::maximum(v, T(0)) + xt::log1p(xt::exp(-xt::abs(v))); },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& x) { return g / (T(1) + xt::exp(-x)); }, *y.grad, *y.in(0).value);
        },
        [](RuleContext<T>& c) { c.dx[0] = c.dy * sigmoid(c.x[0]); });
}

/// y = s(1 - s) with s = sigmoid(z);  dz = dy y (1 - 2 s)
template <class T>
Var<T> sigmoid_derivative(Var<T> z) {
    return z.tape->record(
        "sigmoid_derivative", z.shape(), {z},
        [&](Node<T>& y) {
            detail::ensure_saved(y);
            detail::map_elements(y.saved, [](const auto& v) { return T(1) / (T(1) + xt::exp(-v)); }, z.value());
            detail::map_elements(y.result, [](const auto& s) { return s * (T(1) - s); }, y.saved);
        },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& d, const auto& s) { return g * d * (T(1) - T(2) * s); },
                                      *y.grad, *y.value, y.saved);
        },
        [](RuleContext<T>& c) { c.dx[0] = c.dy * (c.y * (1.0 - 2.0 * sigmoid(c.x[0]))); });
}

/// y = 1 - t^2 with t = tanh(z);  dz = dy (-2 t y)
template <class T>
Var<T> tanh_derivative(Var<T> z) {
    return z.tape->record(
        "tanh_derivative", z.shape(), {z},
        [&](Node<T>& y) {
            detail::ensure_saved(y);
            detail::map_elements(y.saved, [](const auto& v) { return xt::tanh(v); }, z.value());
            detail::map_elements(y.result, [](const auto& t) { return T(1) - t * t; }, y.saved);
        },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& t, const auto& d) { return T(-2) * g * t * d; },
                                      *y.grad, y.saved, *y.value);
        },
        [](RuleContext<T>& c) { c.dx[0] = scale(c.dy * (tanh(c.x[0]) * c.y), -2.0); });
}

/// y = [z > 0];  piecewise constant, so no gradient flows back
template <class T>
Var<T> relu_derivative(Var<T> z) {
    return z.tape->record(
        "relu_derivative", z.shape(), {z},
        [&](Node<T>& y) { detail::map_elements(y.result, [](const auto& v) { return xt::where(v > T(0), T(1), T(0)); }, z.value()); },
        nullptr, zero_rule<T>);
}

/// y = sigmoid(z);  dz = dy y (1 - y)
template <class T>
Var<T> softplus_derivative(Var<T> z) {
    return z.tape->record(
        "softplus_derivative", z.shape(), {z},
        [&](Node<T>& y) { detail::map_elements(y.result, [](const auto& v) { return T(1) / (T(1) + xt::exp(-v)); }, z.value()); },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& s) { return g * s * (T(1) - s); }, *y.grad, *y.value);
        },
        [](RuleContext<T>& c) { c.dx[0] = c.dy * sigmoid_derivative_from_output(c.y); });
}

/// y = 1 (the identity's derivative); constant, so no gradient flows back
template <class T>
Var<T> identity_derivative(Var<T> z) {
    return z.tape->record(
        "identity_derivative", z.shape(), {z}, [](Node<T>& y) { std::fill(y.result.begin(), y.result.end(), T(1)); },
        nullptr, zero_rule<T>);
}

// The same derivatives from the activation's output y = f(z) instead of z: no second pass of
// exp or tanh and no saved buffer, where the output is at hand (the contractive penalty's
// f'(z) next to the code h = f(z)). relu's and the identity's derivative ops serve both ways.

/// y = h (1 - h) for h = sigmoid(z);  dh = dy (1 - 2 h)
template <class T>
Var<T> sigmoid_derivative_from_output(Var<T> h) {
    return detail::unary(
        "sigmoid_derivative_from_output", h, [](const auto& v) { return v * (T(1) - v); },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& v) { return g * (T(1) - T(2) * v); },
                                      *y.grad, *y.in(0).value);
        },
        [](RuleContext<T>& c) { c.dx[0] = c.dy * (1.0 - 2.0 * c.x[0]); });
}

/// y = 1 - t^2 for t = tanh(z);  dt = -2 t dy
template <class T>
Var<T> tanh_derivative_from_output(Var<T> t) {
    return detail::unary(
        "tanh_derivative_from_output", t, [](const auto& v) { return T(1) - v * v; },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& v) { return T(-2) * v * g; }, *y.grad,
                                      *y.in(0).value);
        },
        [](RuleContext<T>& c) { c.dx[0] = scale(c.x[0] * c.dy, -2.0); });
}

/// y = 1 - e^-s for s = softplus(z) (= sigmoid(z));  ds = e^-s dy
template <class T>
Var<T> softplus_derivative_from_output(Var<T> s) {
    return detail::unary(
        "softplus_derivative_from_output", s, [](const auto& v) { return T(1) - xt::exp(-v); },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& v) { return g * xt::exp(-v); }, *y.grad,
                                      *y.in(0).value);
        },
        [](RuleContext<T>& c) { c.dx[0] = c.dy * (1.0 - c.y); });  // e^-s = 1 - y
}

/// The encoder activations a model can choose. Each is declared once, by a row of
/// activation_table below (the enum only names the rows, in the same order): names for the
/// command line and configs, the op, and its derivative op all come from that row.
enum class Activation { identity, sigmoid, tanh, relu, softplus };

template <class T>
struct ActivationEntry {
    Activation id;
    const char* name;
    Var<T> (*apply)(Var<T>);
    Var<T> (*derivative)(Var<T>);  ///< f'(z) as an op of z (for Jacobian penalties)
    Var<T> (*derivative_from_output)(Var<T>);  ///< the same f'(z) as an op of y = f(z)
};

namespace detail {
template <class T> Var<T> identity(Var<T> z) { return z; }
}  // namespace detail

template <class T>
inline const ActivationEntry<T> activation_table[] = {
    {Activation::identity, "identity", detail::identity<T>, identity_derivative<T>, identity_derivative<T>},
    {Activation::sigmoid, "sigmoid", sigmoid<T>, sigmoid_derivative<T>, sigmoid_derivative_from_output<T>},
    {Activation::tanh, "tanh", tanh<T>, tanh_derivative<T>, tanh_derivative_from_output<T>},
    {Activation::relu, "relu", relu<T>, relu_derivative<T>, relu_derivative<T>},  // [f(z) > 0] = [z > 0]
    {Activation::softplus, "softplus", softplus<T>, softplus_derivative<T>, softplus_derivative_from_output<T>},
};

template <class T>
const ActivationEntry<T>& activation_entry(Activation a) {
    const ActivationEntry<T>& e = activation_table<T>[static_cast<std::size_t>(a)];
    if (e.id != a) throw std::logic_error("activation_table rows are not in the order of enum Activation");
    return e;
}

/// Every activation's name, in table order.
inline std::vector<std::string> activation_names() {
    std::vector<std::string> out;
    for (const ActivationEntry<float>& e : activation_table<float>) out.push_back(e.name);
    return out;
}

inline const char* name(Activation a) { return activation_entry<float>(a).name; }

/// By name; "linear" is the identity's other name.
inline Activation parse_activation(std::string_view name) {
    if (name == "linear") return Activation::identity;
    for (const ActivationEntry<float>& e : activation_table<float>)
        if (name == e.name) return e.id;
    std::string known = "linear";
    for (const std::string& n : activation_names()) known += "|" + n;
    throw std::invalid_argument("unknown activation '" + std::string(name) + "' (expected " + known + ")");
}

template <class T>
Var<T> activate(Activation a, Var<T> z) { return activation_entry<T>(a).apply(z); }

template <class T>
Var<T> activation_derivative(Activation a, Var<T> z) { return activation_entry<T>(a).derivative(z); }

/// f'(z) from the output y = f(z) (the same values as activation_derivative(a, z)).
template <class T>
Var<T> activation_derivative_from_output(Activation a, Var<T> y) {
    return activation_entry<T>(a).derivative_from_output(y);
}

// Compiled once per precision in framework/src/ops_float.cpp and ops_double.cpp; every other
// translation unit only declares them (instantiated in each, they made most of the build time).
#define TG_ACTIVATION_OPS(PREFIX, T) \
    PREFIX template Var<T> sigmoid<T>(Var<T>); \
    PREFIX template Var<T> tanh<T>(Var<T>); \
    PREFIX template Var<T> relu<T>(Var<T>); \
    PREFIX template Var<T> softplus<T>(Var<T>); \
    PREFIX template Var<T> sigmoid_derivative<T>(Var<T>); \
    PREFIX template Var<T> tanh_derivative<T>(Var<T>); \
    PREFIX template Var<T> relu_derivative<T>(Var<T>); \
    PREFIX template Var<T> softplus_derivative<T>(Var<T>); \
    PREFIX template Var<T> identity_derivative<T>(Var<T>); \
    PREFIX template Var<T> sigmoid_derivative_from_output<T>(Var<T>); \
    PREFIX template Var<T> tanh_derivative_from_output<T>(Var<T>); \
    PREFIX template Var<T> softplus_derivative_from_output<T>(Var<T>);
TG_ACTIVATION_OPS(extern, float)
TG_ACTIVATION_OPS(extern, double)

}  // namespace tg
