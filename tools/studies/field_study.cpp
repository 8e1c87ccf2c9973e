// field_study: "Is the reconstruction a gradient field?" For trained runs (train's output
// directories), computes J = ∂r/∂x (784 x 784) of each model's reconstruction at the first N
// Fashion-MNIST test images, in float64, and reports the relative asymmetry
// ‖J − J^T‖_F / ‖J‖_F (mean and spread) and the eigenvalues of the symmetric part as a picture.
// A field is a gradient exactly when its Jacobian is symmetric (studies/field.hpp).
#include <tapegrad/studies/field.hpp>

#include <tapegrad/io/atomic_file.hpp>
#include <tapegrad/io/idx.hpp>
#include <tapegrad/io/plot.hpp>
#include <tapegrad/train/trained_model.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>

namespace {
using namespace tg;

struct Run {
    std::string label, dir;
};

struct Result {
    std::string label, model;
    studies::Spread asymmetry;
    std::vector<double> mean_spectrum;  // ascending eigenvalues of the symmetric part, averaged over images
    double seconds = 0;
};

Result study(const Run& run, const Matrix<double>& images, std::size_t spectra) {
    const auto start = std::chrono::steady_clock::now();
    train::TrainedModel<double> trained = train::load_trained_model<double>(run.dir, images.shape()[1]);
    const std::vector<Matrix<double>> jacobians = studies::reconstruction_jacobians(*trained.model, images);
    Result r{run.label, trained.model->describe(), {}, {}, 0};
    std::vector<double> asymmetry;
    for (const Matrix<double>& j : jacobians) asymmetry.push_back(studies::relative_asymmetry(j));
    r.asymmetry = studies::spread_of(asymmetry);
    const std::size_t n = std::min(spectra, jacobians.size());
    for (std::size_t b = 0; b < n; ++b) {
        const std::vector<double> w = studies::symmetric_part_eigenvalues(jacobians[b]);
        r.mean_spectrum.resize(w.size(), 0.0);
        for (std::size_t i = 0; i < w.size(); ++i) r.mean_spectrum[i] += w[i] / double(n);
    }
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
}

void draw(const std::string& path, const std::vector<Result>& results, std::size_t spectra) {
    std::vector<io::Panel> panels;
    for (const Result& r : results) {
        std::vector<double> index(r.mean_spectrum.size());
        for (std::size_t i = 0; i < index.size(); ++i) index[i] = double(i + 1);
        panels.push_back({fmt::format("{} (asymmetry {:.2g})", r.label, r.asymmetry.mean),
                          fmt::format("eigenvalue rank (mean over {} images)", spectra),
                          "eigenvalue of (J + J^T) / 2",
                          {{"", index, r.mean_spectrum, io::Style::Lines}}});
    }
    io::plot_panels(path, panels, 3, 560, 400);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Is the reconstruction a gradient field? Jacobian asymmetry of trained autoencoders (docs/studies.md)."};
    std::vector<std::string> specs;
    std::size_t images = 100, spectra = 20;
    std::string out_dir = "out/field", data_dir = io::kFashionMnistDir;
    app.add_option("--run", specs, "LABEL=DIR: a train output directory (its checkpoint) and its name in the table")
        ->required();
    app.add_option("--images", images, "the first N test images (default 100)")->check(CLI::Range(1, 10000));
    app.add_option("--spectra", spectra, "images whose symmetric-part spectrum is averaged for the picture (default 20)")
        ->check(CLI::Range(1, 10000));
    app.add_option("--out", out_dir, "output directory: field.json and field-eigenvalues.png");
    app.add_option("--data-dir", data_dir, "directory of the Fashion-MNIST IDX files");
    CLI11_PARSE(app, argc, argv);
    try {
        std::vector<Run> runs;
        for (const std::string& s : specs) {
            const std::size_t eq = s.find('=');
            if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
                throw std::invalid_argument("--run " + s + ": expected LABEL=DIR");
            runs.push_back({s.substr(0, eq), s.substr(eq + 1)});
        }
        const io::Dataset test = io::load_fashion_mnist(data_dir, "t10k");
        images = std::min(images, test.images.shape()[0]);
        const std::size_t d = test.images.shape()[1];
        Matrix<double> x = Matrix<double>::from_shape({images, d});
        std::copy(test.images.data(), test.images.data() + images * d, x.data());

        std::vector<Result> results;
        fmt::print("| model | relative asymmetry ‖J − J^T‖_F / ‖J‖_F: mean | sd | min | max | seconds |\n|---|---|---|---|---|---|\n");
        for (const Run& run : runs) {
            const Result& r = results.emplace_back(study(run, x, spectra));
            fmt::print("| {} | {:.3g} | {:.2g} | {:.3g} | {:.3g} | {:.1f} |\n", r.label, r.asymmetry.mean, r.asymmetry.sd,
                       r.asymmetry.min, r.asymmetry.max, r.seconds);
            std::fflush(stdout);
        }
        std::filesystem::create_directories(out_dir);
        nlohmann::json j = nlohmann::json::array();
        for (const Result& r : results)
            j.push_back({{"label", r.label}, {"model", r.model}, {"images", images},
                         {"asymmetry", {{"mean", r.asymmetry.mean}, {"sd", r.asymmetry.sd}, {"min", r.asymmetry.min}, {"max", r.asymmetry.max}}},
                         {"symmetric_part_spectrum_mean", r.mean_spectrum}});
        io::write_file_atomically(out_dir + "/field.json", [&](std::ostream& o) { o << j.dump(1) << "\n"; });
        draw(out_dir + "/field-eigenvalues.png", results, std::min(spectra, images));
        fmt::print("wrote {0}/field.json and {0}/field-eigenvalues.png\n", out_dir);
    } catch (const std::exception& e) {
        fmt::print(stderr, "field_study: {}\n", e.what());
        return 1;
    }
    return 0;
}
