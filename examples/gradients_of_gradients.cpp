// The README's "Gradients of gradients": a Hessian-vector product of a tied autoencoder's loss,
// checked against central differences of its gradient, and an input-gradient penalty trained
// through with backward. Run by the test suite; exits non-zero if the product is off.
#include <tapegrad/tapegrad.hpp>

#include <iostream>
#include <random>

using namespace tg;

int main() {
    std::mt19937_64 rng(1);
    std::normal_distribution<double> normal(0.0, 0.5);
    auto random = [&](std::size_t rows, std::size_t cols) {
        Matrix<double> m = Matrix<double>::from_shape({rows, cols});
        for (double& v : m) v = normal(rng);
        return m;
    };
    const Matrix<double> X = random(8, 6), V = random(3, 6);
    Parameter<double> W("W", random(3, 6)), b("b", random(1, 3)), c("c", random(1, 6));
    auto loss = [&](Tape<double>& t, Var<double> x) {  // a tied sigmoid autoencoder: W read twice
        Var<double> h = sigmoid(affine(x, t.parameter(W), t.parameter(b)));
        return mse(affine(h, t.parameter(W), t.parameter(c), Trans::N), X);
    };

    // --- the README's example -------------------------------------------------------------
    Tape<double> tape;
    Var<double> L = loss(tape, tape.constant(X));
    Var<double> g = grad(L, {tape.parameter(W)}, {.create_graph = true})[0];  // dL/dW, a Var on the tape
    Var<double> Hv = grad(sum(g * tape.constant(V)), {tape.parameter(W)})[0];  // H v = d<dL/dW, V>/dW

    tape.clear();  // a gradient penalty, trained through: L + ||dL/dx||^2
    Var<double> x = tape.variable(X, "x");                                      // data we differentiate by
    Var<double> rec = loss(tape, x);
    Var<double> dx = grad(rec, {x}, {.create_graph = true})[0];
    W.zero_grad();
    tape.backward(rec + sum(dx * dx));  // second derivatives reach W.grad through dx
    // ---------------------------------------------------------------------------------------

    // Check: H v against (dL/dW(W + eV) - dL/dW(W - eV)) / 2e.
    const Matrix<double> W0 = W.value, Hv_value = Hv.value();
    auto gradient_at = [&](double e) {
        W.value = W0 + e * V;
        Tape<double> t;
        Var<double> l = loss(t, t.constant(X));
        return Matrix<double>(grad(l, {t.parameter(W)})[0].value());
    };
    const double e = 1e-5;
    const Matrix<double> central = (gradient_at(e) - gradient_at(-e)) / (2 * e);
    W.value = W0;
    const double error = xt::amax(xt::abs(Hv_value - central))() / xt::amax(xt::abs(central))();
    std::cout << "Hessian-vector product vs central differences of the gradient: relative error " << error << "\n"
              << "gradient-penalty step: |dW| max " << xt::amax(xt::abs(W.grad))() << "\n";
    return error < 1e-6 ? 0 : 1;
}
