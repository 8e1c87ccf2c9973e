#include "trainer.hpp"

#include "checkpoint.hpp"
#include "evaluate.hpp"
#include "history.hpp"
#include "model_factory.hpp"
#include "pictures.hpp"
#include "progress.hpp"
#include "stop_signal.hpp"

#include <tapegrad/io/errors.hpp>

#include <fmt/core.h>

#include <chrono>
#include <csignal>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <optional>

namespace train {

std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
    // Reject the lowest 2^64 mod n outputs: what is left is a whole number of copies of [0, n).
    const std::uint64_t threshold = (0 - n) % n;
    for (;;) {
        const std::uint64_t r = rng();
        if (r >= threshold) return r % n;
    }
}

std::vector<std::size_t> shuffled_indices(std::size_t n, std::mt19937_64& rng) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[uniform_below(rng, i)]);
    return order;
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// A step whose loss or gradient is not finite: training cannot continue.
struct Diverged {
    std::string what;
};

template <class T>
class Trainer {
public:
    Trainer(const TrainConfig& config, const RunOptions& run, Data& data)
        : config_(config), run_(run), image_rows_(data.image_rows), image_cols_(data.image_cols),
          train_(take_as<T>(std::move(data.train))), test_(take_as<T>(std::move(data.test))),
          model_(make_model<T>(config, train_.shape()[1])), parameters_(model_->parameters()),
          optimizer_(make_optimizer<T>(config, parameters_)), shuffle_rng_(shuffle_seed(config.seed)) {
        tape_.anomaly_mode = run.anomaly;
    }

    void restore(const nlohmann::json& meta) {
        const std::string where = (std::filesystem::path(run_.resume) / kCheckpointFile).string();
        restore_checkpoint<T>(run_.resume, meta, parameters_, *optimizer_);
        std::mt19937_64* noise = noise_rng(*model_);
        TrainingState s = read_training_state(meta, where, steps_per_epoch(), noise != nullptr);
        if (noise) *noise = *s.noise_rng;
        epochs_done_ = s.epochs_done;
        resume_step_ = s.step_in_epoch;
        shuffle_rng_ = s.shuffle_rng;
        partial_loss_sum_ = s.epoch_loss_sum;
        partial_loss_count_ = s.epoch_loss_count;
        partial_seconds_ = s.epoch_seconds;
        history_ = std::move(s.history);
        last_checkpoint_ = fmt::format("{} (epoch {}, step {})", run_.resume, epochs_done_, resume_step_);
    }

    int run() {
        describe();
        for (int epoch = epochs_done_ + 1; epoch <= config_.epochs; ++epoch) {
            const int code = run_epoch(epoch);
            if (code != kExitOk) return code;
        }
        if (epochs_done_ >= config_.epochs && resume_step_ == 0 && session_steps_ == 0)
            fmt::print("nothing to train: the run is at epoch {} of --epochs {}\n", epochs_done_, config_.epochs);
        finish();
        return kExitOk;
    }

private:
    std::size_t steps_per_epoch() const { return train::steps_per_epoch(train_.shape()[0], config_.batch); }

    void describe() {
        std::size_t count = 0;
        for (const tg::Parameter<T>* p : parameters_) count += p->value.size();
        fmt::print("model      {} ({} parameters, {})\n", model_->describe(), count, config_.dtype);
        fmt::print("optimizer  {} lr {:g}, batch {}, {} steps per epoch, seed {}\n", config_.optimizer, config_.lr,
                   config_.batch, steps_per_epoch(), config_.seed);
        fmt::print("data       {} train x {} test rows of {}\n", train_.shape()[0], test_.shape()[0], train_.shape()[1]);
        if (!run_.resume.empty())
            fmt::print("resuming   {} after epoch {}, step {}\n", run_.resume, epochs_done_, resume_step_);
        std::fflush(stdout);
    }

