#include <boost/test/unit_test.hpp>

#include "tapegrad/pca.hpp"

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

using tg::Matrix;

namespace {

// A random orthonormal basis (rows) of R^d, by Gram-Schmidt on Gaussian vectors.
Matrix<double> random_orthonormal(std::size_t d, std::mt19937_64& rng) {
    std::normal_distribution<double> g(0, 1);
    Matrix<double> q = tg::make_matrix<double>(d, d);
    for (std::size_t r = 0; r < d; ++r) {
        for (std::size_t j = 0; j < d; ++j) q(r, j) = g(rng);
        for (int pass = 0; pass < 2; ++pass)  // twice: one pass loses orthogonality to rounding
            for (std::size_t p = 0; p < r; ++p) {
                double dot = 0;
                for (std::size_t j = 0; j < d; ++j) dot += q(r, j) * q(p, j);
                for (std::size_t j = 0; j < d; ++j) q(r, j) -= dot * q(p, j);
            }
        double norm = 0;
        for (std::size_t j = 0; j < d; ++j) norm += q(r, j) * q(r, j);
        for (std::size_t j = 0; j < d; ++j) q(r, j) /= std::sqrt(norm);
    }
    return q;
}

// n samples whose variance along basis row i is stddev[i]^2 (0 beyond the list), shifted by a
// non-zero mean.
struct Planted {
    Matrix<double> X, basis;
    std::vector<double> stddev;
};

Planted planted_data(std::size_t n, std::size_t d, std::vector<double> stddev, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Planted p{tg::make_matrix<double>(n, d), random_orthonormal(d, rng), std::move(stddev)};
    std::normal_distribution<double> g(0, 1);
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < d; ++j) p.X(i, j) = 0.5 + 0.1 * double(j);
        for (std::size_t c = 0; c < p.stddev.size(); ++c) {
            const double z = p.stddev[c] * g(rng);
            for (std::size_t j = 0; j < d; ++j) p.X(i, j) += z * p.basis(c, j);
        }
    }
    return p;
}

double row_dot(const Matrix<double>& a, std::size_t i, const Matrix<double>& b, std::size_t j) {
    double s = 0;
    for (std::size_t c = 0; c < a.shape()[1]; ++c) s += a(i, c) * b(j, c);
    return s;
}

double sum_sq_diff(const Matrix<double>& a, const Matrix<double>& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += (a.data()[i] - b.data()[i]) * (a.data()[i] - b.data()[i]);
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pca)

BOOST_AUTO_TEST_CASE(both_methods_agree_and_components_are_orthonormal) {
    // A full-rank spectrum with well separated values, so every component is well defined.
    std::vector<double> stddev;
    for (int i = 0; i < 12; ++i) stddev.push_back(10.0 * std::pow(0.7, i));
    const Planted p = planted_data(2000, 12, stddev, 11);
    const tg::Pca a = tg::fit_pca(p.X, 6, tg::PcaMethod::covariance_eigh);
    const tg::Pca b = tg::fit_pca(p.X, 6, tg::PcaMethod::svd);
    BOOST_REQUIRE_EQUAL(a.components.shape()[0], 6u);
    BOOST_REQUIRE_EQUAL(a.components.shape()[1], 12u);
    for (std::size_t c = 0; c < 6; ++c) {
        BOOST_TEST(a.singular_values[c] == b.singular_values[c], boost::test_tools::tolerance(1e-9));
        BOOST_TEST(a.explained_variance[c] == b.explained_variance[c], boost::test_tools::tolerance(1e-9));
        if (c > 0) BOOST_TEST(a.singular_values[c] < a.singular_values[c - 1]);
        for (std::size_t j = 0; j < 12; ++j)
            BOOST_TEST(std::abs(a.components(c, j) - b.components(c, j)) < 1e-8);  // same sign too
        for (std::size_t e = 0; e < 6; ++e)
            BOOST_TEST(std::abs(row_dot(a.components, c, a.components, e) - (c == e ? 1.0 : 0.0)) < 1e-12);
    }
    BOOST_TEST(a.total_variance == b.total_variance, boost::test_tools::tolerance(1e-12));
    for (std::size_t j = 0; j < 12; ++j) BOOST_TEST(a.mean(0, j) == b.mean(0, j));
}

