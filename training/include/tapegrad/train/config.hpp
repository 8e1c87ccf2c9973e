#pragma once
// Everything that defines a training run of `train`: a model kind and its options, an
// optimizer and its options, and the run's own settings (epochs, batch, data...). Options are
// declared once (registry.hpp, training_options()); this file only puts them together. A
// checkpoint stores the configuration whole, so `--resume` rebuilds the same model, optimizer
// and data pipeline without the original command line.
#include <tapegrad/train/options.hpp>
#include <tapegrad/train/registry.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace tg::train {

/// The run's own settings (model- and optimizer-independent), as declared options.
const std::vector<OptionSpec>& training_options();

struct RunConfig {
    std::string model = "autoencoder";
    OptionValues model_options;      ///< resolved against model_kind(model).options
    std::string optimizer = "adam";
    OptionValues optimizer_options;  ///< resolved against optimizer_kind(optimizer).options
    OptionValues training;           ///< resolved against training_options()

    const ModelKind& model_kind() const { return tg::train::model_kind(model); }
    const OptimizerKind& optimizer_kind() const { return tg::train::optimizer_kind(optimizer); }
    bool float64() const { return training.text("dtype") == "float64"; }
};

struct TrainerOptions;  // trainer.hpp

/// The Trainer's settings that a configuration names: epochs, batch, the shuffling seed, the
/// rate schedule, clipping, the evaluation options, and the configuration itself (kept in
/// checkpoints and metrics). The caller adds what is not part of the run (where to write,
/// progress, pictures, the communicator). The one place where training_options() become a
/// Trainer's: tests/test_options_reach.cpp checks every declared option arrives.
TrainerOptions trainer_options(const RunConfig& c);

/// Resolves the given option objects (missing keys take their defaults) and checks every value
/// and every cross-option rule. `where` prefixes messages (e.g. the checkpoint's path).
/// Throws UsageError (bad value, unknown kind) or tg::io::FormatError (wrong JSON type).
RunConfig resolve_config(const std::string& model, const nlohmann::json& model_options, const std::string& optimizer,
                         const nlohmann::json& optimizer_options, const nlohmann::json& training,
                         const std::string& where = "");

/// {"model", "model_options", "optimizer", "optimizer_options", "training"}
nlohmann::json to_json(const RunConfig& c);
/// The inverse, with resolve_config's checks; a missing section is a FormatError.
RunConfig config_from_json(const nlohmann::json& j, const std::string& where);

/// The configuration stored in a checkpoint's JSON (read by read_checkpoint from `dir`); a
/// missing "config" is a tg::io::FormatError naming the file.
RunConfig config_from_checkpoint(const nlohmann::json& checkpoint, const std::string& dir);

/// Optimisation steps in an epoch of `rows` rows (the last batch may be short).
inline std::size_t steps_per_epoch(std::size_t rows, std::size_t batch) { return rows / batch + (rows % batch != 0); }

}  // namespace tg::train
