#pragma once
// One line of the loss history (kept in checkpoints, drawn as the loss curve).
#include "tapegrad/train/json_fields.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace tg::train {

struct EpochRecord {
    int epoch = 0;
    double train_loss = 0;  // the training objective (with penalties), mean over the epoch's steps
    // Clean reconstruction, per pixel, after the epoch; empty when the epoch was not evaluated
    // (TrainerOptions::eval_every). Both or neither.
    std::optional<double> train_mse{};
    std::optional<double> test_mse{};
    double seconds = 0;             // the epoch's training loop: gathering, noise, steps
    double eval_seconds = 0;        // the two MSE passes (0 when not evaluated)
    std::size_t train_mse_rows = 0;  // training rows train_mse averages; 0: not recorded (before
                                     // eval_train_rows existed: every row) or not evaluated
    double gather_seconds = 0;       // part of `seconds`: copying the batches' rows
    // The model's loss terms over the test set when evaluated (Model::loss_terms: a VAE's
    // reconstruction and KL), in the model's order; empty for a model without terms.
    std::vector<std::pair<std::string, double>> test_terms{};

    bool evaluated() const { return train_mse.has_value(); }
};

// In JSON an epoch without evaluation has "train_mse": null and "test_mse": null. Histories
// written before eval_every and gather timing existed (no "train_mse_rows", no
// "gather_seconds") still load; anything else malformed throws tg::io::FormatError or
// nlohmann::json::exception.
void to_json(nlohmann::json& j, const EpochRecord& r);
void from_json(const nlohmann::json& j, EpochRecord& r);

// "train MSE (5000 of 60000 rows)", or "train MSE" when it is over every row of the set
// (rows 0: not recorded, which was every row).
std::string train_mse_label(std::size_t rows, std::size_t of);

// "after every 2 epochs and the last: train MSE (5000 of 60000 rows), test MSE (all 10000 rows)"
std::string evaluation_plan(int eval_every, std::size_t train_mse_rows, std::size_t train_rows, std::size_t test_rows);

// "reconstruction 90.1 + kl 11.05 = 101.15": loss terms and their sum (a VAE's −ELBO).
std::string terms_line(const std::vector<std::pair<std::string, double>>& terms);

// The last epoch of `history` that was evaluated; null if none was.
const EpochRecord* last_evaluated(const std::vector<EpochRecord>& history);

// Means over the history for metrics.json: "mean_epoch_seconds" (training loops) and
// "mean_gather_seconds" over every epoch, "mean_eval_seconds" over the evaluated ones, and the
// count "evaluated_epochs".
nlohmann::json timing_summary(const std::vector<EpochRecord>& history);

}  // namespace tg::train
