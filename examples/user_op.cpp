// The README's "An op of your own": an activation the library does not have, written outside
// it with the public Tape API (forward, backward and its gradient rule in ops, together), used
// in a model and checked through the public gradcheck API: first derivatives, and second
// derivatives through grad(create_graph). Run by the test suite; exits non-zero on a mismatch.
//   user_op_example [--broken]   (--broken: a backward with a wrong factor, which must fail)
#include <tapegrad/gradcheck.hpp>
#include <tapegrad/tapegrad.hpp>

#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <utility>

namespace my {

using tg::Node, tg::RuleContext, tg::Var;

inline bool broken = false;  // the negative control: the check must see a wrong backward

/// y = x sigmoid(x) (swish, or SiLU);  dx = dy s (1 + x (1 - s)) with s = sigmoid(x)
template <class T>
Var<T> swish(Var<T> x) {
    return x.tape->record(
        "swish", x.shape(), {x},
        [x](Node<T>& y) {  // forward: writes y.result
            const auto& v = x.value();
            y.result = v / (T(1) + xt::exp(-v));
        },
        [](Node<T>& y) {  // backward: adds dy * dy/dx into the operand's gradient
            const auto& v = *y.in(0).value;
            const auto s = T(1) / (T(1) + xt::exp(-v));
            tg::add_grad(y.in(0), *y.grad * s * (T(1) + v * (T(1) - s)) * T(broken ? 1.01 : 1.0));
        },
        [](RuleContext<T>& c) {  // the same gradient in ops: differentiable again
            const Var<T> s = tg::sigmoid(c.x[0]);
            c.dx[0] = c.dy * (s * (1.0 + c.x[0] * (1.0 - s)));
        });
}

}  // namespace my

int main(int argc, char** argv) {
    my::broken = argc > 1 && std::strcmp(argv[1], "--broken") == 0;
    using tg::Matrix, tg::Parameter, tg::Tape, tg::Var;
    std::mt19937_64 rng(7);
    std::normal_distribution<double> normal(0.0, 0.7);
    auto random = [&](std::size_t rows, std::size_t cols) {
        Matrix<double> m = Matrix<double>::from_shape({rows, cols});
        for (double& v : m) v = normal(rng);
        return m;
    };
    const Matrix<double> X = random(6, 5);
    Parameter<double> W("W", random(3, 5)), b("b", random(1, 3)), c("c", random(1, 5));
    // A tied autoencoder with the new activation: the op is used like any of the library's.
    auto loss = [&](Tape<double>& t) {
        Var<double> h = my::swish(tg::affine(t.constant(X), t.parameter(W), t.parameter(b)));
        return tg::mse(tg::affine(h, t.parameter(W), t.parameter(c), tg::Trans::N), X);
    };
    // Second order: the squared norm of dL/dW, differentiated again (uses the rule).
    auto gradient_norm = [&](Tape<double>& t) {
        Var<double> g = tg::grad(loss(t), {t.parameter(W)}, {.create_graph = true})[0];
        return tg::sum(g * g);
    };

    bool ok = true;
    for (const auto& [what, f] : {std::pair<const char*, std::function<Var<double>(Tape<double>&)>>{"loss", loss},
                                  {"|dL/dW|^2 (second derivatives)", gradient_norm}}) {
        for (const tg::GradcheckResult& r : tg::gradcheck<double>(f, {&W, &b, &c})) {
            std::cout << what << ", " << r.parameter << ": max relative error " << r.max_rel_error
                      << (r.passed ? "  ok\n" : "  FAILED\n");
            ok = ok && r.passed;
        }
    }
    return ok ? 0 : 1;
}
