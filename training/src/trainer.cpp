#include "tapegrad/train/trainer.hpp"

#include "evaluator.hpp"

#include "tapegrad/train/checkpoint.hpp"
#include "tapegrad/train/config.hpp"
#include "tapegrad/train/evaluation.hpp"
#include "tapegrad/train/matrix_utils.hpp"
#include "tapegrad/train/pictures.hpp"
#include "tapegrad/train/stop_signal.hpp"

#include <tapegrad/blas.hpp>
#include <tapegrad/io/errors.hpp>
#include <tapegrad/random.hpp>
#include <tapegrad/threads.hpp>

#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numbers>

namespace tg::train {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Diverged { std::string what; };  // a step whose loss is not finite: training cannot continue

}  // namespace

bool has_checkpoint(const std::string& dir) {
    std::error_code ec;
    return std::filesystem::is_regular_file(std::filesystem::path(dir) / kCheckpointFile, ec);
}

template <class T>
struct Trainer<T>::State {
    State(models::Model<T>& m, Optimizer<T>& o, const Matrix<T>& tr, const Matrix<T>& te, TrainerOptions opts)
        : model(m), optimizer(o), train(tr), test(te), options(std::move(opts)) {}

    models::Model<T>& model;
    Optimizer<T>& optimizer;
    const Matrix<T>& train;
    const Matrix<T>& test;
    TrainerOptions options;
    std::vector<Parameter<T>*> parameters = model.parameters();
    const double base_lr = optimizer.learning_rate;
    Tape<T> tape;
    Matrix<T> batch;
    std::vector<std::size_t> order;
    std::vector<std::uint64_t> batch_ids;
    const ByteLevels train_levels = byte_levels_of(train);  // empty unless pixels k / 255
    // Where the run stands (what a checkpoint records): epochs done, the history, and the part
    // of the next epoch a resumed run starts with (all zero at an epoch's start).
    TrainingState at;
    std::size_t session_steps = 0;
    std::string last_checkpoint;
    int checkpoint_threads = 0;  // the worker pool of the checkpoint resumed from (0: none, or not recorded)
    Communicator& comm = options.communicator ? *options.communicator : single_process();
    DataParallel<T> data_parallel{comm, parameters};
    const bool leader = comm.rank() == 0;  // the one rank that prints and writes
    Evaluator<T> evaluator{comm};
    // Fixed for the run: every evaluated epoch's train MSE is over the same rows.
    const std::vector<std::size_t> eval_train = evaluation_rows(train.shape()[0], options.eval_train_rows);
    const std::vector<std::size_t> eval_test = evaluation_rows(test.shape()[0], 0);

    // Progress and summaries on stdout (rank 0's), unless the caller asked for silence.
    template <class... Args>
    void say(fmt::format_string<Args...> format, Args&&... args) {
        if (options.verbose && leader) fmt::print(format, std::forward<Args>(args)...);
    }

    std::size_t steps_per_epoch() const { return tg::train::steps_per_epoch(train.shape()[0], options.batch); }

    void describe() {
        std::size_t count = 0;
        for (const Parameter<T>* p : parameters) count += p->value.size();
        say("model      {} ({} parameters, {})\n", model.describe(), count, sizeof(T) == 4 ? "float32" : "float64");
        say("training   {}lr {:g}{}, batch {}, {} steps per epoch\n", options.summary.empty() ? "" : options.summary + ", ",
                   base_lr, options.lr_schedule == LrSchedule::cosine ? " (cosine decay)" : "", options.batch, steps_per_epoch());
        say("data       {} train x {} test rows of {}\n", train.shape()[0], test.shape()[0], train.shape()[1]);
        say("evaluation {}\n", evaluation_plan(options.eval_every, eval_train.size(), train.shape()[0], test.shape()[0]));
        if (comm.size() > 1)
            say("parallel   {} processes, each a slice of every batch of {}; {} values reduced per step\n", comm.size(),
                options.batch, data_parallel.reduced_values());
        if (at.epochs_done > 0 || at.step_in_epoch > 0)
            say("resuming   {} after epoch {}, step {}\n", last_checkpoint, at.epochs_done, at.step_in_epoch);
        // Products split over the threads round differently from one thread's (OpenBLAS rounds a
        // block of rows differently; measured: parameters 1e-7 apart, normwise, after an epoch in float32).
        if (checkpoint_threads > 0 && checkpoint_threads != tg::blas::num_threads())
            say("threads    {} threads; the checkpoint was written with {}: the run continues to within "
                "float rounding of an uninterrupted run, not bit for bit\n",
                tg::blas::num_threads(), checkpoint_threads);
        std::fflush(stdout);
    }

