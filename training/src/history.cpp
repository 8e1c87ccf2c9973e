#include "tapegrad/train/history.hpp"

#include <fmt/core.h>

#include <algorithm>

namespace tg::train {
namespace {

// A number, or null for "not measured" (an epoch without evaluation).
std::optional<double> number_or_null(const nlohmann::json& j, const char* key) {
    const nlohmann::json& v = j.at(key);
    if (v.is_null()) return std::nullopt;
    return v.get<double>();
}

}  // namespace

void to_json(nlohmann::json& j, const EpochRecord& r) {
    auto or_null = [](const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
    j = {{"epoch", r.epoch},
         {"train_loss", r.train_loss},
         {"train_mse", or_null(r.train_mse)},
         {"test_mse", or_null(r.test_mse)},
         {"train_mse_rows", r.train_mse_rows},
         {"seconds", r.seconds},
         {"eval_seconds", r.eval_seconds},
         {"gather_seconds", r.gather_seconds}};
    if (!r.test_terms.empty()) j["test_terms"] = r.test_terms;  // [[name, value], ...]: keeps the order
}

void from_json(const nlohmann::json& j, EpochRecord& r) {
    r.epoch = get_integer<int>(j, "epoch");
    j.at("train_loss").get_to(r.train_loss);
    r.train_mse = number_or_null(j, "train_mse");
    r.test_mse = number_or_null(j, "test_mse");
    if (r.train_mse.has_value() != r.test_mse.has_value())
        throw tg::io::FormatError("epoch " + std::to_string(r.epoch) +
                                  ": \"train_mse\" and \"test_mse\" must both be numbers (evaluated) or both null");
    // Absent in histories written before these fields existed.
    r.train_mse_rows = j.contains("train_mse_rows") ? get_integer<std::size_t>(j, "train_mse_rows") : 0;
    j.at("seconds").get_to(r.seconds);
    j.at("eval_seconds").get_to(r.eval_seconds);
    r.gather_seconds = j.contains("gather_seconds") ? j.at("gather_seconds").get<double>() : 0.0;
    r.test_terms = j.contains("test_terms") ? j.at("test_terms").get<std::vector<std::pair<std::string, double>>>()
                                            : std::vector<std::pair<std::string, double>>{};
}

std::string terms_line(const std::vector<std::pair<std::string, double>>& terms) {
    std::string line;
    double total = 0;
    for (const auto& [name, value] : terms) {
        line += fmt::format("{}{} {:.6g}", line.empty() ? "" : " + ", name, value);
        total += value;
    }
    return line + fmt::format(" = {:.6g}", total);
}

std::string train_mse_label(std::size_t rows, std::size_t of) {
    return rows == 0 || rows >= of ? std::string("train MSE") : fmt::format("train MSE ({} of {} rows)", rows, of);
}

std::string evaluation_plan(int eval_every, std::size_t train_mse_rows, std::size_t train_rows, std::size_t test_rows) {
    return fmt::format("after {}: {}, test MSE (all {} rows)",
                       eval_every == 1 ? "every epoch" : fmt::format("every {} epochs and the last", eval_every),
                       train_mse_rows < train_rows ? train_mse_label(train_mse_rows, train_rows)
                                                   : fmt::format("train MSE (all {} rows)", train_rows),
                       test_rows);
}

const EpochRecord* last_evaluated(const std::vector<EpochRecord>& history) {
    for (auto it = history.rbegin(); it != history.rend(); ++it)
        if (it->evaluated()) return &*it;
    return nullptr;
}

nlohmann::json timing_summary(const std::vector<EpochRecord>& history) {
    double seconds = 0, gather = 0, eval = 0;
    std::size_t evaluated = 0;
    for (const EpochRecord& e : history) {
        seconds += e.seconds;
        gather += e.gather_seconds;
        if (e.evaluated()) {
            eval += e.eval_seconds;
            ++evaluated;
        }
    }
    const double epochs = double(std::max<std::size_t>(history.size(), 1));
    return {{"mean_epoch_seconds", seconds / epochs},
            {"mean_gather_seconds", gather / epochs},
            {"mean_eval_seconds", evaluated ? eval / double(evaluated) : 0.0},
            {"evaluated_epochs", evaluated}};
}

}  // namespace tg::train
