// gradcheck: compares the tape's gradients with central finite differences in float64 for
// every op and every model (fresh and accumulated onto a gradient that already holds values),
// compares float32's gradients with float64's at the same point, prints a table, and exits
// non-zero if any case fails, if a negative control (a deliberately wrong gradient) is not
// caught, or if --filter selects nothing. With --checkpoint DIR it checks a trained model.
#include "cases.hpp"
#include "higher_order.hpp"

#include <tapegrad/gradcheck.hpp>
#include <tapegrad/io/errors.hpp>
#include <tapegrad/train/options.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

namespace {

using namespace tg::gradcheck_cases;

// The gradients one sweep writes from zero, as float64.
template <class T>
std::vector<tg::Matrix<D>> fresh_gradients(Instance<T>& in) {
    tg::Tape<T> tape;
    for (tg::Parameter<T>* p : in.parameters) p->zero_grad();
    tape.backward(in.loss(tape));
    std::vector<tg::Matrix<D>> out;
    for (tg::Parameter<T>* p : in.parameters) out.push_back(xt::cast<D>(p->grad));
    return out;
}

struct Outcome {
    std::vector<tg::GradcheckResult> results;
    std::vector<double> float32_error;  // per parameter; empty without a float32 instance
    bool gradcheck_passed = true, float32_passed = true;
    // gradients of gradients (higher_order.hpp)
    double rule_error = 0;          // ||rules in ops - fast backward|| / ||fast backward||, worst parameter
    double higher_rel_error[2] = {0, 0};  // second and third order: the worst relative error
    bool rule_passed = true, higher_passed[2] = {true, true};
};

constexpr double rule_tolerance = 1e-12;

// gradcheck of the case differentiated `times` more times; returns whether every entry passed.
bool check_higher(Case& c, int times, const tg::GradcheckOptions& options, double& worst) {
    Instance<D> phi = differentiated(c.f64, times, 97 + std::uint64_t(times));
    bool passed = true;
    for (const tg::GradcheckResult& r : tg::gradcheck<D>(phi.loss, phi.parameters, options)) {
        passed &= r.passed;
        worst = std::max(worst, r.max_rel_error);
    }
    return passed;
}

Outcome check(Case& c, const tg::GradcheckOptions& options, double float32_tolerance) {
    Outcome o;
    o.results = tg::gradcheck<D>(c.f64.loss, c.f64.parameters, options);
    for (const tg::GradcheckResult& r : o.results) o.gradcheck_passed &= r.passed;
    if (c.f32.loss) {
        const auto g64 = fresh_gradients(c.f64), g32 = fresh_gradients(c.f32);
        for (std::size_t k = 0; k < g64.size(); ++k) {
            o.float32_error.push_back(normwise_relative(g32[k], g64[k]));
            o.float32_passed &= o.float32_error.back() <= float32_tolerance;
        }
    }
    if (c.higher_order) {
        o.rule_error = rule_disagreement(c.f64);
        o.rule_passed = o.rule_error <= rule_tolerance;
        o.higher_passed[0] = check_higher(c, 1, options, o.higher_rel_error[0]);
        if (c.third_order) o.higher_passed[1] = check_higher(c, 2, options, o.higher_rel_error[1]);
    }
    return o;
}

// Whether a negative control failed the way it must (and only that way).
bool caught(const Case& c, const Outcome& o) {
    switch (c.control) {
        case Control::none: return false;
        case Control::wrong_everywhere:
            return std::none_of(o.results.begin(), o.results.end(), [](const auto& r) { return r.passed; });
        case Control::wrong_one_entry:
            return o.results.size() == 2 && o.results[0].passed && !o.results[1].passed;
        case Control::wrong_in_float32: return o.gradcheck_passed && !o.float32_passed;
        case Control::wrong_second_order:
            return o.gradcheck_passed && o.float32_passed && o.rule_passed && !o.higher_passed[0];
        case Control::wrong_rule_when_data: return o.gradcheck_passed && o.float32_passed && !o.rule_passed;
        case Control::wrong_when_accumulated:
            // a failed first parameter whose error is all on the accumulated path (the offset it
            // overwrote, O(1)), the second parameter right
            return o.results.size() == 2 && !o.results[0].passed && o.results[0].accumulation_error > 0.1 &&
                   o.results[1].passed && o.float32_passed;
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Check every op's and every model's gradients against central finite differences (float64), "
                 "and float32's gradients against float64's."};
    std::string filter, checkpoint;
    double step = 1e-6, atol = 1e-7, rtol = 1e-5, float32_tolerance = 1e-4;
    std::size_t rows = 64, entries = 200;
    bool list = false;
    app.add_option("--filter", filter, "only cases whose name or family contains this text (must match one)");
    app.add_option("--step", step, "finite-difference step h")->check(CLI::PositiveNumber);
    CLI::Option* atol_option = app.add_option("--atol", atol, "absolute tolerance (--checkpoint: default 1e-10)")
                                   ->check(CLI::NonNegativeNumber);
    app.add_option("--rtol", rtol, "relative tolerance")->check(CLI::NonNegativeNumber);
    app.add_option("--float32-tolerance", float32_tolerance,
                   "largest normwise relative difference of float32's gradient from float64's")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--checkpoint", checkpoint,
                   "check the trained model of this `train` output directory on its own data instead")
        ->check(CLI::ExistingDirectory);
    app.add_option("--rows", rows, "--checkpoint: training rows in the batch")->check(CLI::PositiveNumber);
    app.add_option("--entries", entries, "--checkpoint: entries checked per parameter (a sample; 0: all)");
    app.add_flag("--list", list, "list the cases and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    tg::GradcheckOptions options{step, atol, rtol};
    std::vector<Case> cases;
    try {
        if (!checkpoint.empty()) {
            cases.push_back(checkpoint_case(checkpoint, rows));
            options.max_entries = entries;
            // Trained gradients are small, so the absolute floor is lower. The step stays 1e-6:
            // rounding noise (eps |loss| / h) is then about 3e-11 on Fashion-MNIST (a tied sigmoid
            // model); 1e-5 lowered it to 3e-12 but crossed relu kinks in a trained conv model
            // (errors of 4e-7 in its encoder kernels, none at 1e-6 or 1e-7).
            if (atol_option->count() == 0) options.absolute_tolerance = 1e-10;
        } else {
            cases = op_cases();
            for (Case& c : model_cases()) cases.push_back(std::move(c));
        }
    } catch (const tg::train::UsageError& e) {
        fmt::print(stderr, "error: {}\n", tg::train::with_flags(e.what()));
        return 2;
    } catch (const std::exception& e) {  // a malformed checkpoint or data file
        fmt::print(stderr, "error: {}\n", e.what());
        return 3;
    }
    std::erase_if(cases, [&](const Case& c) {
        return !filter.empty() && c.name.find(filter) == std::string::npos && c.family.find(filter) == std::string::npos;
    });
    if (cases.empty()) {
        fmt::print(stderr, "error: --filter \"{}\" selects no case (see --list)\n", filter);
        return 2;
    }
    // The controls always run: they check the checker.
    for (Case& c : negative_controls()) cases.push_back(std::move(c));
    if (list) {
        for (const Case& c : cases) fmt::print("{:<12} {}\n", c.family, c.name);
        return 0;
    }

    int failures = 0, checked = 0, controls = 0, controls_missed = 0;
    fmt::print("{:<11} {:<62} {:<5} {:>7} {:>10} {:>10} {:>10}  {}\n", "family", "case", "param", "entries",
               "max abs", "max rel", "f32 rel", "result");
    for (Case& c : cases) {
        const Outcome o = check(c, options, float32_tolerance);
        const bool passed = o.gradcheck_passed && o.float32_passed && o.rule_passed && o.higher_passed[0] && o.higher_passed[1];
        for (std::size_t k = 0; k < o.results.size(); ++k) {
            const tg::GradcheckResult& r = o.results[k];
            const bool f32_ok = k >= o.float32_error.size() || o.float32_error[k] <= float32_tolerance;
            const char* verdict = r.passed && f32_ok ? "pass"
                                  : c.control != Control::none ? "FAIL (expected)"
                                  : !r.passed ? "FAIL" : "FAIL (float32)";
            fmt::print("{:<11} {:<62} {:<5} {:>7} {:>10.3e} {:>10.3e} {:>10}  {}\n", c.family, c.name.substr(0, 62),
                       r.parameter, r.entries_checked, r.max_abs_error, r.max_rel_error,
                       k < o.float32_error.size() ? fmt::format("{:.3e}", o.float32_error[k]) : "-", verdict);
        }
        if (c.higher_order) {
            const bool ok = o.rule_passed && o.higher_passed[0] && o.higher_passed[1];
            fmt::print("{:<11} {:<62} rules in ops vs backward {:>9.2e}; 2nd order max rel {:>9.2e}{}  {}\n", c.family,
                       c.name.substr(0, 62), o.rule_error, o.higher_rel_error[0],
                       c.third_order ? fmt::format("; 3rd order {:.2e}", o.higher_rel_error[1]) : "",
                       ok ? "pass" : c.control != Control::none ? "FAIL (expected)" : "FAIL");
        }
        if (c.control != Control::none) {
            const bool ok = caught(c, o);
            ++controls;
            controls_missed += ok ? 0 : 1;
            fmt::print("  {}: {}\n", c.name, ok ? "caught, as it must be" : "NOT CAUGHT: the checker is broken");
        } else {
            ++checked;
            failures += passed ? 0 : 1;
        }
    }
    if (checkpoint.empty()) {  // the Jacobian helper, and its control (one output unit left out)
        const JacobianCheck j = check_jacobian();
        const bool ok = j.helper_error <= 1e-7, control_caught = j.control_error > 1e-7;
        fmt::print("{:<11} {:<62} vs central differences {:>9.2e}  {}\n", "jacobian",
                   "stacked per-sample Jacobian of a two-layer encoder", j.helper_error, ok ? "pass" : "FAIL");
        fmt::print("{:<11} {:<62} vs central differences {:>9.2e}  {}\n", "control",
                   "negative control: the stacked pass missing one output unit", j.control_error,
                   control_caught ? "FAIL (expected)" : "pass");
        fmt::print("  negative control: a Jacobian missing one output unit: {}\n",
                   control_caught ? "caught, as it must be" : "NOT CAUGHT: the checker is broken");
        ++checked;
        failures += ok ? 0 : 1;
        ++controls;
        controls_missed += control_caught ? 0 : 1;
    }
    fmt::print("\n{} cases passed, {} failed; {} of {} negative controls caught\n", checked - failures, failures,
               controls - controls_missed, controls);
    return failures == 0 && controls_missed == 0 ? 0 : 1;
}