    TrainResult run() {
        data_parallel.broadcast_parameters();  // a no-op for one process
        describe();
        for (int epoch = at.epochs_done + 1; epoch <= options.epochs; ++epoch) {
            TrainResult r = run_epoch(epoch);
            if (r.status != TrainResult::Status::completed) return r;
        }
        if (at.epochs_done >= options.epochs && at.step_in_epoch == 0 && session_steps == 0)
            say("nothing to train: the run is at epoch {} of {}\n", at.epochs_done, options.epochs);
        return finish();
    }

    TrainResult run_epoch(int epoch) {
        const std::size_t n = train.shape()[0], steps = steps_per_epoch();
        order = tg::random::permutation(n, options.seed, std::uint64_t(epoch));
        const std::size_t first = std::exchange(at.step_in_epoch, 0);  // a resumed run's partial epoch
        double loss_sum = std::exchange(at.epoch_loss_sum, 0.0);
        std::size_t loss_count = std::exchange(at.epoch_loss_count, 0);
        const double earlier_seconds = std::exchange(at.epoch_seconds, 0.0);
        double gather_seconds = std::exchange(at.epoch_gather_seconds, 0.0);
        Progress progress(leader ? options.progress : ProgressMode::none, epoch, options.epochs, steps, first);
        const auto start = Clock::now();
        for (std::size_t s = first; s < steps; ++s) {
            const auto gather_start = Clock::now();  // two clock reads: ~50 ns of a step's 100s of µs
            const std::size_t rows = gather(s);
            gather_seconds += seconds_since(gather_start);
            set_learning_rate(std::size_t(epoch - 1) * steps + s, std::size_t(options.epochs) * steps);
            try {
                loss_sum += step(epoch, rows);
            } catch (const Diverged& d) {
                progress.finish();
                return diverged(epoch, s, d.what);
            } catch (const AnomalyError& e) {
                progress.finish();
                // Found on this rank only: the others wait in the next reduction, so end them all.
                if (comm.size() > 1) {
                    fmt::print(stderr, "error: rank {}: {}\n", comm.rank(), e.what());
                    comm.abort(4);
                }
                return diverged(epoch, s, e.what());
            }
            ++loss_count;
            progress.update(s + 1, loss_sum / double(loss_count));
            ++session_steps;
            if (options.after_step) options.after_step(session_steps);
            if (stop_agreed() && s + 1 < steps) {
                progress.finish();
                save({.epochs_done = epoch - 1,
                      .step_in_epoch = s + 1,
                      .epoch_loss_sum = loss_sum,
                      .epoch_loss_count = loss_count,
                      .epoch_seconds = earlier_seconds + seconds_since(start),
                      .history = at.history,
                      .epoch_gather_seconds = gather_seconds});
                return stopped(fmt::format("epoch {}, step {}/{}", epoch, s + 1, steps));
            }
        }
        EpochRecord r;
        r.epoch = epoch;
        r.seconds = earlier_seconds + seconds_since(start);
        r.train_loss = loss_sum / double(std::max<std::size_t>(loss_count, 1));
        r.gather_seconds = gather_seconds;
        progress.finish();
        const bool eval_due = epoch % options.eval_every == 0 || epoch == options.epochs;
        if (eval_due) evaluate(r);
        const bool stop = stop_agreed();
        if (stop && !eval_due) evaluate(r);  // the run ends here for now: report where it stands
        at.history.push_back(r);
        at.epochs_done = epoch;
        if (r.evaluated()) {
            say("epoch {:>3}/{}  loss {:.6g}  {} {:.6g}  test MSE {:.6g}  {} (+{} eval)\n", epoch, options.epochs,
                r.train_loss, train_mse_label(r.train_mse_rows, train.shape()[0]), *r.train_mse, *r.test_mse,
                format_duration(r.seconds), format_duration(r.eval_seconds));
            if (!r.test_terms.empty()) say("           test loss {}\n", terms_line(r.test_terms));
        } else {
            say("epoch {:>3}/{}  loss {:.6g}  not evaluated (every {} epochs)  {}\n", epoch, options.epochs, r.train_loss,
                options.eval_every, format_duration(r.seconds));
        }
        std::fflush(stdout);
        const bool due = options.checkpoint_every > 0 && epoch % options.checkpoint_every == 0;
        if (due || epoch == options.epochs || stop) save(at);  // at an epoch's end
        if (stop && epoch < options.epochs) return stopped(fmt::format("the end of epoch {}", epoch));
        return TrainResult{};
    }

