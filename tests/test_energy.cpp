// Energy-defined autoencoders (models/energy.hpp): the decoder nobody wrote is the one the
// background derives. Vincent's (2011) softplus energy trained by denoising score matching IS
// the tied sigmoid denoising autoencoder (loss and every parameter gradient to 1e-12 in
// float64), the quadratic energy IS the linear tied one, and the two-layer energy's
// reconstruction is the deep tied decoder written out by hand here.
#include <boost/test/unit_test.hpp>

#include "test_helpers.hpp"

#include <tapegrad/models/all.hpp>

#include <xtensor-blas/xlinalg.hpp>

#include <algorithm>
#include <cmath>
#include <random>

using namespace tg;
using namespace tg::models;

namespace {

constexpr std::size_t D = 10, K = 4, B = 9;
constexpr double kSigma = 0.3;
constexpr std::uint64_t kNoiseSeed = 99;

// max |a - b| / max |b|: the relative distance the 1e-12 bound is about.
double relative_distance(const Matrix<double>& a, const Matrix<double>& b) {
    BOOST_REQUIRE(shape_of(a) == shape_of(b));
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, std::abs(a.data()[i] - b.data()[i]));
        scale = std::max(scale, std::abs(b.data()[i]));
    }
    BOOST_REQUIRE(scale > 0);  // an all-zero gradient would make the comparison empty
    return diff / scale;
}

void randomize(Parameter<double>& p, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(-0.8, 0.8);
    for (double& v : p.value) v = u(rng);
}

struct Step {
    Matrix<double> loss;
    std::vector<Matrix<double>> grads;  // in the order the caller lists the parameters
};

// One training step's loss and gradients (not applied), on a batch keyed by ids and an epoch
// other than 0, so that the two models must draw the same noise by the same keys.
Step step(Model<double>& m, const Matrix<double>& x, const std::vector<Parameter<double>*>& order) {
    static const std::vector<std::uint64_t> ids = [] {
        std::vector<std::uint64_t> v(B);
        for (std::size_t i = 0; i < B; ++i) v[i] = 1000 + 7 * i;
        return v;
    }();
    for (Parameter<double>* p : m.parameters()) p->zero_grad();
    Tape<double> t;
    Var<double> loss = m.loss(t, Batch<double>(x, ids, 5));
    Step s{loss.value(), {}};
    t.backward(loss);
    for (Parameter<double>* p : order) s.grads.push_back(p->grad);
    return s;
}

void expect_same_step(const Step& got, const Step& want, double bound) {
    double worst = relative_distance(got.loss, want.loss);
    BOOST_TEST(worst <= bound);
    BOOST_REQUIRE(got.grads.size() == want.grads.size());
    for (std::size_t i = 0; i < got.grads.size(); ++i) {
        const double d = relative_distance(got.grads[i], want.grads[i]);
        BOOST_TEST_CONTEXT("parameter " << i) BOOST_TEST(d <= bound);
        worst = std::max(worst, d);
    }
    BOOST_TEST_MESSAGE("largest relative distance of the loss and the gradients: " << worst);
}

Matrix<double> sigmoid_of(const Matrix<double>& z) { return 1.0 / (1.0 + xt::exp(-z)); }

}  // namespace

BOOST_AUTO_TEST_SUITE(energy)

// E = ½‖x‖² − c·x − Σ softplus(Wx + b): x − ∂E/∂x = c + W^T sigmoid(Wx + b).
BOOST_AUTO_TEST_CASE(softplus_energy_is_the_tied_denoising_autoencoder) {
    std::mt19937_64 rng(41);
    const Matrix<double> x = tg_test::random_matrix(rng, B, D, 0, 1);
    EnergyAutoencoder<double> e({.sizes = {D, K}, .kind = EnergyKind::softplus, .sigma = kSigma, .noise_seed = kNoiseSeed, .seed = 3});
    for (Parameter<double>* p : e.parameters()) randomize(*p, rng);
    const Corruption noise{Corruption::Kind::gaussian, kSigma, kNoiseSeed};
    DenoisingAutoencoder<double> tied(AutoencoderConfig{.input = D, .code = K, .encoder = Activation::sigmoid, .seed = 5}, noise);
    tied.W.value = e.weights[0].value;
    tied.b1.value = e.biases[0].value;
    tied.b2.value = e.visible_bias.value;

    const Step from_energy = step(e, x, {&e.weights[0], &e.biases[0], &e.visible_bias});
    const Step written = step(tied, x, {&tied.W, &tied.b1, &tied.b2});
    BOOST_TEST(from_energy.loss(0, 0) > 1e-2);
    expect_same_step(from_energy, written, 1e-12);

    // The comparison sees a decoder that is not exactly W^T: an untied one 1e-6 away differs.
    DenoisingAutoencoder<double> untied(
        AutoencoderConfig{.input = D, .code = K, .encoder = Activation::sigmoid, .tied = false, .seed = 5}, noise);
    untied.W.value = tied.W.value;
    untied.b1.value = tied.b1.value;
    untied.b2.value = tied.b2.value;
    untied.W2->value = xt::transpose(tied.W.value) + 1e-6;
    const Step near = step(untied, x, {&untied.W, &untied.b1, &untied.b2});
    BOOST_TEST(relative_distance(near.grads[1], written.grads[1]) > 1e-9);
}

