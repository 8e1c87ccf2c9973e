// The PCA baseline: the best linear reconstruction with `code` components, measured exactly
// like the trained models (per-pixel MSE of the reconstruction, on train and on test).
#include "tapegrad/train/pca_baseline.hpp"

#include "tapegrad/train/matrix_utils.hpp"
#include "tapegrad/train/pictures.hpp"
#include "tapegrad/train/progress.hpp"
#include "tapegrad/train/stop_signal.hpp"

#include <tapegrad/io/npy.hpp>
#include <tapegrad/pca.hpp>

#include <fmt/core.h>

#include <chrono>
#include <filesystem>

namespace tg::train {

template <class T>
TrainResult run_pca_baseline(Data& data, const PcaBaselineOptions& c) {
    const std::size_t d = data.train.shape()[1];
    if (c.code > std::min(d, data.train.shape()[0]))
        throw UsageError(fmt::format("`code` {} is more components than the {} x {} training data has", c.code,
                                     data.train.shape()[0], d));
    const tg::PcaMethod method = c.method;
    fmt::print("model      PCA with {} components ({}, fitted in float64, evaluated in {})\n", c.code,
               method == tg::PcaMethod::svd ? "thin SVD of the centred data" : "eigendecomposition of the covariance",
               sizeof(T) == 4 ? "float32" : "float64");
    fmt::print("data       {} train x {} test rows of {}\n", data.train.shape()[0], data.test.shape()[0], d);
    std::fflush(stdout);

    const auto start = std::chrono::steady_clock::now();
    tg::Pca pca = tg::fit_pca(converted<double>(data.train), c.code, method);
    const double fit_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (stop_requested()) {
        fmt::print("stopped by signal {} while fitting; nothing written\n", stop_requested());
        TrainResult r;
        r.status = TrainResult::Status::stopped;
        r.signal = stop_requested();
        r.message = "stopped while fitting";
        return r;
    }

    const tg::Matrix<T> train = take_as<T>(std::move(data.train)), test = take_as<T>(std::move(data.test));
    const double train_mse = sum_squared_difference(tg::pca_reconstruct(pca, train), train) / double(train.size());
    const double test_mse = sum_squared_difference(tg::pca_reconstruct(pca, test), test) / double(test.size());
    double explained = 0;
    for (double v : pca.explained_variance) explained += v;

    const std::filesystem::path out(c.out);
    tg::io::save_npy<double>((out / "pca-mean.npy").string(), pca.mean);
    tg::io::save_npy<double>((out / "pca-components.npy").string(), pca.components);
    std::vector<std::string> pictures;
    if (data.image_rows > 0) {
        try {
            pictures.push_back(draw_filters(c.out, converted<float>(pca.components), data.image_rows, data.image_cols));
            const tg::Matrix<T> originals = row_block(test, 0, std::min(c.pictures, test.shape()[0]));
            pictures.push_back(draw_reconstructions(
                c.out, {converted<float>(originals), converted<float>(tg::pca_reconstruct(pca, originals))},
                data.image_rows, data.image_cols));
        } catch (const std::exception& e) {
            fmt::print(stderr, "warning: could not draw the pictures: {}\n", e.what());
        }
    }
    nlohmann::json metrics{{"model", fmt::format("PCA {} components", c.code)},
                           {"config", c.config},
                           {"train_mse", train_mse},
                           {"test_mse", test_mse},
                           {"fit_seconds", fit_seconds},
                           {"explained_variance_ratio", explained / pca.total_variance},
                           {"singular_values", pca.singular_values},
                           {"pictures", pictures},
                           {"command_line", c.command_line}};
    write_json_file((out / "metrics.json").string(), metrics);
    fmt::print("fit        {} ({:.1f}% of the training variance explained)\n", format_duration(fit_seconds),
               100 * explained / pca.total_variance);
    fmt::print("final      train MSE {:.6g}  test MSE {:.6g}\n", train_mse, test_mse);
    fmt::print("arrays     {} {}\n", (out / "pca-mean.npy").string(), (out / "pca-components.npy").string());
    for (const std::string& p : pictures) fmt::print("picture    {}\n", p);
    if (c.probe || c.export_codes) {
        const tg::Matrix<T> train_codes = tg::pca_encode(pca, train), test_codes = tg::pca_encode(pca, test);
        if (c.export_codes) {
            const tg::Matrix<T> reconstructions = tg::pca_reconstruct(pca, test);
            export_codes(c.out, train_codes, test_codes, &reconstructions);
        }
        if (c.probe)
            probe_and_report(train_codes, test_codes, data, fmt::format("PCA-{} codes", c.code), c.out, c.probe_options);
    }
    TrainResult r;
    r.train_mse = train_mse;
    r.test_mse = test_mse;
    return r;
}

template TrainResult run_pca_baseline<float>(Data&, const PcaBaselineOptions&);
template TrainResult run_pca_baseline<double>(Data&, const PcaBaselineOptions&);

}  // namespace tg::train