    // Whether to stop now: a signal here, or (data-parallel) on any rank, so that all stop at
    // the same step.
    bool stop_agreed() { return comm.size() > 1 ? comm.any(stop_requested() != 0) : stop_requested() != 0; }

    // One optimisation step on `batch`, this rank's slice of a global batch of `global_rows`;
    // returns the global batch's loss.
    double step(int epoch, std::size_t global_rows) {
        tape.clear();
        optimizer.zero_grad();
        const std::size_t local_rows = batch.shape()[0];
        double value = 0;
        if (local_rows > 0) {
            const Var<T> loss = model.loss(tape, models::Batch<T>(batch, batch_ids, std::uint64_t(epoch)));
            value = double(loss.value()(0, 0));
            if (std::isfinite(value)) tape.backward(loss);
        }
        if (comm.size() > 1) value = data_parallel.reduce_gradients(local_rows, global_rows, value);
        if (!std::isfinite(value)) throw Diverged{fmt::format("the training loss is {}", value)};
        if (options.clip_grad_norm > 0) clip_grad_norm(parameters, options.clip_grad_norm);
        optimizer.step();
        return value;
    }

    // A function of the global step alone, so a resumed run continues the same schedule.
    void set_learning_rate(std::size_t step, std::size_t total) {
        optimizer.learning_rate = options.lr_schedule == LrSchedule::cosine
                                      ? base_lr * 0.5 * (1 + std::cos(std::numbers::pi * double(step) / double(total)))
                                      : base_lr;
    }

    // The train MSE over the run's fixed subset, the test MSE over every test row.
    void evaluate(EpochRecord& r) {
        const auto start = Clock::now();
        r.train_mse = evaluator.mse(model, train, eval_train);
        r.test_mse = evaluator.mse(model, test, eval_test);
        r.train_mse_rows = eval_train.size();
        const std::vector<std::string> names = model.loss_term_names();
        const std::vector<double> terms = evaluator.loss_terms(model, test, eval_test, std::uint64_t(r.epoch));
        for (std::size_t k = 0; k < names.size(); ++k) r.test_terms.emplace_back(names[k], terms[k]);
        r.eval_seconds = seconds_since(start);
    }

    // Step s's batch (this rank's shard of its rows of this epoch's order) and its ids (the noise's
    // keys); returns the step's global row count.
    std::size_t gather(std::size_t s) {
        const std::size_t begin = s * options.batch, rows = std::min(options.batch, train.shape()[0] - begin);
        const auto [lo, hi] = data_parallel.shard(rows);  // all rows for one process
        const std::span<const std::size_t> ids(order.data() + begin + lo, hi - lo);
        batch_ids.assign(ids.begin(), ids.end());
        if (train_levels.empty()) gather_rows(train, ids, batch);
        else gather_level_rows(train_levels, train.shape()[1], ids, batch);
        return rows;
    }

