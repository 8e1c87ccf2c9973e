#pragma once
// The training loop of the library: any Model<T> with any Optimizer<T> on a training and a
// test matrix, with shuffling, evaluation every N epochs, a progress display, atomic checkpoints,
// exact resume, a clean stop on SIGINT/SIGTERM, divergence detection, metrics and pictures.
// `train` is a command line over this class; a user's own model gets all of it the same way:
//
//     tg::train::Trainer<float> trainer(model, adam, train_rows, test_rows, {.epochs = 5, .out = "out/run"});
//     if (tg::train::has_checkpoint("out/run")) trainer.resume();
//     tg::train::TrainResult result = trainer.fit();
//
// Exactness: the epoch's order is permutation(n, seed, epoch) and every model's training noise
// is keyed by (seed, epoch, sample), so a checkpoint needs only counters, and a resumed run
// (after a clean stop or a SIGKILL) ends bit for bit where the uninterrupted run ends.
#include <tapegrad/models/model.hpp>
#include <tapegrad/optim.hpp>
#include <tapegrad/train/data_parallel.hpp>
#include <tapegrad/train/history.hpp>
#include <tapegrad/train/options.hpp>
#include <tapegrad/train/progress.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tg::train {

enum class LrSchedule { constant, cosine };

struct TrainerOptions {
    int epochs = 10;
    std::size_t batch = 64;
    std::uint64_t seed = 1;  ///< shuffling: epoch e visits the rows in permutation(n, seed, e)
    LrSchedule lr_schedule = LrSchedule::constant;  ///< cosine: the optimizer's rate -> 0 over all epochs
    double clip_grad_norm = 0;                      ///< 0: off
    std::string out{};            ///< checkpoints, metrics.json, pictures; empty: write nothing
    int checkpoint_every = 1;   ///< epochs; 0: only at the end (and on a stop)
    /// Evaluate (train and test MSE of the clean reconstruction) after every eval_every-th
    /// epoch, and always after the last epoch and an epoch at whose end a stop came; at least 1.
    /// Evaluation does not touch the training state: any value trains the same bits.
    int eval_every = 1;
    /// The train MSE over this many training rows spread evenly over the set (evaluation_rows(),
    /// the same rows every epoch); 0, or at least the set's size: every row. The test MSE always
    /// covers every test row. Why a subset: on the main job (scripts/main-job.sh, 784x100) all
    /// 70,000 rows cost 0.20 s after a 0.51 s epoch (38 %); with 5,000 training rows 0.044 s
    /// (9 %), and the train MSE read 0.19-0.33 % below the all-rows value over its 30 epochs
    /// (10,000 rows: 0.069 s, 0.22-0.43 % below). 5,000 rather than 10,000 keeps a conv epoch's
    /// evaluation under 10 % of its training (bench_epoch).
    std::size_t eval_train_rows = 5000;
    /// Flush denormal floats to zero while fit() and reconstruction_mse() run
    /// (tg::FlushDenormals; false: the caller's mode, normally IEEE gradual underflow). On Intel
    /// cores each operation on a denormal costs a microcode assist: a conv epoch took 7.2 s with
    /// them and 6.3 s without (bench_epoch, Xeon 2.8 GHz). It changes the numbers a run
    /// computes, so a resumed run keeps its value (a `train` option).
    bool flush_denormals = true;
    bool anomaly = false;       ///< name the first op that produces NaN/Inf (slower)
    ProgressMode progress = ProgressMode::lines;
    bool verbose = true;        ///< print the run's description and one line per epoch
    std::size_t pictures = 16;  ///< test images in reconstructions.png
    std::size_t image_rows = 0, image_cols = 0;  ///< rows are images of this size (0: no pictures of rows)
    /// Called after every optimisation step with the number of steps this session has taken
    /// (a progress hook; `train --stop-after-steps` raises SIGINT from it to test stopping).
    std::function<void(std::size_t steps)> after_step{};
    nlohmann::json config{};      ///< the caller's description of the run, kept in checkpoints and metrics
    std::string command_line{};   ///< for the record
    std::string title = "model";  ///< the loss picture's title
    std::string summary{};          ///< printed before the learning rate (e.g. "adam, seed 1")
    /// Data parallelism: the processes that share every batch (data_parallel.hpp); null: this
    /// process alone. Each rank takes its slice of every global batch of `batch` rows, the
    /// gradients are summed, evaluation is sharded and reduced, and only rank 0 prints and
    /// writes (checkpoints, metrics, pictures).
    Communicator* communicator = nullptr;
};

struct TrainResult {
    enum class Status { completed, stopped, diverged } status = Status::completed;
    int signal = 0;             ///< stopped: the signal number
    std::string message{};        ///< stopped / diverged: what happened
    int epochs_done = 0;
    /// Of the last evaluated epoch, mse_epoch: the last epoch of a completed run, or the epoch at
    /// whose end a stop came; an earlier one after a stop mid-epoch or a divergence. NaN (and
    /// mse_epoch 0) if no epoch has been evaluated.
    double train_mse = 0, test_mse = 0;
    int mse_epoch = 0;
    std::size_t train_mse_rows = 0;      ///< training rows train_mse averages (test_mse: every test row)
    std::vector<EpochRecord> history{};  ///< every epoch so far (timings included)
};

/// True if `dir` holds a checkpoint.json (complete: checkpoints are written atomically).
bool has_checkpoint(const std::string& dir);

template <class T>
class Trainer {
public:
    /// The model, optimizer and data are referenced, not copied: keep them alive. The
    /// optimizer's learning_rate is the base rate of the schedule. Throws UsageError for options
    /// that cannot work (batch 0, eval_every < 1) and data that does not fit.
    Trainer(models::Model<T>& model, Optimizer<T>& optimizer, const Matrix<T>& train, const Matrix<T>& test,
            TrainerOptions options);
    // The data must outlive the trainer: temporaries are refused at compile time.
    Trainer(models::Model<T>&, Optimizer<T>&, Matrix<T>&&, const Matrix<T>&, TrainerOptions) = delete;
    Trainer(models::Model<T>&, Optimizer<T>&, const Matrix<T>&, Matrix<T>&&, TrainerOptions) = delete;
    ~Trainer();

    /// Continues the run whose checkpoint is in `dir` (default: options.out): parameters,
    /// optimizer state, position and history. Throws tg::io::FormatError (naming the file) if
    /// it does not fit this model and data, UsageError if there is no checkpoint.
    void resume(const std::string& dir = "");
    /// The same from an already read checkpoint.json (see read_checkpoint).
    void restore(const nlohmann::json& checkpoint, const std::string& dir);

    /// Trains up to options.epochs. Stops early on SIGINT/SIGTERM (after saving) or when the
    /// loss is not finite (keeping the last good checkpoint).
    TrainResult fit();

    /// The per-pixel MSE of the clean reconstruction of x (every row).
    double reconstruction_mse(const Matrix<T>& x);

private:
    struct State;
    std::unique_ptr<State> s_;
};

}  // namespace tg::train
