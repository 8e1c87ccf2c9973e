#pragma once
// The registry: every model kind and every optimizer `train` knows, each declared once as an
// entry (name, summary, options with defaults and bounds, a factory). The command line, its
// --help, the configuration stored in checkpoints, checkpoint validation and gradcheck's
// "every model" list are all derived from these entries. Adding a model kind = its model file
// in models/ plus one entry in training/src/registry.cpp.
#include <tapegrad/models/model.hpp>
#include <tapegrad/optim.hpp>
#include <tapegrad/train/options.hpp>

#include <memory>
#include <string>
#include <vector>

namespace tg::train {

template <class T>
using ModelFactory = std::unique_ptr<models::Model<T>> (*)(const OptionValues& options, std::size_t input,
                                                           std::uint64_t seed);
template <class T>
using OptimizerFactory = std::unique_ptr<Optimizer<T>> (*)(const OptionValues& options,
                                                           std::vector<Parameter<T>*> parameters);

/// Checks that involve several options at once; returns what is wrong (naming the flags), or "".
using OptionCheck = std::string (*)(const OptionValues& options);

struct ModelKind {
    std::string name, summary;
    std::vector<OptionSpec> options;
    OptionCheck check = nullptr;
    /// null for a kind that is not trained by gradient descent (the PCA baseline)
    ModelFactory<float> make_float = nullptr;
    ModelFactory<double> make_double = nullptr;
    /// Option overrides for gradcheck's small instances (each is also run with every encoder
    /// activation and tied/untied where the kind has those options).
    std::vector<nlohmann::json> gradcheck_variants;

    bool trainable() const { return make_float != nullptr; }
    template <class T>
    ModelFactory<T> factory() const {
        if constexpr (std::is_same_v<T, float>) return make_float;
        else return make_double;
    }
};

struct OptimizerKind {
    std::string name, summary;
    std::vector<OptionSpec> options;  ///< "lr" among them, with this optimizer's default
    OptimizerFactory<float> make_float = nullptr;
    OptimizerFactory<double> make_double = nullptr;

    template <class T>
    OptimizerFactory<T> factory() const {
        if constexpr (std::is_same_v<T, float>) return make_float;
        else return make_double;
    }
};

const std::vector<ModelKind>& model_kinds();
const std::vector<OptimizerKind>& optimizer_kinds();
/// The entry of that name; UsageError listing the known names otherwise.
const ModelKind& model_kind(const std::string& name);
const OptimizerKind& optimizer_kind(const std::string& name);
std::vector<std::string> model_kind_names();
std::vector<std::string> optimizer_kind_names();

/// Builds a model of `kind` from resolved options for rows of `input` values. A model's own
/// checks (std::invalid_argument) become UsageError.
template <class T>
std::unique_ptr<models::Model<T>> make_model(const ModelKind& kind, const OptionValues& options, std::size_t input,
                                             std::uint64_t seed);
template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerKind& kind, const OptionValues& options,
                                             std::vector<Parameter<T>*> parameters);

/// Distinct streams from one run seed: initialisation uses the seed itself.
std::uint64_t noise_seed(std::uint64_t seed);
std::uint64_t shuffle_seed(std::uint64_t seed);

}  // namespace tg::train