    void save(const TrainingState& state) {
        if (options.out.empty()) return;
        last_checkpoint = fmt::format("{} (epoch {}, step {})", options.out, state.epochs_done, state.step_in_epoch);
        if (!leader) return;  // rank 0 writes; the others know where it is
        nlohmann::json meta;
        meta["config"] = options.config;
        meta["model"] = model.describe();
        meta["command_line"] = options.command_line;
        meta["threads"] = tg::blas::num_threads();  // the worker pool: results depend on it (to rounding)
        write_training_state(meta, state);
        save_checkpoint<T>(options.out, fmt::format("e{:04}-s{:06}", state.epochs_done, state.step_in_epoch), std::move(meta),
                           parameters, optimizer);
    }

    TrainResult stopped(const std::string& where) {
        say("stopped by signal {} at {}; checkpoint saved in {}\n", stop_requested(), where, last_checkpoint);
        TrainResult r = summary();
        r.status = TrainResult::Status::stopped;
        r.signal = stop_requested();
        r.message = "stopped at " + where;
        return r;
    }

    TrainResult diverged(int epoch, std::size_t step, const std::string& what) {
        std::fflush(stdout);
        if (leader) {  // every rank sees the same global loss
            fmt::print(stderr, "error: training diverged at epoch {}, step {}: {}\n", epoch, step + 1, what);
            if (last_checkpoint.empty())
                fmt::print(stderr, "no checkpoint was written before it\n");
            else
                fmt::print(stderr, "the last good checkpoint is kept: {}\n", last_checkpoint);
        }
        TrainResult r = summary();
        r.status = TrainResult::Status::diverged;
        r.message = what;
        return r;
    }

    TrainResult summary() const {
        TrainResult r;
        r.epochs_done = at.epochs_done;
        r.history = at.history;
        r.train_mse = r.test_mse = std::numeric_limits<double>::quiet_NaN();
        if (const EpochRecord* e = last_evaluated(at.history)) {
            r.train_mse = *e->train_mse;
            r.test_mse = *e->test_mse;
            r.mse_epoch = e->epoch;
            r.train_mse_rows = e->train_mse_rows;
        }
        return r;
    }

    std::vector<std::string> draw_pictures() {
        std::vector<std::string> pictures;
        auto attempt = [&](const char* what, auto&& draw) {
            try {
                pictures.push_back(draw());
            } catch (const std::exception& e) {
                fmt::print(stderr, "warning: could not draw the {}: {}\n", what, e.what());
            }
        };
        const std::size_t h = options.image_rows, w = options.image_cols;
        if (h > 0 && w > 0) {
            if (const Matrix<T>* filters = model.filters()) {
                const Shape tile = model.filter_size();
                attempt("filters", [&] {
                    return draw_filters(options.out, converted<float>(*filters), tile[0] ? tile[0] : h, tile[0] ? tile[1] : w);
                });
            }
            const std::vector<Matrix<float>> rows =
                evaluator.picture_rows(model, row_block(test, 0, std::min(options.pictures, test.shape()[0])));
            attempt("reconstructions", [&] { return draw_reconstructions(options.out, rows, h, w); });
            if (model.latent_size() > 0)
                attempt("samples", [&] { return draw_image_grid(options.out, "samples.png", converted<float>(evaluator.prior_samples(model, 64)), h, w, 8); });
            if (model.latent_size() == 2)
                attempt("latent grid", [&] { return draw_image_grid(options.out, "latent-grid.png", converted<float>(evaluator.latent_grid(model, 16)), h, w, 16); });
        }
        attempt("loss curves", [&] { return draw_loss_curves(options.out, at.history, options.title, train.shape()[0]); });
        return pictures;
    }

