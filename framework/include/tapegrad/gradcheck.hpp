#pragma once
// Compares the tape's gradients with central finite differences, entry by entry. Used by the
// test suite and by tools/gradcheck; meant for float64 and small inputs.
#include "tapegrad/tape.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace tg {

struct GradcheckOptions {
    double step = 1e-6;             // central difference step h
    double absolute_tolerance = 1e-7;
    double relative_tolerance = 1e-5;
};

struct GradcheckResult {
    std::string parameter;
    double max_abs_error = 0;
    double max_rel_error = 0;
    bool passed = true;
};

// `loss` records a forward pass on the (cleared) tape and returns a 1 x 1 value. Every listed
// parameter is perturbed in place and restored.
template <class T>
std::vector<GradcheckResult> gradcheck(const std::function<Var<T>(Tape<T>&)>& loss,
                                       const std::vector<Parameter<T>*>& parameters, GradcheckOptions options = {}) {
    Tape<T> tape;
    auto evaluate = [&] {
        tape.clear();
        return double(loss(tape).value()(0, 0));
    };
    for (Parameter<T>* p : parameters) p->zero_grad();
    tape.clear();
    tape.backward(loss(tape));

    std::vector<GradcheckResult> results;
    for (Parameter<T>* p : parameters) {
        GradcheckResult r{p->name};
        for (std::size_t i = 0; i < p->value.size(); ++i) {
            T& x = p->value.data()[i];
            const T saved = x;
            x = T(saved + options.step);
            const double up = evaluate();
            x = T(saved - options.step);
            const double down = evaluate();
            x = saved;
            const double numeric = (up - down) / (2 * options.step);
            const double analytic = p->frozen ? 0.0 : double(p->grad.data()[i]);
            const double err = std::abs(analytic - numeric);
            const double scale = std::max(std::abs(analytic), std::abs(numeric));
            r.max_abs_error = std::max(r.max_abs_error, err);
            if (scale > 0) r.max_rel_error = std::max(r.max_rel_error, err / scale);
            if (!(err <= options.absolute_tolerance + options.relative_tolerance * scale)) r.passed = false;
        }
        results.push_back(r);
    }
    return results;
}

}  // namespace tg
