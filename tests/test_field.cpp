// The field study's measurement (studies/field.hpp): the Jacobian of a reconstruction, taken by
// tg::jacobian through each model's reconstruction map, and its relative asymmetry. The
// one-layer tied autoencoder's J = W^T diag(σ'(z)) W is symmetric, so its asymmetry is rounding;
// an energy model's J = I − ∇²E likewise; an untied one's, or a deep tied one's, is not.
#include <boost/test/unit_test.hpp>

#include "test_helpers.hpp"

#include <tapegrad/models/all.hpp>
#include <tapegrad/studies/field.hpp>

#include <random>

using namespace tg;
using namespace tg::models;

namespace {

constexpr std::size_t D = 12, K = 5, N = 5;

void randomize(Model<double>& m, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(-0.8, 0.8);
    for (Parameter<double>* p : m.parameters())
        for (double& v : p->value) v = u(rng);
}

// The largest asymmetry over the rows of x, each J taken in chunks of 2 rows (a last chunk of 1).
double worst_asymmetry(Model<double>& m, const Matrix<double>& x) {
    double worst = 0;
    for (const Matrix<double>& j : studies::reconstruction_jacobians(m, x, 2))
        worst = std::max(worst, studies::relative_asymmetry(j));
    BOOST_TEST_MESSAGE(m.describe() << ": largest relative asymmetry " << worst);
    return worst;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(field)

BOOST_AUTO_TEST_CASE(jacobians_are_the_closed_form_of_the_one_layer_tied_model) {
    std::mt19937_64 rng(5);
    const Matrix<double> x = tg_test::random_matrix(rng, N, D, 0, 1);
    Autoencoder<double> m(AutoencoderConfig{.input = D, .code = K, .encoder = Activation::sigmoid, .seed = 2});
    randomize(m, rng);
    const std::vector<Matrix<double>> js = studies::reconstruction_jacobians(m, x, 2);
    BOOST_REQUIRE(js.size() == N);
    for (std::size_t b = 0; b < N; ++b) {
        double worst = 0;
        for (std::size_t k = 0; k < D; ++k)
            for (std::size_t i = 0; i < D; ++i) {
                double want = 0;  // sum_j W_jk σ'(z_j) W_ji
                for (std::size_t j = 0; j < K; ++j) {
                    double z = m.b1.value(0, j);
                    for (std::size_t l = 0; l < D; ++l) z += m.W.value(j, l) * x(b, l);
                    const double s = 1 / (1 + std::exp(-z));
                    want += m.W.value(j, k) * s * (1 - s) * m.W.value(j, i);
                }
                worst = std::max(worst, std::abs(js[b](k, i) - want));
            }
        BOOST_TEST(worst <= 1e-14);
    }
}

BOOST_AUTO_TEST_CASE(one_layer_tied_and_energy_fields_are_symmetric_to_rounding) {
    std::mt19937_64 rng(7);
    const Matrix<double> x = tg_test::random_matrix(rng, N, D, 0, 1);
    Autoencoder<double> tied(AutoencoderConfig{.input = D, .code = K, .encoder = Activation::sigmoid, .seed = 2});
    EnergyAutoencoder<double> two_layer({.sizes = {D, K, 3}, .kind = EnergyKind::softplus, .seed = 2});
    Autoencoder<double> untied(AutoencoderConfig{.input = D, .code = K, .encoder = Activation::sigmoid, .tied = false, .seed = 2});
    StackedAutoencoder<double> deep_tied({D, K, 3}, Activation::sigmoid, true, false, 2);
    for (Model<double>* m : std::initializer_list<Model<double>*>{&tied, &two_layer, &untied, &deep_tied}) randomize(*m, rng);
    BOOST_TEST(worst_asymmetry(tied, x) <= 1e-14);
    BOOST_TEST(worst_asymmetry(two_layer, x) <= 1e-14);
    // Not gradient fields: an untied decoder, and tied weights two layers deep.
    BOOST_TEST(worst_asymmetry(untied, x) >= 0.1);
    BOOST_TEST(worst_asymmetry(deep_tied, x) >= 1e-3);
}

// A user's model that defines only `reconstruct` (as README's example does) still trains and
// evaluates; asked for the map, it says what is missing.
BOOST_AUTO_TEST_CASE(a_model_without_a_differentiable_map_says_so) {
    struct Scaling : Model<double> {
        Parameter<double> a{"a", Matrix<double>::from_shape({1, 1})};
        std::vector<Parameter<double>*> parameters() override { return {&a}; }
        Var<double> loss(Tape<double>& t, const Batch<double>& b) override { return mse(reconstruct(t, b.x), b.x); }
        Var<double> reconstruct(Tape<double>& t, const Matrix<double>& x) override { return t.constant(x) * t.parameter(a); }
        std::string describe() const override { return "scaling"; }
    } scaling;
    const Matrix<double> x = Matrix<double>::from_shape({1, 3});
    tg_test::expect_error<std::logic_error>([&] { studies::reconstruction_jacobians(scaling, x); },
                                            {"scaling", "no differentiable reconstruction map"});
}

BOOST_AUTO_TEST_SUITE_END()