    TrainResult finish() {
        TrainResult r = summary();
        if (at.history.empty() || options.out.empty() || !leader) return r;
        const std::vector<std::string> pictures = draw_pictures();
        // The MSEs are of epoch mse_epoch (the last evaluated; a NaN is written as null).
        nlohmann::json metrics{{"model", model.describe()},     {"config", options.config},
                               {"epochs", at.epochs_done},         {"train_mse", r.train_mse},
                               {"test_mse", r.test_mse},        {"mse_epoch", r.mse_epoch},
                               {"train_mse_rows", r.train_mse_rows}, {"train_rows", train.shape()[0]},
                               {"test_mse_rows", test.shape()[0]},   {"eval_every", options.eval_every},
                               {"pictures", pictures},          {"command_line", options.command_line}};
        metrics.update(timing_summary(at.history));
        if (const EpochRecord* e = last_evaluated(at.history))
            for (const auto& [name, value] : e->test_terms) metrics["test_terms"][name] = value;
        write_json_file((std::filesystem::path(options.out) / "metrics.json").string(), metrics);
        const std::string per_epoch = format_duration(metrics["mean_epoch_seconds"].get<double>());
        if (r.mse_epoch == 0)
            say("final      no epoch was evaluated ({} per epoch)\n", per_epoch);
        else
            say("final      {} {:.6g}  test MSE {:.6g}  (after epoch {}; {} per epoch, +{} per evaluation)\n",
                train_mse_label(r.train_mse_rows, train.shape()[0]), r.train_mse, r.test_mse, r.mse_epoch, per_epoch,
                format_duration(metrics["mean_eval_seconds"].get<double>()));
        say("checkpoint {}/{}\n", options.out, kCheckpointFile);
        for (const std::string& p : pictures) say("picture    {}\n", p);
        return r;
    }
};

template <class T>
Trainer<T>::Trainer(models::Model<T>& model, Optimizer<T>& optimizer, const Matrix<T>& train, const Matrix<T>& test,
                    TrainerOptions options)
    : s_(std::make_unique<State>(model, optimizer, train, test, std::move(options))) {
    if (s_->options.batch == 0) throw UsageError("Trainer: the batch size must be at least 1");
    if (train.shape()[0] == 0) throw UsageError("Trainer: the training data has no rows");
    if (test.shape()[1] != train.shape()[1])
        throw UsageError("Trainer: training rows have " + std::to_string(train.shape()[1]) + " values but test rows " +
                         std::to_string(test.shape()[1]));
    if (s_->options.eval_every < 1)
        throw UsageError("Trainer: eval_every (evaluate every N epochs) must be at least 1, not " +
                         std::to_string(s_->options.eval_every));
    s_->tape.anomaly_mode = s_->evaluator.tape.anomaly_mode = s_->options.anomaly;
}

template <class T>
Trainer<T>::~Trainer() = default;

template <class T>
void Trainer<T>::resume(const std::string& dir) {
    const std::string from = dir.empty() ? s_->options.out : dir;
    restore(read_checkpoint(from), from);
}

template <class T>
void Trainer<T>::restore(const nlohmann::json& checkpoint, const std::string& dir) {
    const std::string where = (std::filesystem::path(dir) / kCheckpointFile).string();
    restore_checkpoint<T>(dir, checkpoint, s_->parameters, s_->optimizer);
    // Continuing in the same directory: clear what a kill mid-write left there now, since a run
    // with nothing left to train never saves (and prunes) again.
    std::error_code ec;
    if (s_->leader && !s_->options.out.empty() && std::filesystem::equivalent(dir, s_->options.out, ec))
        remove_unfinished_writes(dir, checkpoint);
    s_->at = read_training_state(checkpoint, where, s_->steps_per_epoch());
    s_->last_checkpoint = dir;
    s_->checkpoint_threads = read_thread_count(checkpoint, where);
}

template <class T>
TrainResult Trainer<T>::fit() {
    const FlushDenormals flush(s_->options.flush_denormals);
    return s_->run();
}

template <class T>
double Trainer<T>::reconstruction_mse(const Matrix<T>& x) {
    const FlushDenormals flush(s_->options.flush_denormals);
    return s_->evaluator.mse(s_->model, x, evaluation_rows(x.shape()[0], 0));
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace tg::train