BOOST_AUTO_TEST_CASE(recovers_planted_directions_and_variances) {
    const std::vector<double> stddev{5.0, 3.0, 2.0};
    const Planted p = planted_data(20000, 30, stddev, 5);
    for (tg::PcaMethod m : {tg::PcaMethod::covariance_eigh, tg::PcaMethod::svd}) {
        const tg::Pca fit = tg::fit_pca(p.X, 3, m);
        for (std::size_t c = 0; c < 3; ++c) {
            BOOST_TEST(std::abs(row_dot(fit.components, c, p.basis, c)) > 0.999);
            // Sample variance of 20000 Gaussian draws: within a few percent of the truth.
            BOOST_TEST(fit.explained_variance[c] == stddev[c] * stddev[c], boost::test_tools::tolerance(0.05));
        }
        // The data lies in the planted 3-d subspace: nothing is left over.
        BOOST_TEST(fit.total_variance == fit.explained_variance[0] + fit.explained_variance[1] + fit.explained_variance[2],
                   boost::test_tools::tolerance(1e-9));
        BOOST_TEST(std::abs(fit.mean(0, 7) - 1.2) < 0.1);
    }
}

BOOST_AUTO_TEST_CASE(reconstruction_error_is_the_discarded_variance) {
    std::vector<double> stddev;
    for (int i = 0; i < 10; ++i) stddev.push_back(1.0 + i);
    const Planted p = planted_data(500, 10, stddev, 3);
    const tg::Pca full = tg::fit_pca(p.X, 10, tg::PcaMethod::svd);
    // All components kept: the round trip is the identity up to rounding.
    BOOST_TEST(sum_sq_diff(tg::pca_reconstruct(full, p.X), p.X) < 1e-20 * double(p.X.size()));
    for (std::size_t k : {1u, 4u, 9u}) {
        const tg::Pca fit = tg::fit_pca(p.X, k, tg::PcaMethod::covariance_eigh);
        double kept = 0;
        for (double s : fit.singular_values) kept += s * s;
        const double discarded = fit.total_variance * double(p.X.shape()[0] - 1) - kept;
        BOOST_TEST(sum_sq_diff(tg::pca_reconstruct(fit, p.X), p.X) == discarded, boost::test_tools::tolerance(1e-8));
        const Matrix<double> codes = tg::pca_encode(fit, p.X);
        BOOST_REQUIRE_EQUAL(codes.shape()[1], k);
    }
}

BOOST_AUTO_TEST_CASE(float_reconstruction_matches_double) {
    const Planted p = planted_data(300, 16, {4.0, 2.0, 1.0, 0.5}, 9);
    const tg::Pca fit = tg::fit_pca(p.X, 2);
    Matrix<float> xf = tg::make_matrix<float>(300, 16);
    for (std::size_t i = 0; i < p.X.size(); ++i) xf.data()[i] = float(p.X.data()[i]);
    const Matrix<float> rf = tg::pca_reconstruct(fit, xf);
    const Matrix<double> rd = tg::pca_reconstruct(fit, p.X);
    double worst = 0;
    for (std::size_t i = 0; i < rd.size(); ++i) worst = std::max(worst, std::abs(double(rf.data()[i]) - rd.data()[i]));
    BOOST_TEST(worst < 1e-4);
}

BOOST_AUTO_TEST_CASE(sign_is_deterministic_and_bad_arguments_throw) {
    const Planted p = planted_data(100, 8, {3.0, 1.0}, 1);
    const tg::Pca fit = tg::fit_pca(p.X, 2);
    for (std::size_t c = 0; c < 2; ++c) {
        double biggest = 0;
        for (std::size_t j = 0; j < 8; ++j)
            if (std::abs(fit.components(c, j)) > std::abs(biggest)) biggest = fit.components(c, j);
        BOOST_TEST(biggest > 0);
    }
    BOOST_CHECK_THROW(tg::fit_pca(p.X, 0), std::invalid_argument);
    BOOST_CHECK_THROW(tg::fit_pca(p.X, 9), std::invalid_argument);
    BOOST_CHECK_THROW(tg::fit_pca(tg::make_matrix<double>(1, 8), 1), std::invalid_argument);
    Matrix<double> bad = p.X;
    bad(3, 3) = std::nan("");
    BOOST_CHECK_THROW(tg::fit_pca(bad, 1, tg::PcaMethod::svd), std::runtime_error);
    BOOST_CHECK_THROW(tg::pca_reconstruct(fit, tg::make_matrix<double>(2, 7)), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
