// gradcheck: compares the tape's gradients with central finite differences in float64 for
// every op and every model, prints a table, and exits non-zero if any case fails or if the
// built-in negative control (a deliberately wrong gradient) is not caught.
#include "cases.hpp"

#include <tapegrad/gradcheck.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

int main(int argc, char** argv) {
    CLI::App app{"Check every op's and every model's gradients against central finite differences (float64)."};
    std::string filter;
    double step = 1e-6, atol = 1e-7, rtol = 1e-5;
    bool list = false;
    app.add_option("--filter", filter, "only cases whose name or family contains this text");
    app.add_option("--step", step, "finite-difference step h")->check(CLI::PositiveNumber);
    app.add_option("--atol", atol, "absolute tolerance")->check(CLI::NonNegativeNumber);
    app.add_option("--rtol", rtol, "relative tolerance")->check(CLI::NonNegativeNumber);
    app.add_flag("--list", list, "list the cases and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    using namespace tg::gradcheck_cases;
    std::vector<Case> cases = op_cases();
    for (Case& c : model_cases()) cases.push_back(std::move(c));
    cases.push_back(negative_control());

    const tg::GradcheckOptions options{step, atol, rtol};
    int failures = 0, checked = 0;
    bool control_caught = false;
    fmt::print("{:<12} {:<58} {:<6} {:>12} {:>12}  {}\n", "family", "case", "param", "max abs err", "max rel err",
               "result");
    for (Case& c : cases) {
        if (!filter.empty() && c.name.find(filter) == std::string::npos && c.family.find(filter) == std::string::npos &&
            !c.expect_failure)
            continue;
        if (list) {
            fmt::print("{:<12} {}\n", c.family, c.name);
            continue;
        }
        bool case_passed = true;
        for (const tg::GradcheckResult& r : tg::gradcheck<double>(c.loss, c.parameters, options)) {
            case_passed &= r.passed;
            const char* verdict = r.passed ? "pass" : (c.expect_failure ? "FAIL (expected)" : "FAIL");
            fmt::print("{:<12} {:<58} {:<6} {:>12.3e} {:>12.3e}  {}\n", c.family, c.name.substr(0, 58), r.parameter,
                       r.max_abs_error, r.max_rel_error, verdict);
        }
        if (c.expect_failure) {
            control_caught = !case_passed;
        } else {
            ++checked;
            failures += case_passed ? 0 : 1;
        }
    }
    if (list) return 0;
    fmt::print("\nnegative control (sigmoid with a wrong backward): {}\n",
               control_caught ? "caught, as it must be" : "NOT CAUGHT: the checker is broken");
    fmt::print("{} passed, {} failed\n", checked - failures, failures);
    return failures == 0 && control_caught ? 0 : 1;
}