    int run_epoch(int epoch) {
        const std::size_t n = train_.shape()[0], steps = steps_per_epoch();
        // The epoch's order is drawn from the state at its start; a mid-epoch checkpoint stores
        // that state and the step, and the resumed run draws the same order and skips ahead.
        const std::mt19937_64 at_start = shuffle_rng_;
        const std::vector<std::size_t> order = shuffled_indices(n, shuffle_rng_);
        const std::size_t first = std::exchange(resume_step_, 0);
        double loss_sum = std::exchange(partial_loss_sum_, 0.0);
        std::size_t loss_count = std::exchange(partial_loss_count_, 0);
        const double earlier_seconds = std::exchange(partial_seconds_, 0.0);
        Progress progress(parse_progress_mode(run_.progress), epoch, config_.epochs, steps, first);
        const auto start = Clock::now();
        for (std::size_t s = first; s < steps; ++s) {
            const std::size_t begin = s * config_.batch, rows = std::min(config_.batch, n - begin);
            gather(order, begin, rows);
            set_learning_rate(std::size_t(epoch - 1) * steps + s, std::size_t(config_.epochs) * steps);
            try {
                loss_sum += step();
            } catch (const Diverged& d) {
                progress.finish();
                return diverged(epoch, s, d.what);
            } catch (const tg::AnomalyError& e) {
                progress.finish();
                return diverged(epoch, s, e.what());
            }
            ++loss_count;
            progress.update(s + 1, loss_sum / double(loss_count));
            if (++session_steps_ == run_.stop_after_steps) std::raise(SIGINT);
            if (stop_requested() && s + 1 < steps) {
                progress.finish();
                const double secs = earlier_seconds + seconds_since(start);
                save(epoch - 1, s + 1, at_start, loss_sum, loss_count, secs);
                return stopped(fmt::format("epoch {}, step {}/{}", epoch, s + 1, steps));
            }
        }
        EpochRecord r;
        r.epoch = epoch;
        r.seconds = earlier_seconds + seconds_since(start);
        r.train_loss = loss_sum / double(std::max<std::size_t>(loss_count, 1));
        progress.finish();
        const auto eval_start = Clock::now();
        r.train_mse = reconstruction_mse(train_);
        r.test_mse = reconstruction_mse(test_);
        r.eval_seconds = seconds_since(eval_start);
        history_.push_back(r);
        epochs_done_ = epoch;
        fmt::print("epoch {:>3}/{}  loss {:.6g}  train MSE {:.6g}  test MSE {:.6g}  {} (+{} eval)\n", epoch,
                   config_.epochs, r.train_loss, r.train_mse, r.test_mse, format_duration(r.seconds),
                   format_duration(r.eval_seconds));
        std::fflush(stdout);
        const bool due = run_.checkpoint_every > 0 && epoch % run_.checkpoint_every == 0;
        if (due || epoch == config_.epochs || stop_requested()) save(epoch, 0, shuffle_rng_, 0.0, 0, 0.0);
        if (stop_requested() && epoch < config_.epochs) return stopped(fmt::format("the end of epoch {}", epoch));
        return kExitOk;
    }

    // One optimisation step on batch_; returns its loss.
    double step() {
        tape_.clear();
        optimizer_->zero_grad();
        const tg::Var<T> loss = model_->loss(tape_, batch_);
        const double value = double(loss.value()(0, 0));
        if (!std::isfinite(value)) throw Diverged{fmt::format("the training loss is {}", value)};
        tape_.backward(loss);
        if (config_.clip_grad_norm > 0) tg::clip_grad_norm(parameters_, config_.clip_grad_norm);
        optimizer_->step();
        return value;
    }

    // A function of the global step alone, so a resumed run continues the same schedule.
    void set_learning_rate(std::size_t step, std::size_t total) {
        constexpr double pi = 3.14159265358979323846;
        optimizer_->learning_rate =
            config_.lr_schedule == "cosine" ? config_.lr * 0.5 * (1 + std::cos(pi * double(step) / double(total))) : config_.lr;
    }

    void gather(const std::vector<std::size_t>& order, std::size_t begin, std::size_t rows) {
        const std::size_t d = train_.shape()[1];
        tg::ensure_shape(batch_, tg::Shape{rows, d});
        for (std::size_t i = 0; i < rows; ++i) {
            const T* src = train_.data() + order[begin + i] * d;
            std::copy(src, src + d, batch_.data() + i * d);
        }
    }

    double reconstruction_mse(const tg::Matrix<T>& X) {
        constexpr std::size_t chunk = 1000;
        const std::size_t n = X.shape()[0];
        double total = 0;
        for (std::size_t first = 0; first < n; first += chunk) {
            const tg::Matrix<T> block = row_block(X, first, std::min(chunk, n - first));
            eval_tape_.clear();
            total += sum_squared_difference(model_->reconstruct(eval_tape_, block).value(), block);
        }
        return total / double(X.size());
    }

    tg::Matrix<T> reconstruction(const tg::Matrix<T>& x) {
        eval_tape_.clear();
        return model_->reconstruct(eval_tape_, x).value();
    }

    // The corruption the denoising model trains with, drawn from a generator of its own: the
    // model's noise RNG is training state and must not move.
    tg::Matrix<T> corrupted(const tg::Matrix<T>& x, const tg::models::Corruption& c) const {
        std::mt19937_64 rng(noise_seed(config_.seed) + 1);
        std::bernoulli_distribution drop(c.kind == tg::models::Corruption::Kind::masking ? c.amount : 0.0);
        std::normal_distribution<double> noise(0.0, c.amount);
        tg::Matrix<T> out = x;
        for (T& v : out) v = c.kind == tg::models::Corruption::Kind::masking ? (drop(rng) ? T(0) : v) : T(v + noise(rng));
        return out;
    }

