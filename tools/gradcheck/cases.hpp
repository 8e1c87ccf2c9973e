#pragma once
// The gradient-check cases: every op of the framework (in every operand layout that has its
// own backward code path) and every model, each as a scalar loss of float64 parameters.
// An op with a non-scalar output is reduced by a fixed random weighting, sum(y * R), so every
// entry of its Jacobian is exercised.
#include <tapegrad/tapegrad.hpp>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace tg::gradcheck_cases {

using D = double;

// A case owns its parameters and knows how to record its loss.
struct Case {
    std::string name;
    std::string family;  // linear, elementwise, activation, derivative, reduction, loss, model, control
    std::vector<std::unique_ptr<Parameter<D>>> owned;
    std::vector<Parameter<D>*> parameters;
    std::function<Var<D>(Tape<D>&)> loss;
    bool expect_failure = false;  // the negative control
    std::shared_ptr<void> keep_alive;  // models and constants the loss refers to
};

// Random values in [lo, hi]; `away_from` keeps |x - away_from| >= 0.1 so kinks (abs, relu)
// stay out of the finite-difference stencil.
inline Matrix<D> random_matrix(std::mt19937_64& rng, std::size_t r, std::size_t c, double lo = -1, double hi = 1,
                               double away_from = std::numeric_limits<double>::quiet_NaN()) {
    std::uniform_real_distribution<double> u(lo, hi);
    Matrix<D> m = Matrix<D>::from_shape({r, c});
    for (D& v : m) {
        do v = u(rng);
        while (!std::isnan(away_from) && std::abs(v - away_from) < 0.1);
    }
    return m;
}

std::vector<Case> op_cases();
std::vector<Case> model_cases();
Case negative_control();

}  // namespace tg::gradcheck_cases
