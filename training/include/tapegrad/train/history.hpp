#pragma once
// One line of the loss history (kept in checkpoints, drawn as the loss curve).
#include "tapegrad/train/json_fields.hpp"

#include <nlohmann/json.hpp>

namespace tg::train {

struct EpochRecord {
    int epoch = 0;
    double train_loss = 0;    // the training objective (with penalties), mean over the epoch's steps
    double train_mse = 0;     // clean reconstruction, per pixel, after the epoch
    double test_mse = 0;
    double seconds = 0;       // training steps only
    double eval_seconds = 0;  // the two MSE passes
};

inline void to_json(nlohmann::json& j, const EpochRecord& r) {
    j = {{"epoch", r.epoch},     {"train_loss", r.train_loss}, {"train_mse", r.train_mse},
         {"test_mse", r.test_mse}, {"seconds", r.seconds},     {"eval_seconds", r.eval_seconds}};
}

inline void from_json(const nlohmann::json& j, EpochRecord& r) {
    r.epoch = get_integer<int>(j, "epoch");
    j.at("train_loss").get_to(r.train_loss);
    j.at("train_mse").get_to(r.train_mse);
    j.at("test_mse").get_to(r.test_mse);
    j.at("seconds").get_to(r.seconds);
    j.at("eval_seconds").get_to(r.eval_seconds);
}

}  // namespace tg::train
