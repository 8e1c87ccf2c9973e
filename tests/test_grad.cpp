// Gradients as values (grad.hpp): the numeric sweep equals backward and leaves parameters
// alone; the rules in ops give the same numbers and can be differentiated again, to any order;
// variables, intermediates and detach behave as documented; misuse is named.
#include "test_helpers.hpp"

#include <tapegrad/gradcheck.hpp>
#include <tapegrad/tapegrad.hpp>

#include <boost/test/unit_test.hpp>

#include <random>

using namespace tg;

namespace {

Matrix<double> random_matrix(std::size_t r, std::size_t c, std::uint64_t seed, double lo = -1, double hi = 1) {
    std::mt19937_64 rng(seed);
    return tg_test::random_matrix<double>(rng, r, c, lo, hi);
}

double max_abs_diff(const Matrix<double>& a, const Matrix<double>& b) { return xt::amax(xt::abs(a - b))(); }

// A tied sigmoid autoencoder's loss: W read twice.
struct Tied {
    Matrix<double> X = random_matrix(5, 6, 1, 0, 1);
    Parameter<double> W{"W", random_matrix(3, 6, 2)}, b1{"b1", random_matrix(1, 3, 3)}, b2{"b2", random_matrix(1, 6, 4)};
    Var<double> loss(Tape<double>& t, Var<double> x) {
        Var<double> h = sigmoid(affine(x, t.parameter(W), t.parameter(b1)));
        return mse(affine(h, t.parameter(W), t.parameter(b2), Trans::N), X);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(grad_values)

BOOST_FIXTURE_TEST_CASE(numeric_grad_equals_backward_and_leaves_parameter_gradients_alone, Tied) {
    Tape<double> tape;
    W.grad.fill(7.0);  // grad must neither read nor write it
    W.grad_is_zero = false;
    Var<double> L = loss(tape, tape.constant(X));
    const auto g = grad(L, {tape.parameter(W), tape.parameter(b2)});
    BOOST_TEST(xt::amax(xt::abs(W.grad - 7.0))() == 0.0);
    W.zero_grad();
    b2.zero_grad();
    tape.clear();
    tape.backward(loss(tape, tape.constant(X)));
    BOOST_TEST(max_abs_diff(g[0].value(), W.grad) == 0.0);  // the very same sweep
    BOOST_TEST(max_abs_diff(g[1].value(), b2.grad) == 0.0);
}

BOOST_FIXTURE_TEST_CASE(rules_in_ops_give_the_fast_backward_gradients, Tied) {
    Tape<double> tape;
    Var<double> x = tape.variable(X, "x");
    Var<double> L = loss(tape, x);
    const auto ruled = grad(L, {tape.parameter(W), tape.parameter(b1), x}, {.create_graph = true});
    W.zero_grad();
    b1.zero_grad();
    tape.backward(L);
    BOOST_TEST(max_abs_diff(ruled[0].value(), W.grad) < 1e-15);
    BOOST_TEST(max_abs_diff(ruled[1].value(), b1.grad) < 1e-15);
    BOOST_TEST(max_abs_diff(ruled[2].value(), x.grad()) < 1e-15);  // data marked as a variable
    BOOST_TEST(xt::amax(xt::abs(x.grad()))() > 1e-3);
}

BOOST_AUTO_TEST_CASE(hessian_vector_product_of_a_cubic_is_exact) {
    // f(x) = sum(x^3): grad 3x^2, Hessian diag(6x), so Hv = 6 x v.
    const Matrix<double> X = random_matrix(4, 3, 5), V = random_matrix(4, 3, 6);
    Tape<double> tape;
    Var<double> x = tape.variable(X);
    Var<double> f = sum(x * x * x);
    Var<double> g = grad(f, {x}, {.create_graph = true})[0];
    BOOST_TEST(max_abs_diff(g.value(), 3.0 * X * X) < 1e-14);
    Var<double> hv = grad(sum(g * tape.constant(V)), {x}, {.create_graph = true})[0];
    BOOST_TEST(max_abs_diff(hv.value(), 6.0 * X * V) < 1e-14);
}

BOOST_AUTO_TEST_CASE(any_order_the_third_derivative_of_exp_is_exp) {
    const Matrix<double> X = random_matrix(3, 2, 7);
    Tape<double> tape;
    Var<double> x = tape.variable(X);
    Var<double> d = sum(exp(scale(x, 2.0)));  // d^n/dx^n e^(2x) = 2^n e^(2x)
    for (int order = 1; order <= 3; ++order) {
        Var<double> g = grad(d, {x}, {.create_graph = true})[0];
        BOOST_TEST(max_abs_diff(g.value(), std::pow(2.0, order) * xt::exp(2.0 * X)) < 1e-12, "order " << order);
        d = sum(g);
    }
}

BOOST_AUTO_TEST_CASE(intermediates_take_their_total_derivative_and_detach_stops_it) {
    const Matrix<double> X = random_matrix(3, 4, 8);
    Tape<double> tape;
    Var<double> x = tape.variable(X);
    Var<double> h = tanh(x);
    Var<double> y = sum(h * h) + sum(x);  // dy/dh = 2h; dy/dx = 2h (1 - h^2) + 1
    const auto g = grad(y, {h, x}, {.create_graph = true});
    const Matrix<double> hv = xt::tanh(X);
    BOOST_TEST(max_abs_diff(g[0].value(), 2.0 * hv) < 1e-15);
    BOOST_TEST(max_abs_diff(g[1].value(), 2.0 * hv * (1.0 - hv * hv) + 1.0) < 1e-14);
    Var<double> z = sum(detach(h) * h);  // d/dx = h (1 - h^2): the detached factor is a constant
    BOOST_TEST(max_abs_diff(grad(z, {x})[0].value(), hv * (1.0 - hv * hv)) < 1e-15);
}

BOOST_AUTO_TEST_CASE(an_unused_wrt_gets_zeros_and_a_vjp_takes_a_cotangent) {
    const Matrix<double> X = random_matrix(2, 3, 9), U = random_matrix(2, 3, 10);
    Tape<double> tape;
    Var<double> x = tape.variable(X), unused = tape.variable(U);
    Var<double> y = sigmoid(x);  // not a scalar: needs a cotangent
    for (bool create : {false, true}) {
        const auto g = vjp(y, tape.constant(U), {x, unused}, {.create_graph = create, .retain_graph = true});
        const Matrix<double> s = 1.0 / (1.0 + xt::exp(-X));
        BOOST_TEST(max_abs_diff(g[0].value(), U * s * (1.0 - s)) < 1e-15);
        BOOST_TEST(xt::amax(xt::abs(g[1].value()))() == 0.0);
    }
}

// A gradient penalty trained through: L = mse(r, X) + ||dL_rec/dx||^2 where the penalty's
// parameter gradient needs second derivatives. Finite differences of the whole (first-order
// graph gradient included) agree with backward through it.
BOOST_FIXTURE_TEST_CASE(a_gradient_penalty_is_differentiated_correctly, Tied) {
    const auto results = gradcheck<double>(
        [&](Tape<double>& t) {
            Var<double> x = t.variable(X, "x");
            Var<double> rec = loss(t, x);
            Var<double> dx = grad(rec, {x}, {.create_graph = true})[0];
            return rec + sum(dx * dx);
        },
        {&W, &b1, &b2});
    for (const GradcheckResult& r : results) BOOST_TEST(r.passed, r.parameter << " rel err " << r.max_rel_error);
}

BOOST_AUTO_TEST_CASE(misuse_is_named) {
    const Matrix<double> X = random_matrix(2, 3, 11);
    Tape<double> tape;
    Var<double> x = tape.variable(X), data = tape.constant(X, "pixels");
    Var<double> y = sigmoid(x);
    const Matrix<double> one{{1.0}};
    tg_test::expect_error<TapeError>([&] { grad(y, {x}); }, {"needs a cotangent"});
    tg_test::expect_error<TapeError>([&] { grad(sum(y * data), {data}); }, {"'pixels'", "takes no gradient"});
    tg_test::expect_error<ShapeError>([&] { vjp(y, tape.constant(one), {x}); }, {"cotangent has shape"});
    // An op recorded without a rule: the numeric sweep works, create_graph names it.
    Var<double> z = tape.record(
        "no_rule_op", x.shape(), {x}, [&](Node<double>& n) { n.result = X; },
        [](Node<double>& n) { add_grad(n.in(0), *n.grad); }, nullptr);
    BOOST_TEST(max_abs_diff(grad(sum(z), {x}, {.retain_graph = true})[0].value(), xt::ones_like(X)) == 0.0);
    tg_test::expect_error<TapeError>([&] { grad(sum(z), {x}, {.create_graph = true}); }, {"'no_rule_op'", "no gradient rule"});
}

BOOST_AUTO_TEST_SUITE_END()