// E = ½‖x‖² − c·x − ½‖Wx + b‖²: x − ∂E/∂x = c + W^T (Wx + b), the linear tied autoencoder.
BOOST_AUTO_TEST_CASE(quadratic_energy_is_the_linear_tied_denoising_autoencoder) {
    std::mt19937_64 rng(43);
    const Matrix<double> x = tg_test::random_matrix(rng, B, D, 0, 1);
    EnergyAutoencoder<double> e({.sizes = {D, K}, .kind = EnergyKind::quadratic, .sigma = kSigma, .noise_seed = kNoiseSeed, .seed = 3});
    for (Parameter<double>* p : e.parameters()) randomize(*p, rng);
    DenoisingAutoencoder<double> linear(AutoencoderConfig{.input = D, .code = K, .encoder = Activation::identity, .seed = 5},
                                        Corruption{Corruption::Kind::gaussian, kSigma, kNoiseSeed});
    linear.W.value = e.weights[0].value;
    linear.b1.value = e.biases[0].value;
    linear.b2.value = e.visible_bias.value;
    expect_same_step(step(e, x, {&e.weights[0], &e.biases[0], &e.visible_bias}),
                     step(linear, x, {&linear.W, &linear.b1, &linear.b2}), 1e-12);
}

// Two softplus layers: r(x) = c + W1^T [h1 + σ'(z1) ⊙ W2^T sigmoid(z2)], written out here in
// plain xtensor, against the tape's x − ∂E/∂x.
BOOST_AUTO_TEST_CASE(two_layer_energy_derives_a_deep_tied_decoder) {
    constexpr std::size_t K2 = 3;
    std::mt19937_64 rng(47);
    const Matrix<double> x = tg_test::random_matrix(rng, B, D, 0, 1);
    EnergyAutoencoder<double> e({.sizes = {D, K, K2}, .kind = EnergyKind::softplus, .seed = 3});
    for (Parameter<double>* p : e.parameters()) randomize(*p, rng);
    const Matrix<double>&W1 = e.weights[0].value, &W2 = e.weights[1].value;
    const Matrix<double> z1 = xt::linalg::dot(x, xt::transpose(W1)) + e.biases[0].value;
    const Matrix<double> h1 = sigmoid_of(z1);
    const Matrix<double> s2 = sigmoid_of(Matrix<double>(xt::linalg::dot(h1, xt::transpose(W2)) + e.biases[1].value));
    const Matrix<double> inner = h1 + h1 * (1.0 - h1) * xt::linalg::dot(s2, W2);
    const Matrix<double> by_hand = xt::linalg::dot(inner, W1) + e.visible_bias.value;

    Tape<double> t;
    const Matrix<double> derived = e.reconstruct(t, x).value();
    BOOST_TEST(relative_distance(derived, by_hand) <= 1e-12);
    // The second layer matters: without its term the reconstruction is another one.
    const Matrix<double> one_layer = xt::linalg::dot(h1, W1) + e.visible_bias.value;
    BOOST_TEST(relative_distance(one_layer, by_hand) > 1e-3);
    // The code is the top layer's units.
    BOOST_TEST(relative_distance(Matrix<double>(e.code(t, x).value()), s2) <= 1e-15);
}

BOOST_AUTO_TEST_CASE(bad_configurations_are_refused) {
    tg_test::expect_error<std::invalid_argument>(
        [] { EnergyAutoencoder<double>({.sizes = {D}}); }, {"energy autoencoder", "at least one layer"});
    tg_test::expect_error<std::invalid_argument>(
        [] { EnergyAutoencoder<double>({.sizes = {D, K}, .sigma = -0.1}); }, {"energy", "sigma", "negative"});
}

BOOST_AUTO_TEST_SUITE_END()
