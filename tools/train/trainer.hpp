#pragma once
// The training loop and the PCA baseline. Both return the process exit code (see ExitCode).
#include "config.hpp"
#include "data.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <random>
#include <vector>

namespace train {

// Trains config.model on `data` (taken over) from scratch, or continues the checkpoint `resume`
// (read from run.resume) exactly where it stopped.
int run_training(const TrainConfig& config, const RunOptions& run, Data& data, const nlohmann::json* resume);

// Fits PCA with config.code components on the training data, reports train/test MSE.
int run_pca(const TrainConfig& config, const RunOptions& run, Data& data);

// A uniform draw from [0, n) that depends only on the generator's output (std::mt19937_64 is
// fully specified by the standard; std::uniform_int_distribution and std::shuffle are not), so
// the shuffled order is the same with every standard library.
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n);

// 0..n-1 in Fisher-Yates order drawn with uniform_below.
std::vector<std::size_t> shuffled_indices(std::size_t n, std::mt19937_64& rng);

}  // namespace train