    void save(int epochs_done, std::size_t step, const std::mt19937_64& shuffle, double loss_sum,
              std::size_t loss_count, double seconds) {
        nlohmann::json meta;
        meta["config"] = config_;
        meta["model"] = model_->describe();
        meta["command_line"] = run_.command_line;
        TrainingState state{epochs_done, step, shuffle, std::nullopt, loss_sum, loss_count, seconds, history_};
        if (const std::mt19937_64* noise = noise_rng(*model_)) state.noise_rng = *noise;
        write_training_state(meta, state);
        save_checkpoint<T>(run_.out, fmt::format("e{:04}-s{:06}", epochs_done, step), std::move(meta), parameters_,
                           *optimizer_);
        last_checkpoint_ = fmt::format("{} (epoch {}, step {})", run_.out, epochs_done, step);
    }

    int stopped(const std::string& where) {
        fmt::print("stopped by signal {} at {}; checkpoint saved in {}\nresume with: train --resume {}\n",
                   stop_requested(), where, last_checkpoint_, run_.out);
        return 128 + stop_requested();
    }

    int diverged(int epoch, std::size_t step, const std::string& what) {
        std::fflush(stdout);
        fmt::print(stderr, "error: training diverged at epoch {}, step {}: {}\n", epoch, step + 1, what);
        if (last_checkpoint_.empty())
            fmt::print(stderr, "no checkpoint was written before it\n");
        else
            fmt::print(stderr, "the last good checkpoint is kept: {}\n", last_checkpoint_);
        fmt::print(stderr, "try a smaller --lr or --clip-grad-norm{}\n",
                   run_.anomaly ? "" : "; --anomaly names the first op that produces NaN or Inf");
        return kExitDiverged;
    }

    void finish() {
        if (history_.empty()) return;
        std::vector<std::string> pictures;
        auto attempt = [&](const char* what, auto&& draw) {
            try {
                pictures.push_back(draw());
            } catch (const std::exception& e) {
                fmt::print(stderr, "warning: could not draw the {}: {}\n", what, e.what());
            }
        };
        if (image_rows_ > 0) {
            attempt("filters", [&] { return draw_filters(run_.out, converted<float>(model_->filters()), image_rows_, image_cols_); });
            const tg::Matrix<T> originals = row_block(test_, 0, std::min(run_.pictures, test_.shape()[0]));
            std::vector<tg::Matrix<float>> rows{converted<float>(originals)};
            if (auto* dae = dynamic_cast<tg::models::DenoisingAutoencoder<T>*>(model_.get())) {
                // Also what the model was trained to do: clean up a corrupted input.
                const tg::Matrix<T> noisy = corrupted(originals, dae->corruption);
                rows.push_back(converted<float>(noisy));
                rows.push_back(converted<float>(reconstruction(noisy)));
            }
            rows.push_back(converted<float>(reconstruction(originals)));
            attempt("reconstructions", [&] { return draw_reconstructions(run_.out, rows, image_rows_, image_cols_); });
        }
        attempt("loss curves", [&] { return draw_loss_curves(run_.out, history_, config_.model); });
        const EpochRecord& last = history_.back();
        double seconds = 0;
        for (const EpochRecord& r : history_) seconds += r.seconds;
        nlohmann::json metrics{{"model", model_->describe()}, {"config", config_},
                               {"epochs", epochs_done_},      {"train_mse", last.train_mse},
                               {"test_mse", last.test_mse},   {"mean_epoch_seconds", seconds / double(history_.size())},
                               {"pictures", pictures},        {"command_line", run_.command_line}};
        write_json_file((std::filesystem::path(run_.out) / "metrics.json").string(), metrics);
        fmt::print("final      train MSE {:.6g}  test MSE {:.6g}  ({} per epoch)\n", last.train_mse, last.test_mse,
                   format_duration(seconds / double(history_.size())));
        fmt::print("checkpoint {}/{}\n", run_.out, kCheckpointFile);
        for (const std::string& p : pictures) fmt::print("picture    {}\n", p);
    }

    TrainConfig config_;
    RunOptions run_;
    std::size_t image_rows_, image_cols_;
    tg::Matrix<T> train_, test_, batch_;
    std::unique_ptr<tg::models::Model<T>> model_;
    std::vector<tg::Parameter<T>*> parameters_;
    std::unique_ptr<tg::Optimizer<T>> optimizer_;
    tg::Tape<T> tape_, eval_tape_;
    std::mt19937_64 shuffle_rng_;
    std::vector<EpochRecord> history_;
    int epochs_done_ = 0;
    std::size_t resume_step_ = 0, partial_loss_count_ = 0, session_steps_ = 0;
    double partial_loss_sum_ = 0, partial_seconds_ = 0;
    std::string last_checkpoint_;
};

template <class T>
int train_as(const TrainConfig& config, const RunOptions& run, Data& data, const nlohmann::json* resume) {
    Trainer<T> trainer(config, run, data);
    if (resume) trainer.restore(*resume);
    return trainer.run();
}

}  // namespace

int run_training(const TrainConfig& config, const RunOptions& run, Data& data, const nlohmann::json* resume) {
    return config.dtype == "float64" ? train_as<double>(config, run, data, resume)
                                     : train_as<float>(config, run, data, resume);
}

}  // namespace train
