// step_study: trains the step-function autoencoder (models/step_ae.hpp) on the 129 step
// functions of length 128 and reports how linear its one-dimensional code is in the step
// position, the reconstruction error per position and the wall time, and draws the study's
// figure (w1, code vs position, all reconstructions). `--config all` runs the study's setting
// and the variants that test its hypothesis (frozen linear encoder, centred inputs, Adam).
#include <tapegrad/studies/step.hpp>

#include <tapegrad/io/plot.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cmath>
#include <filesystem>
#include <map>

namespace {
using namespace tg;
using studies::StepRunOptions;
using studies::StepRunResult;

struct Named {
    std::string name;
    StepRunOptions options;
};

// The configurations `--config` accepts, each a change from the study's setting `base`.
std::vector<Named> configurations(const std::string& which, const StepRunOptions& base) {
    std::map<std::string, StepRunOptions> all;
    all["study"] = base;
    all["frozen"] = base;
    all["frozen"].model.frozen_encoder = true;
    all["centred"] = base;
    all["centred"].centred = true;
    all["adam"] = base;
    all["adam"].optimizer = studies::StepOptimizer::adam;
    all["centred-adam"] = all["centred"];
    all["centred-adam"].optimizer = studies::StepOptimizer::adam;
    std::vector<Named> out;
    if (which == "all") {
        for (const char* k : {"study", "frozen", "centred", "adam", "centred-adam"}) out.push_back({k, all[k]});
        return out;
    }
    out.push_back({which, all[which]});
    return out;
}

// Mean squared error per position over blocks of positions: shows where reconstructions fail.
std::string error_profile(const StepRunResult& r, std::size_t blocks) {
    std::string s;
    const std::size_t n = r.error_per_position.size(), per = (n + blocks - 1) / blocks;
    for (std::size_t b = 0; b * per < n; ++b) {
        double e = 0;
        std::size_t count = 0;
        for (std::size_t i = b * per; i < std::min(n, (b + 1) * per); ++i, ++count) e += r.error_per_position[i];
        s += fmt::format(" {:8.2e}", e / double(count));
    }
    return s;
}

void draw(const std::string& path, const std::string& name, const StepRunResult& r) {
    std::vector<double> j(r.w1.size());
    for (std::size_t i = 0; i < j.size(); ++i) j[i] = double(i + 1);
    io::Panel w1{name + ": encoder weights w1", "input index j", "w1_j", {{"", j, r.w1, io::Style::LinesPoints}}};

    std::vector<double> line;
    for (double p : r.positions) line.push_back(r.code_fit.slope * p + r.code_fit.intercept);
    io::Panel code{fmt::format("code vs step position (R^2 = {:.4f}, {})", r.code_fit.r2,
                               r.monotonic ? "monotonic" : "not monotonic"),
                   "step position p", "code z",
                   {{"code", r.positions, r.code, io::Style::Points}, {"straight-line fit", r.positions, line}}};

    io::Panel recon{fmt::format("all {} reconstructions (MSE {:.3g})", r.positions.size(), r.final_mse), "index j",
                    "reconstruction y_j", {}};
    for (std::size_t p = 0; p < r.reconstruction.shape()[0]; ++p) {
        std::vector<double> y(r.reconstruction.shape()[1]);
        for (std::size_t i = 0; i < y.size(); ++i) y[i] = r.reconstruction(p, i);
        recon.series.push_back({"", j, std::move(y)});
    }
    io::plot_panels(path, {w1, code, recon}, 3, 640, 480);
}

template <class T>
StepRunResult run_and_report(const Named& c, const std::string& out_dir, std::size_t blocks) {
    fmt::print("[{}] {} epochs, {}{}{} ...\n", c.name, c.options.epochs,
               c.options.optimizer == studies::StepOptimizer::adam ? "Adam" : "RMSProp",
               c.options.centred ? ", centred inputs" : "", c.options.model.frozen_encoder ? ", frozen encoder" : "");
    std::fflush(stdout);
    StepRunResult r = studies::run_step_study<T>(c.options);
    fmt::print("[{}] MSE {:.4e}  code R^2 {:.5f}  monotonic {}  time {:.1f} s ({:.1f} us/epoch)\n", c.name,
               r.final_mse, r.code_fit.r2, r.monotonic ? "yes" : "no", r.seconds,
               1e6 * r.seconds / double(std::max(1L, c.options.epochs)));
    fmt::print("[{}] error per position, blocks of p from 1 (left) to 129:{}\n", c.name, error_profile(r, blocks));
    if (!out_dir.empty()) {
        std::filesystem::create_directories(out_dir);
        const std::string png = out_dir + "/step_" + c.name + ".png";
        draw(png, c.name, r);
        fmt::print("[{}] figure: {}\n", c.name, png);
    }
    return r;
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"The step-function autoencoder study: 129 step functions of length 128, one latent unit."};
    StepRunOptions base;
    std::string config = "study", out_dir = "step_study_out", optimizer;
    bool use_double = false;
    int threads = 1;
    std::size_t blocks = 8;
    app.add_option("--config", config, "which configuration(s) to run")
        ->check(CLI::IsMember({"study", "frozen", "centred", "adam", "centred-adam", "all"}))
        ->capture_default_str();
    app.add_option("--epochs", base.epochs, "full-batch steps (the study ran 557,600)")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    app.add_option("--lr", base.lr, "learning rate")->capture_default_str();
    app.add_option("--lr-drop-epoch", base.lr_drop_epoch, "switch to --lr-after from this epoch (-1: never)")
        ->capture_default_str();
    app.add_option("--lr-after", base.lr_after, "learning rate after the drop")->capture_default_str();
    app.add_flag("--output-relu", base.model.output_relu, "relu on the reconstruction too");
    app.add_option("--init", base.model.init_limit, "weights start uniform in [-init, init]")->capture_default_str();
    app.add_option("--frozen-w1", base.model.frozen_w1, "every w1_j in the frozen configuration")->capture_default_str();
    app.add_option("--seed", base.model.seed, "initialisation seed")->capture_default_str();
    app.add_flag("--double", use_double, "train in float64 (default float32)");
    app.add_option("--threads", threads, "worker threads (tg::set_num_threads; OpenBLAS stays on one thread)")->capture_default_str();
    app.add_option("--blocks", blocks, "position blocks in the printed error profile")
        ->check(CLI::Range(std::size_t{1}, std::size_t{129}))
        ->capture_default_str();
    app.add_option("--out", out_dir, "directory for the figures (empty: none)")->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    blas::set_num_threads(threads);
    std::vector<std::pair<std::string, StepRunResult>> results;
    try {
        for (const Named& c : configurations(config, base))
            results.emplace_back(c.name, use_double ? run_and_report<double>(c, out_dir, blocks)
                                                    : run_and_report<float>(c, out_dir, blocks));
    } catch (const std::exception& e) {  // gnuplot missing, unwritable output directory
        fmt::print(stderr, "step_study: {}\n", e.what());
        return 1;
    }

    fmt::print("\n{:<14} {:>11} {:>9} {:>10} {:>12} {:>12} {:>9}\n", "config", "final MSE", "code R^2", "monotonic",
               "err p<=16", "err p>=113", "time s");
    for (const auto& [name, r] : results) {
        double left = 0, right = 0;
        for (std::size_t i = 0; i < 16; ++i) left += r.error_per_position[i] / 16;
        for (std::size_t i = 112; i < r.error_per_position.size(); ++i)
            right += r.error_per_position[i] / double(r.error_per_position.size() - 112);
        fmt::print("{:<14} {:>11.4e} {:>9.5f} {:>10} {:>12.3e} {:>12.3e} {:>9.1f}\n", name, r.final_mse, r.code_fit.r2,
                   r.monotonic ? "yes" : "no", left, right, r.seconds);
    }
}
