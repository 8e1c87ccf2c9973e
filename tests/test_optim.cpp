// Optimizers against reference updates written out here as scalar formulas in double, on a
// tiny parameter whose gradient sequence the test sets directly (no tape involved), so an
// error in the update rule cannot hide behind an error in backprop.
#include <boost/test/unit_test.hpp>

#include "tapegrad/optim.hpp"

#include <cmath>
#include <functional>
#include <memory>
#include <vector>

using tg::Matrix;
using tg::Parameter;

namespace {

constexpr double tol = 1e-12;

// Three steps' gradients for a 1 x 3 parameter; signs and magnitudes vary so that momentum
// and the second-moment estimates do non-trivial work.
const std::vector<std::vector<double>> grads = {{0.2, -0.4, 1.5}, {-0.1, 0.3, 0.25}, {0.05, 0.7, -2.0}};
const std::vector<double> initial = {0.5, -1.5, 2.0};

template <class T>
Parameter<T> make_param(const char* name = "p") {
    Matrix<T> v = Matrix<T>::from_shape({1, initial.size()});
    for (std::size_t i = 0; i < initial.size(); ++i) v(0, i) = T(initial[i]);
    return Parameter<T>(name, v);
}

template <class T>
void set_grad(Parameter<T>& p, const std::vector<double>& g) {
    for (std::size_t i = 0; i < g.size(); ++i) p.grad(0, i) = T(g[i]);
}

// Runs `opt` over the gradient sequence and checks p after every step against `reference`,
// which maps (element index, step t = 1, 2, 3) to the expected value.
template <class T>
void check_against(tg::Optimizer<T>& opt, Parameter<T>& p, const std::function<double(std::size_t, int)>& reference,
                   double tolerance) {
    for (int t = 1; t <= int(grads.size()); ++t) {
        set_grad(p, grads[t - 1]);
        opt.step();
        for (std::size_t i = 0; i < initial.size(); ++i)
            BOOST_TEST(double(p.value(0, i)) == reference(i, t), boost::test_tools::tolerance(tolerance));
    }
    BOOST_TEST(opt.steps == std::int64_t(grads.size()));
}

// Reference trajectories: x[t] for t = 0..3 for element i, each rule spelled out on scalars.
std::vector<double> sgd_ref(std::size_t i, double lr) {
    std::vector<double> x{initial[i]};
    for (const auto& g : grads) x.push_back(x.back() - lr * g[i]);
    return x;
}

std::vector<double> momentum_ref(std::size_t i, double lr, double mu, bool nesterov) {
    std::vector<double> x{initial[i]};
    double v = 0;
    for (const auto& g : grads) {
        v = mu * v + g[i];
        const double update = nesterov ? g[i] + mu * v : v;  // PyTorch's formulation
        x.push_back(x.back() - lr * update);
    }
    return x;
}

std::vector<double> rmsprop_ref(std::size_t i, double lr, double rho, double eps) {
    std::vector<double> x{initial[i]};
    double s = 0;
    for (const auto& g : grads) {
        s = rho * s + (1 - rho) * g[i] * g[i];
        x.push_back(x.back() - lr * g[i] / (std::sqrt(s) + eps));
    }
    return x;
}

struct AdamTrace { std::vector<double> x, m, v; };
AdamTrace adam_ref(std::size_t i, double lr, double b1, double b2, double eps) {
    AdamTrace r{{initial[i]}, {0}, {0}};
    for (std::size_t t = 1; t <= grads.size(); ++t) {
        const double g = grads[t - 1][i];
        const double m = b1 * r.m.back() + (1 - b1) * g;
        const double v = b2 * r.v.back() + (1 - b2) * g * g;
        const double m_hat = m / (1 - std::pow(b1, double(t)));
        const double v_hat = v / (1 - std::pow(b2, double(t)));
        r.m.push_back(m);
        r.v.push_back(v);
        r.x.push_back(r.x.back() - lr * m_hat / (std::sqrt(v_hat) + eps));
    }
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(optimizers)

BOOST_AUTO_TEST_CASE(sgd_plain_matches_hand_computation) {
    auto p = make_param<double>();
    tg::SGD<double> opt({&p}, 0.1);
    check_against<double>(opt, p, [](std::size_t i, int t) { return sgd_ref(i, 0.1)[t]; }, tol);
    BOOST_TEST(opt.state().empty());  // plain SGD keeps no state
}

BOOST_AUTO_TEST_CASE(sgd_momentum_matches_hand_computation) {
    auto p = make_param<double>();
    tg::SGD<double> opt({&p}, 0.1, 0.9);
    check_against<double>(opt, p, [](std::size_t i, int t) { return momentum_ref(i, 0.1, 0.9, false)[t]; }, tol);
}

BOOST_AUTO_TEST_CASE(sgd_nesterov_matches_hand_computation) {
    auto p = make_param<double>();
    tg::SGD<double> opt({&p}, 0.1, 0.9, true);
    check_against<double>(opt, p, [](std::size_t i, int t) { return momentum_ref(i, 0.1, 0.9, true)[t]; }, tol);
    // Nesterov must actually differ from classical momentum from step 2 on (v != 0).
    BOOST_TEST(std::abs(momentum_ref(0, 0.1, 0.9, true)[3] - momentum_ref(0, 0.1, 0.9, false)[3]) > 1e-3);
}

BOOST_AUTO_TEST_CASE(rmsprop_matches_hand_computation) {
    auto p = make_param<double>();
    // A large eps makes an eps misplaced (inside the sqrt, or left out) visible at 1e-12.
    tg::RMSProp<double> opt({&p}, 0.01, 0.8, 1e-3);
    check_against<double>(opt, p, [](std::size_t i, int t) { return rmsprop_ref(i, 0.01, 0.8, 1e-3)[t]; }, tol);
}

BOOST_AUTO_TEST_CASE(adam_matches_hand_computation) {
    auto p = make_param<double>();
    // Non-default betas and a large eps so that the bias corrections and eps placement matter.
    tg::Adam<double> opt({&p}, 0.01, 0.8, 0.95, 1e-3);
    check_against<double>(opt, p, [](std::size_t i, int t) { return adam_ref(i, 0.01, 0.8, 0.95, 1e-3).x[t]; }, tol);
}

BOOST_AUTO_TEST_CASE(adam_float32_tracks_double_reference) {
    auto p = make_param<float>();
    tg::Adam<float> opt({&p}, 0.01);
    // float carries ~7 digits; the values are O(1), so 1e-6 relative is a few ulps of slack.
    check_against<float>(opt, p, [](std::size_t i, int t) { return adam_ref(i, 0.01, 0.9, 0.999, 1e-8).x[t]; }, 1e-6);
}

BOOST_AUTO_TEST_CASE(frozen_parameters_are_not_changed) {
    using Params = std::vector<Parameter<double>*>;
    using Factory = std::function<std::unique_ptr<tg::Optimizer<double>>(Params)>;
    const std::vector<Factory> factories = {
        [](Params ps) { return std::make_unique<tg::SGD<double>>(ps, 0.1); },
        [](Params ps) { return std::make_unique<tg::SGD<double>>(ps, 0.1, 0.9); },
        [](Params ps) { return std::make_unique<tg::SGD<double>>(ps, 0.1, 0.9, true); },
        [](Params ps) { return std::make_unique<tg::RMSProp<double>>(ps, 0.1); },
        [](Params ps) { return std::make_unique<tg::Adam<double>>(ps, 0.1); },
    };
    for (std::size_t k = 0; k < factories.size(); ++k) {
        auto frozen = make_param<double>("frozen");
        auto live = make_param<double>("live");
        frozen.frozen = true;
        auto opt = factories[k]({&frozen, &live});
        for (const auto& g : grads) {
            // A frozen parameter normally has a zero gradient; a stale non-zero one must
            // still not move it.
            set_grad(frozen, g);
            set_grad(live, g);
            opt->step();
        }
        for (std::size_t i = 0; i < initial.size(); ++i) {
            BOOST_TEST(frozen.value(0, i) == initial[i], "optimizer " << k);
            BOOST_TEST(live.value(0, i) != initial[i], "optimizer " << k);
        }
    }
}

BOOST_AUTO_TEST_CASE(clip_grad_norm_rescales_and_returns_the_pre_clip_norm) {
    Parameter<double> a("a", Matrix<double>{{3.0, 4.0}});
    Parameter<double> b("b", Matrix<double>{{12.0}});
    a.grad = Matrix<double>{{3.0, 4.0}};
    b.grad = Matrix<double>{{12.0}};
    // Joint norm sqrt(9 + 16 + 144) = 13: clipping to 6.5 halves every entry.
    const double norm = tg::clip_grad_norm<double>({&a, &b}, 6.5);
    BOOST_TEST(norm == 13.0, boost::test_tools::tolerance(tol));
    BOOST_TEST(a.grad(0, 0) == 1.5, boost::test_tools::tolerance(tol));
    BOOST_TEST(a.grad(0, 1) == 2.0, boost::test_tools::tolerance(tol));
    BOOST_TEST(b.grad(0, 0) == 6.0, boost::test_tools::tolerance(tol));

    // Now at norm 6.5, under a max of 10: returned, but left untouched.
    BOOST_TEST(tg::clip_grad_norm<double>({&a, &b}, 10.0) == 6.5, boost::test_tools::tolerance(tol));
    BOOST_TEST(a.grad(0, 0) == 1.5);
    BOOST_TEST(b.grad(0, 0) == 6.0);

    // All-zero gradients: no division by zero.
    a.zero_grad();
    b.zero_grad();
    BOOST_TEST(tg::clip_grad_norm<double>({&a, &b}, 1.0) == 0.0);
    BOOST_TEST(a.grad(0, 0) == 0.0);
}

BOOST_AUTO_TEST_CASE(state_exposes_the_buffers_in_a_fixed_order) {
    auto p = make_param<double>("p");
    auto q = make_param<double>("q");
    tg::Adam<double> opt({&p, &q}, 0.01, 0.8, 0.95, 1e-3);
    for (const auto& g : grads) {
        set_grad(p, g);
        set_grad(q, g);
        opt.step();
    }
    // Slot-major: m of every parameter, then v of every parameter.
    const std::vector<Matrix<double>*> s = opt.state();
    BOOST_REQUIRE_EQUAL(s.size(), 4u);
    for (std::size_t i = 0; i < initial.size(); ++i) {
        const AdamTrace r = adam_ref(i, 0.01, 0.8, 0.95, 1e-3);
        BOOST_TEST((*s[0])(0, i) == r.m.back(), boost::test_tools::tolerance(tol));
        BOOST_TEST((*s[1])(0, i) == r.m.back(), boost::test_tools::tolerance(tol));
        BOOST_TEST((*s[2])(0, i) == r.v.back(), boost::test_tools::tolerance(tol));
        BOOST_TEST((*s[3])(0, i) == r.v.back(), boost::test_tools::tolerance(tol));
    }

    BOOST_TEST(tg::SGD<double>({&p, &q}, 0.1, 0.9).state().size() == 2u);
    BOOST_TEST(tg::RMSProp<double>({&p, &q}, 0.1).state().size() == 2u);
}

BOOST_AUTO_TEST_CASE(state_restored_into_a_fresh_optimizer_resumes_exactly) {
    // Run 2 steps, checkpoint (values, buffers, step count), restore into new objects, and
    // take the 3rd step: it must equal the uninterrupted 3-step run.
    auto p = make_param<double>();
    tg::Adam<double> opt({&p}, 0.01, 0.8, 0.95, 1e-3);
    for (int t = 0; t < 2; ++t) {
        set_grad(p, grads[t]);
        opt.step();
    }
    Parameter<double> resumed("p", p.value);
    tg::Adam<double> fresh({&resumed}, 0.01, 0.8, 0.95, 1e-3);
    const auto from = opt.state(), to = fresh.state();
    BOOST_REQUIRE_EQUAL(from.size(), to.size());
    for (std::size_t k = 0; k < from.size(); ++k) *to[k] = *from[k];
    fresh.steps = opt.steps;

    set_grad(resumed, grads[2]);
    fresh.step();
    for (std::size_t i = 0; i < initial.size(); ++i)
        BOOST_TEST(resumed.value(0, i) == adam_ref(i, 0.01, 0.8, 0.95, 1e-3).x[3], boost::test_tools::tolerance(tol));
}

BOOST_AUTO_TEST_SUITE_END()
