// The variational autoencoder (models/vae.hpp): its two terms of −ELBO against the formulas
// written out here in plain xtensor (with the same counter-based ε), and its noise keyed by
// sample and epoch, not by position in the batch.
#include <boost/test/unit_test.hpp>

#include "test_helpers.hpp"

#include <tapegrad/models/vae.hpp>

#include <xtensor-blas/xlinalg.hpp>

#include <cmath>
#include <numeric>
#include <random>

using namespace tg;
using namespace tg::models;

namespace {

constexpr std::size_t D = 7, H = 5, K = 3, B = 6;

void randomize(Model<double>& m, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(-0.7, 0.7);
    for (Parameter<double>* p : m.parameters())
        for (double& v : p->value) v = u(rng);
}

Matrix<double> relu_of(const Matrix<double>& z) { return xt::maximum(z, 0.0); }
Matrix<double> layer(const Matrix<double>& x, const Parameter<double>& w, const Parameter<double>& b) {
    return xt::linalg::dot(x, xt::transpose(w.value)) + b.value;
}

struct Terms { double reconstruction = 0, kl = 0; };

// −ELBO's two terms by hand: per example, averaged over the rows.
Terms by_hand(const VariationalAutoencoder<double>& m, const Matrix<double>& x, std::span<const std::uint64_t> ids,
              std::uint64_t epoch) {
    const Matrix<double> h = relu_of(layer(x, m.W1, m.b1));
    const Matrix<double> mu = layer(h, m.Wmu, m.bmu), log_var = layer(h, m.Wlv, m.blv);
    Matrix<double> eps = xt::zeros<double>({x.shape()[0], K});
    random::add_gaussian_rows(eps, ids, m.config.noise_seed, epoch, 1.0, eps);
    const Matrix<double> z = mu + xt::exp(0.5 * log_var) * eps;
    const Matrix<double> out = layer(relu_of(layer(z, m.V1, m.c1)), m.V2, m.c2);
    Terms t;
    for (std::size_t b = 0; b < x.shape()[0]; ++b) {
        for (std::size_t i = 0; i < D; ++i) {
            const double a = out(b, i), p = 1 / (1 + std::exp(-a));
            t.reconstruction += m.config.likelihood == Likelihood::bernoulli
                                    ? -(x(b, i) * std::log(p) + (1 - x(b, i)) * std::log(1 - p))
                                    : 0.5 * (x(b, i) - a) * (x(b, i) - a);
        }
        for (std::size_t k = 0; k < K; ++k)
            t.kl += 0.5 * (mu(b, k) * mu(b, k) + std::exp(log_var(b, k)) - 1 - log_var(b, k));
    }
    t.reconstruction /= double(x.shape()[0]);
    t.kl /= double(x.shape()[0]);
    return t;
}

Terms recorded(VariationalAutoencoder<double>& m, const Matrix<double>& x, std::span<const std::uint64_t> ids,
               std::uint64_t epoch) {
    Tape<double> t;
    const auto terms = m.elbo_terms(t, Batch<double>(x, ids, epoch));
    return {terms[0].value()(0, 0), terms[1].value()(0, 0)};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(vae)

BOOST_AUTO_TEST_CASE(elbo_terms_are_the_formulas) {
    std::mt19937_64 rng(23);
    const Matrix<double> x = tg_test::random_matrix(rng, B, D, 0, 1);
    std::vector<std::uint64_t> ids(B);
    std::iota(ids.begin(), ids.end(), std::uint64_t{40});
    for (Likelihood likelihood : {Likelihood::bernoulli, Likelihood::gaussian}) {
        BOOST_TEST_CONTEXT((likelihood == Likelihood::bernoulli ? "Bernoulli" : "Gaussian")) {
            VariationalAutoencoder<double> m(
                {.input = D, .hidden = H, .code = K, .likelihood = likelihood, .noise_seed = 9, .seed = 2});
            randomize(m, rng);
            const Terms want = by_hand(m, x, ids, 3), got = recorded(m, x, ids, 3);
            BOOST_TEST(want.kl > 1e-2);
            BOOST_TEST(got.reconstruction == want.reconstruction, boost::test_tools::tolerance(1e-12));
            BOOST_TEST(got.kl == want.kl, boost::test_tools::tolerance(1e-12));
            Tape<double> t;
            BOOST_TEST(m.loss(t, Batch<double>(x, ids, 3)).value()(0, 0) == want.reconstruction + want.kl,
                       boost::test_tools::tolerance(1e-12));
        }
    }
}

// A sample's ε follows it: the same rows in another order give the same terms; another epoch
// draws other noise.
BOOST_AUTO_TEST_CASE(noise_is_keyed_by_sample_and_epoch) {
    std::mt19937_64 rng(29);
    const Matrix<double> x = tg_test::random_matrix(rng, B, D, 0, 1);
    std::vector<std::uint64_t> ids(B);
    std::iota(ids.begin(), ids.end(), std::uint64_t{100});
    VariationalAutoencoder<double> m({.input = D, .hidden = H, .code = K, .seed = 2});
    randomize(m, rng);
    Matrix<double> reversed = x;
    std::vector<std::uint64_t> reversed_ids(ids.rbegin(), ids.rend());
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t i = 0; i < D; ++i) reversed(b, i) = x(B - 1 - b, i);
    const Terms a = recorded(m, x, ids, 1), b = recorded(m, reversed, reversed_ids, 1), c = recorded(m, x, ids, 2);
    BOOST_TEST(a.reconstruction == b.reconstruction, boost::test_tools::tolerance(1e-13));
    BOOST_TEST(a.kl == b.kl, boost::test_tools::tolerance(1e-13));
    BOOST_TEST(std::abs(a.reconstruction - c.reconstruction) > 1e-6);
}

BOOST_AUTO_TEST_CASE(generates_from_codes_and_refuses_empty_sizes) {
    VariationalAutoencoder<double> m({.input = D, .hidden = H, .code = 2, .seed = 2});
    BOOST_TEST(m.latent_size() == 2u);
    Tape<double> t;
    const Matrix<double> z = xt::zeros<double>({4, 2});
    const Matrix<double> images = m.generate(t, z).value();
    BOOST_TEST(images.shape()[0] == 4u);
    BOOST_TEST(images.shape()[1] == D);
    BOOST_TEST(xt::amin(images)() > 0.0);  // Bernoulli means: probabilities
    tg_test::expect_error<std::invalid_argument>([] { VariationalAutoencoder<double>({.input = D, .hidden = H, .code = 0}); },
                                                 {"vae", "positive"});
}

BOOST_AUTO_TEST_SUITE_END()
