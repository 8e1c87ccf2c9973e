#pragma once
// The PCA baseline: the best linear reconstruction with `code` components, fitted in closed
// form (in float64) and measured exactly like the trained models (per-pixel MSE of the
// reconstruction on train and test), with the same metrics.json and pictures.
#include <tapegrad/pca.hpp>
#include <tapegrad/train/data.hpp>
#include <tapegrad/train/probe.hpp>
#include <tapegrad/train/trainer.hpp>

namespace tg::train {

struct PcaBaselineOptions {
    std::size_t code = 64;
    PcaMethod method = PcaMethod::covariance_eigh;
    std::string out{};            ///< pca-mean.npy, pca-components.npy, metrics.json, pictures
    std::size_t pictures = 16;
    nlohmann::json config{};      ///< kept in metrics.json
    std::string command_line{};
    bool probe = false;            ///< a linear probe on the PCA codes (probe.json)
    ProbeOptions probe_options{};
    bool export_codes = false;     ///< codes-train.npy, codes-test.npy, reconstructions-test.npy
};

/// Fits and evaluates in precision T (the data is taken over). Stops (status stopped) when a
/// SIGINT/SIGTERM arrived during the fit. Throws UsageError when `code` exceeds the data.
template <class T>
TrainResult run_pca_baseline(Data& data, const PcaBaselineOptions& options);

}  // namespace tg::train
