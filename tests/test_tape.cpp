// The tape's contract: tied weights get the sum of both contributions, misuse and bad shapes
// are named clearly, anomalies are located (nothing allocated after warm-up: test_allocations.cpp).
#include "test_helpers.hpp"
#include <tapegrad/models/all.hpp>

#include <tapegrad/gradcheck.hpp>
#include <tapegrad/tapegrad.hpp>

#include <boost/test/unit_test.hpp>

#include <random>

using namespace tg;

namespace {

template <class T>
Matrix<T> random_matrix(std::size_t r, std::size_t c, std::uint64_t seed, double lo = -1, double hi = 1) {
    std::mt19937_64 rng(seed);
    return tg_test::random_matrix<T>(rng, r, c, lo, hi);
}

using tg_test::expect_error;

struct TiedFixture {
    Matrix<double> X = random_matrix<double>(5, 6, 1, 0, 1);
    Parameter<double> W{"W", random_matrix<double>(3, 6, 2)};
    Parameter<double> b1{"b1", random_matrix<double>(1, 3, 3)};
    Parameter<double> b2{"b2", random_matrix<double>(1, 6, 4)};

    // L = mse(sigmoid(X W_enc^T + b1) W_dec + b2, X)
    Var<double> loss(Tape<double>& t, Parameter<double>& encoder_w, Parameter<double>& decoder_w) {
        Var<double> h = sigmoid(affine(t.constant(X), t.parameter(encoder_w), t.parameter(b1)));
        return mse(affine(h, t.parameter(decoder_w), t.parameter(b2), Trans::N), X);
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(tape)

BOOST_FIXTURE_TEST_CASE(tied_weight_gradient_is_the_sum_of_encoder_and_decoder_contributions, TiedFixture) {
    Tape<double> tape;
    tape.backward(loss(tape, W, W));  // tied: the same parameter in both places
    const Matrix<double> tied = W.grad;

    // The same network with two separate copies of W: each copy's gradient is one contribution.
    Parameter<double> encoder_copy{"W_enc", W.value}, decoder_copy{"W_dec", W.value};
    tape.clear();
    tape.backward(loss(tape, encoder_copy, decoder_copy));
    BOOST_TEST(xt::amax(xt::abs(encoder_copy.grad))() > 1e-3);  // both contributions are non-trivial
    BOOST_TEST(xt::amax(xt::abs(decoder_copy.grad))() > 1e-3);
    const Matrix<double> sum_of_parts = encoder_copy.grad + decoder_copy.grad;
    BOOST_TEST(xt::amax(xt::abs(tied - sum_of_parts))() < 1e-12);
    BOOST_TEST(xt::amax(xt::abs(tied - encoder_copy.grad))() > 1e-3);  // neither part alone is enough

    // And finite differences agree with the tied gradient.
    const auto results = gradcheck<double>([&](Tape<double>& t) { return loss(t, W, W); }, {&W, &b1, &b2});
    for (const GradcheckResult& r : results) BOOST_TEST(r.passed, r.parameter << " rel err " << r.max_rel_error);
}

BOOST_FIXTURE_TEST_CASE(gradients_accumulate_across_backward_calls_until_zeroed, TiedFixture) {
    Tape<double> tape;
    tape.backward(loss(tape, W, W));
    const Matrix<double> once = W.grad;
    tape.clear();
    tape.backward(loss(tape, W, W));
    BOOST_TEST(xt::amax(xt::abs(W.grad - 2.0 * once))() < 1e-12);
    W.zero_grad();
    BOOST_TEST(xt::amax(xt::abs(W.grad))() == 0.0);
}

BOOST_FIXTURE_TEST_CASE(retain_graph_allows_a_second_sweep, TiedFixture) {
    Tape<double> tape;
    Var<double> l = loss(tape, W, W);
    tape.backward(l, {.retain_graph = true});
    const Matrix<double> once = W.grad;
    tape.backward(l);
    BOOST_TEST(xt::amax(xt::abs(W.grad - 2.0 * once))() < 1e-12);
}

BOOST_FIXTURE_TEST_CASE(frozen_parameters_get_no_gradient, TiedFixture) {
    W.frozen = true;
    Tape<double> tape;
    tape.backward(loss(tape, W, W));
    BOOST_TEST(xt::amax(xt::abs(W.grad))() == 0.0);
    BOOST_TEST(xt::amax(xt::abs(b1.grad))() > 0.0);  // still reached through h
    BOOST_TEST(xt::amax(xt::abs(b2.grad))() > 0.0);
}

BOOST_AUTO_TEST_CASE(shape_errors_name_the_op_and_both_shapes) {
    Tape<float> tape;
    const Matrix<float> a = random_matrix<float>(3, 4, 1), b = random_matrix<float>(5, 6, 2), bias = random_matrix<float>(1, 7, 3);
    Var<float> A = tape.constant(a), B = tape.constant(b);
    expect_error<ShapeError>([&] { matmul(A, B); }, {"matmul", "(3x4)", "(5x6)", "inner dimensions 4 and 5"});
    expect_error<ShapeError>([&] { matmul(A, B, Trans::T, Trans::N); }, {"matmul", "A^T (3x4)", "inner dimensions 3 and 5"});
    expect_error<ShapeError>([&] { affine(A, A, tape.constant(bias)); }, {"affine", "bias", "(1x7)", "expected bias shape (1x3)"});
    expect_error<ShapeError>([&] { A + B; }, {"add", "(3x4)", "(5x6)", "do not broadcast"});
    expect_error<ShapeError>([&] { A * B; }, {"mul", "(3x4)", "(5x6)"});
    expect_error<ShapeError>([&] { mse(A, B); }, {"mse", "(3x4)", "(5x6)", "must be equal"});
    expect_error<ShapeError>([&] { binary_cross_entropy(A, B); }, {"binary_cross_entropy", "(3x4)", "(5x6)"});
    expect_error<ShapeError>([&] { masked(A, b); }, {"masked", "(5x6)", "(3x4)"});
    expect_error<ShapeError>([&] { sum(A, 2); }, {"sum_axis", "axis", "(3x4)"});
    expect_error<ShapeError>([&] { tape.backward(A, b); }, {"seed", "(5x6)", "(3x4)"});
}

BOOST_AUTO_TEST_CASE(misuse_of_the_tape_is_a_clear_error) {
    Parameter<float> p{"p", random_matrix<float>(3, 4, 1)};
    Tape<float> tape, other;
    Var<float> y = square(tape.parameter(p));
    expect_error<TapeError>([&] { tape.backward(y); }, {"non-scalar root needs a seed", "(3x4)"});
    Var<float> l = sum(y);
    tape.backward(l);
    expect_error<TapeError>([&] { tape.backward(l); }, {"already consumed", "retain_graph"});
    expect_error<TapeError>([&] { square(y); }, {"square", "backward already ran", "clear()"});
    tape.clear();
    expect_error<TapeError>([&] { square(y); }, {"square", "recorded before the last clear()"});
    Var<float> q = other.parameter(p);
    expect_error<TapeError>([&] { tape.parameter(p) + q; }, {"add", "another tape"});
}

BOOST_AUTO_TEST_CASE(anomaly_mode_names_the_first_op_that_produced_nan_or_inf) {
    Parameter<double> p{"p", Matrix<double>{{1.0, -1.0}}};
    Tape<double> tape;
    tape.anomaly_mode = true;
    expect_error<AnomalyError>([&] { log(tape.parameter(p)); }, {"op 'log'", "forward"});

    // A finite forward value with an infinite gradient: d log(x)/dx at a subnormal x.
    Parameter<double> tiny{"tiny", Matrix<double>{{1e-310, 1.0}}};
    tape.clear();
    Var<double> l = sum(log(tape.parameter(tiny)));
    expect_error<AnomalyError>([&] { tape.backward(l); }, {"backward of op 'log'", "gradient of its input 0", "'tiny'"});

    // Off by default: NaN propagates silently, which is why the mode exists.
    Tape<double> quiet;
    BOOST_TEST(std::isnan(log(quiet.parameter(p)).value()(0, 1)));
}

BOOST_FIXTURE_TEST_CASE(graphviz_shows_a_tied_weight_feeding_two_ops, TiedFixture) {
    Tape<double> tape;
    loss(tape, W, W);
    const std::string dot = to_dot(tape, "tied");
    BOOST_TEST(dot.find("digraph \"tied\"") == 0u);
    // W is one leaf with two outgoing edges: the encoder's affine and the decoder's.
    std::size_t w_nodes = 0, pos = 0;
    while ((pos = dot.find("[label=\"W\\n3x6\\nparameter\"", pos)) != std::string::npos) ++w_nodes, ++pos;
    BOOST_TEST(w_nodes == 1u);
    const std::size_t w_index = tape.node(1).parameter == &W ? 1 : 99;
    BOOST_REQUIRE(w_index == 1u);
    std::size_t edges = 0;
    for (pos = 0; (pos = dot.find("n1 -> ", pos)) != std::string::npos; ++pos) ++edges;
    BOOST_TEST(edges == 2u);
    BOOST_TEST(dot.find("affine\\n5x3") != std::string::npos);
    BOOST_TEST(dot.find("affine\\n5x6") != std::string::npos);
    BOOST_TEST(dot.find("mse\\n1x1") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(float_and_double_compute_the_same_step) {
    const Matrix<double> xd = random_matrix<double>(4, 5, 9, 0, 1);
    const Matrix<float> xf = xt::cast<float>(xd);
    Parameter<double> wd{"W", random_matrix<double>(2, 5, 8)};
    Parameter<float> wf{"W", xt::cast<float>(wd.value)};
    Tape<double> td;
    Tape<float> tf;
    const double ld = mse(matmul(sigmoid(matmul(td.constant(xd), td.parameter(wd), Trans::N, Trans::T)), td.parameter(wd)), xd).value()(0, 0);
    const double lf = mse(matmul(sigmoid(matmul(tf.constant(xf), tf.parameter(wf), Trans::N, Trans::T)), tf.parameter(wf)), xf).value()(0, 0);
    BOOST_TEST(std::abs(ld - lf) < 1e-5 * std::abs(ld));
}

BOOST_AUTO_TEST_SUITE_END()
