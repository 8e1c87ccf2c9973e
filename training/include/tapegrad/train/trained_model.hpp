#pragma once
// A trained run loaded for inference: one call, no optimizer built. The model comes in the
// precision asked for, whatever the run trained in (float32 weights widen exactly to float64:
// a study or a gradient check in float64 sees the weights the run ended with).
#include <tapegrad/train/config.hpp>
#include <tapegrad/models/model.hpp>

#include <memory>
#include <string>

namespace tg::train {

template <class T>
struct TrainedModel {
    RunConfig config;                        ///< as the checkpoint records it
    nlohmann::json checkpoint;               ///< dir/checkpoint.json, as read
    std::unique_ptr<models::Model<T>> model; ///< at the checkpoint's weights
};

/// The model of the run in `dir` (its checkpoint.json and arrays) for rows of `input` values.
/// Throws UsageError for a run without a checkpoint or of a kind without parameters (pca,
/// pixels), tg::io::FormatError naming the file for a malformed one.
template <class T>
TrainedModel<T> load_trained_model(const std::string& dir, std::size_t input);

}  // namespace tg::train
