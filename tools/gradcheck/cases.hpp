#pragma once
// The gradient-check cases: every op of the framework (in every operand layout that has its
// own backward code path, with each operand in turn as data) and every model, each as a scalar
// loss. A case is recorded twice, in float64 (checked against finite differences) and in
// float32 at the same values (its gradients compared with float64's). An op with a non-scalar
// output is reduced by a fixed random weighting, sum(y * R), so every entry of its Jacobian is
// exercised.
#include <tapegrad/tapegrad.hpp>

#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace tg::gradcheck_cases {

using D = double;

// One precision's recording of a case: it owns (or refers to) its parameters.
template <class T>
struct Instance {
    std::vector<std::unique_ptr<Parameter<T>>> owned;
    std::vector<Parameter<T>*> parameters;
    std::function<Var<T>(Tape<T>&)> loss;
    std::shared_ptr<void> keep_alive;  // models and constants the loss refers to
};

// Which check a negative control must fail (and the others it must pass).
enum class Control {
    none,              // an ordinary case: every check must pass
    wrong_everywhere,  // gradcheck must fail every entry's parameter
    wrong_one_entry,   // gradcheck must fail the second parameter only (one entry off by 1 %)
    wrong_in_float32,  // float64 correct; float32's gradient off by 0.1 %: the precision check must fail
    wrong_second_order,     // first order right (rules agree with backward); the second-order check must fail
    wrong_rule_when_data,   // an operand is data and the rule drops a term: the rule agreement must fail
    wrong_when_accumulated, // right onto a zero gradient, overwrites one that holds values: the
                            // accumulated path must fail, the fresh one pass
};

struct Case {
    std::string name;
    std::string family;  // linear, elementwise, activation, derivative, reduction, loss, model, control
    Instance<double> f64;
    Instance<float> f32;  // the same values as f64's (which are float-representable)
    Control control = Control::none;
    bool higher_order = true;  // check the rules in ops and the second order (not a trained checkpoint)
    bool third_order = false;  // also differentiate twice more
};

// Random values in [lo, hi], rounded to float so that float32 and float64 see the same point;
// `away_from` keeps |x - away_from| >= 0.1 so kinks (abs, relu) stay out of the
// finite-difference stencil.
inline Matrix<D> random_matrix(std::mt19937_64& rng, std::size_t r, std::size_t c, double lo = -1, double hi = 1,
                               double away_from = std::numeric_limits<double>::quiet_NaN()) {
    std::uniform_real_distribution<double> u(lo, hi);
    Matrix<D> m = Matrix<D>::from_shape({r, c});
    for (D& v : m) {
        do v = double(float(u(rng)));
        while (!std::isnan(away_from) && std::abs(v - away_from) < 0.1);
    }
    return m;
}

// ||a - b|| / ||b|| (Frobenius); 0 when both are zero, infinite when only b is.
inline double normwise_relative(const Matrix<D>& a, const Matrix<D>& b) {
    const double diff = std::sqrt(double(xt::sum(xt::square(a - b))())), ref = std::sqrt(double(xt::sum(xt::square(b))()));
    if (diff == 0) return 0;
    return ref > 0 ? diff / ref : std::numeric_limits<double>::infinity();
}

std::vector<Case> op_cases();
std::vector<Case> model_cases();
std::vector<Case> negative_controls();
// The trained model of a `train` checkpoint directory on its first `rows` training rows (float64
// only). Throws tg::train::UsageError or tg::io::FormatError / IoError for a bad directory.
Case checkpoint_case(const std::string& dir, std::size_t rows);

}  // namespace tg::gradcheck_cases
