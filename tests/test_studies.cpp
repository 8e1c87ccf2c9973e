// The two studies on small cases: a regularized linear autoencoder recovers each principal
// direction and the closed-form decoder singular values; without the penalty it recovers the
// subspace only. The step-function data, model and measurements behave as the study needs.
#include <boost/test/unit_test.hpp>

#include <tapegrad/studies/lae.hpp>
#include <tapegrad/studies/step.hpp>

using namespace tg;
namespace ts = tg::studies;  // the suite below is also called "studies"

BOOST_AUTO_TEST_SUITE(studies)

namespace {
// 20 dimensions, variances 0.6^i, 4 code units; lambda takes a third of the weakest kept
// direction's variance (sigma_4 = sqrt(2/3)) so the four singular values are well apart.
struct SmallLae {
    static constexpr std::size_t N = 2000, D = 20, k = 4;
    Matrix<double> X = ts::synthetic_data(N, D, 0.6, 11);
    Pca pca = fit_pca(X, k, PcaMethod::svd);
    double lambda = pca.singular_values[k - 1] * pca.singular_values[k - 1] / double(N) / double(D) / 3.0;

    ts::Comparison train(double penalty) {
        models::LinearAutoencoder<double> lae({.input = D, .code = k, .lambda = penalty, .seed = 3});
        ts::train_lae(lae, X, {.steps = 6000, .lr = 1e-2, .lr_final = 1e-5});
        ts::Comparison c = ts::compare_decoder(lae.W2.value, pca, penalty);
        BOOST_TEST_MESSAGE("lambda " << penalty << ": max angle " << c.max_angle_deg << " deg, min |cos| "
                                     << c.min_abs_cos << ", max sigma error " << c.max_sigma_error);
        return c;
    }
};
}  // namespace

BOOST_AUTO_TEST_CASE(regularized_lae_recovers_each_principal_direction) {
    SmallLae s;
    const ts::Comparison c = s.train(s.lambda);
    for (std::size_t i = 0; i < SmallLae::k; ++i) {
        BOOST_TEST_CONTEXT("direction " << i) {
            BOOST_TEST(c.abs_cos[i] > 0.999);
            BOOST_TEST(std::abs(c.sigma[i] - c.sigma_expected[i]) < 1e-3);
        }
    }
    BOOST_TEST(c.max_angle_deg < 1.0);
}

BOOST_AUTO_TEST_CASE(unregularized_lae_finds_the_subspace_but_not_the_directions) {
    SmallLae s;
    const ts::Comparison c = s.train(0.0);
    BOOST_TEST(c.max_angle_deg < 1.0);  // the subspace is right ...
    BOOST_TEST(c.min_abs_cos < 0.99);   // ... but some individual direction is not
}

BOOST_AUTO_TEST_CASE(closed_form_uses_the_per_entry_normalisation) {
    // sigma_i = sqrt(1 - lambda N D / s_i^2): lambda = s^2 / (2 N D) gives sqrt(1/2).
    Pca p;
    p.singular_values = {4.0};
    p.samples = 8;
    const std::vector<double> s = ts::closed_form_sigma(p, 16.0 / (2 * 8 * 2), 2);
    BOOST_TEST(s[0] == std::sqrt(0.5), boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(step_functions_are_the_studys_data) {
    const Matrix<float> x = ts::step_functions<float>(128);
    BOOST_TEST(x.shape()[0] == 129u);
    BOOST_TEST(x.shape()[1] == 128u);
    BOOST_TEST(x(0, 0) == 5.0f);     // p = 1: all fives
    BOOST_TEST(x(128, 127) == 0.0f);  // p = 129: all zeros
    BOOST_TEST(x(9, 8) == 0.0f);      // p = 10: x_9 = 0, x_10 = 5
    BOOST_TEST(x(9, 9) == 5.0f);
    const Matrix<float> c = ts::centred_columns(x);
    for (std::size_t j = 0; j < 128; ++j) {
        double sum = 0;
        for (std::size_t i = 0; i < 129; ++i) sum += c(i, j);
        BOOST_TEST(std::abs(sum) < 1e-3);
    }
}

BOOST_AUTO_TEST_CASE(frozen_encoder_code_is_exactly_linear_and_stays_frozen) {
    ts::StepRunOptions o;
    o.model.frozen_encoder = true;
    o.epochs = 300;
    o.lr = 1e-3;
    ts::StepTrainer<double> t(o);
    const Matrix<double> w1 = t.model.w1.value;
    const double first = t.step();
    double last = first;
    for (int e = 1; e < 300; ++e) last = t.step();
    BOOST_TEST(last < 0.5 * first);
    BOOST_TEST(t.model.w1.value == w1);
    std::vector<double> code;
    Matrix<double> r;
    t.evaluate(code, r);
    std::vector<double> p;
    for (std::size_t i = 0; i < code.size(); ++i) p.push_back(double(i + 1));
    const ts::LineFit f = ts::fit_line(p, code);
    BOOST_TEST(f.r2 > 1 - 1e-12);
    BOOST_TEST(f.slope == -5 * o.model.frozen_w1, boost::test_tools::tolerance(1e-9));  // z = 0.05 (129 - p)
    BOOST_TEST(ts::strictly_monotonic(code));
}

BOOST_AUTO_TEST_CASE(short_study_run_learns_and_measures) {
    ts::StepRunOptions o;
    o.epochs = 2000;
    o.lr = 1e-3;
    o.log_every = 100;
    const ts::StepRunResult r = ts::run_step_study<float>(o);
    BOOST_TEST(r.loss_values.size() == 20u);
    BOOST_TEST(r.final_mse < 0.5 * r.loss_values.front());
    BOOST_TEST(r.error_per_position.size() == 129u);
    BOOST_TEST_MESSAGE("code against step position after 2000 steps: R^2 = " << r.code_fit.r2 << ", slope "
                       << r.code_fit.slope);
    // R^2 in [0, 1] always holds, so the bound is what is measured (0.9446, AVX2 and float32)
    // less a margin: 2000 steps already lay the one-unit code out linearly in the step position.
    BOOST_TEST(r.code_fit.r2 >= 0.9);
}

BOOST_AUTO_TEST_CASE(line_fit_and_monotonicity) {
    const ts::LineFit f = ts::fit_line({1, 2, 3, 4}, {3, 5, 7, 9});
    BOOST_TEST(f.slope == 2.0, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(f.intercept == 1.0, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(f.r2 == 1.0, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(ts::strictly_monotonic({3, 2, 1}));
    BOOST_TEST(!ts::strictly_monotonic({1, 2, 2}));
}

BOOST_AUTO_TEST_SUITE_END()
