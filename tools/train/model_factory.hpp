#pragma once
// Builds the model and optimizer a TrainConfig describes.
#include "config.hpp"

#include <models/all.hpp>

#include <memory>
#include <random>

namespace train {

// Throws UsageError when the configuration does not fit the data (e.g. stacked layers larger
// than the input are fine, but a code size must be positive).
template <class T>
std::unique_ptr<tg::models::Model<T>> make_model(const TrainConfig& config, std::size_t input);

template <class T>
std::unique_ptr<tg::Optimizer<T>> make_optimizer(const TrainConfig& config, std::vector<tg::Parameter<T>*> parameters);

// The model's training-noise RNG (the denoising model's corruption), or nullptr if it has none.
template <class T>
std::mt19937_64* noise_rng(tg::models::Model<T>& model);

}  // namespace train
