#pragma once
// Compares the tape's gradients with central finite differences, entry by entry. Used by the
// test suite and by tools/gradcheck; meant for float64.
//
// Each parameter's gradient is checked twice: as the sweep writes it into a zeroed gradient
// (where the first contribution may overwrite: gemm beta = 0, see Parameter::grad_is_zero), and
// accumulated onto a gradient that already holds other values (every contribution must add).
// A bug in either path fails the check.
#include "tapegrad/tape.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace tg {

struct GradcheckOptions {
    double step = 1e-6;             ///< central difference step h
    double absolute_tolerance = 1e-7;
    double relative_tolerance = 1e-5;
    /// Check at most this many entries of each parameter (0: all): a seeded random sample, plus
    /// the entry of largest analytic gradient. For large models, where every entry would take
    /// two forward passes.
    std::size_t max_entries = 0;
    std::uint64_t sample_seed = 1;
};

struct GradcheckResult {
    std::string parameter;
    double max_abs_error = 0;      ///< over both paths (fresh and accumulated)
    double max_rel_error = 0;
    double accumulation_error = 0; ///< max |(accumulated - offset) - fresh|: should be rounding only
    std::size_t entries_checked = 0;
    bool passed = true;
};

namespace detail {
// The entries of a parameter of n entries that gradcheck perturbs.
inline std::vector<std::size_t> entries_to_check(std::size_t n, const GradcheckOptions& o, std::size_t largest) {
    std::vector<std::size_t> all(n);
    std::iota(all.begin(), all.end(), std::size_t(0));
    if (o.max_entries == 0 || n <= o.max_entries) return all;
    std::vector<std::size_t> picked;
    std::mt19937_64 rng(o.sample_seed);
    std::sample(all.begin(), all.end(), std::back_inserter(picked), o.max_entries - 1, rng);
    if (std::find(picked.begin(), picked.end(), largest) == picked.end()) picked.push_back(largest);
    return picked;
}
}  // namespace detail

/// `loss` records a forward pass on the (cleared) tape and returns a 1 x 1 value. Every listed
/// parameter is perturbed in place and restored; its gradient is left as the fresh sweep wrote it.
template <class T>
std::vector<GradcheckResult> gradcheck(const std::function<Var<T>(Tape<T>&)>& loss,
                                       const std::vector<Parameter<T>*>& parameters, GradcheckOptions options = {}) {
    Tape<T> tape;
    auto evaluate = [&] {
        tape.clear();
        return double(loss(tape).value()(0, 0));
    };
    // The fresh gradients, from zero.
    for (Parameter<T>* p : parameters) p->zero_grad();
    tape.clear();
    tape.backward(loss(tape));
    std::vector<Matrix<T>> fresh;
    for (Parameter<T>* p : parameters) fresh.push_back(p->grad);
    // The same sweep onto gradients that already hold an offset (values in [-1, 1], distinct
    // per entry): what remains after subtracting it must be the same gradient.
    std::vector<Matrix<T>> offset;
    for (Parameter<T>* p : parameters) {
        Matrix<T> g = p->grad;
        for (std::size_t i = 0; i < g.size(); ++i) g.data()[i] = T(std::sin(1.0 + 0.7 * double(i)));
        offset.push_back(g);
        p->grad = g;
        p->grad_is_zero = false;
    }
    tape.clear();
    tape.backward(loss(tape));
    std::vector<Matrix<T>> accumulated;
    for (std::size_t k = 0; k < parameters.size(); ++k) {
        accumulated.push_back(parameters[k]->grad - offset[k]);
        parameters[k]->grad = fresh[k];
    }

    std::vector<GradcheckResult> results;
    for (std::size_t k = 0; k < parameters.size(); ++k) {
        Parameter<T>* p = parameters[k];
        GradcheckResult r{p->name};
        const auto& g = fresh[k];
        const std::size_t largest =
            std::size_t(std::max_element(g.begin(), g.end(), [](T a, T b) { return std::abs(a) < std::abs(b); }) - g.begin());
        for (std::size_t i : detail::entries_to_check(p->value.size(), options, largest)) {
            T& x = p->value.data()[i];
            const T saved = x;
            x = T(saved + options.step);
            const double up = evaluate();
            x = T(saved - options.step);
            const double down = evaluate();
            x = saved;
            const double numeric = (up - down) / (2 * options.step);
            for (const Matrix<T>* analytic_grad : {&fresh[k], &accumulated[k]}) {
                const double analytic = p->frozen ? 0.0 : double(analytic_grad->data()[i]);
                const double err = std::abs(analytic - numeric);
                const double scale = std::max(std::abs(analytic), std::abs(numeric));
                r.max_abs_error = std::max(r.max_abs_error, err);
                if (scale > 0) r.max_rel_error = std::max(r.max_rel_error, err / scale);
                if (!(err <= options.absolute_tolerance + options.relative_tolerance * scale)) r.passed = false;
            }
            r.accumulation_error =
                std::max(r.accumulation_error, double(std::abs(accumulated[k].data()[i] - fresh[k].data()[i])));
            ++r.entries_checked;
        }
        results.push_back(r);
    }
    return results;
}

}  // namespace tg
