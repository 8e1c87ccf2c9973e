#pragma once
// Checkpoints: every parameter and optimizer buffer as a .npy file, then one JSON file naming
// them together with the configuration, counters and loss history. No generator state: noise and
// shuffling are functions of (seed, epoch, sample), so the counters say where a run stands. Each file is
// written atomically and the JSON goes last, so a reader sees the previous checkpoint or the
// new one, complete, never a mixture. Array files carry the checkpoint's tag in their name
// (checkpoint/e0003-s000000-param-W.npy): a new checkpoint never overwrites a file the
// current JSON names, and files no JSON names any more are removed after the switch.
#include <tapegrad/train/history.hpp>

#include <tapegrad/optim.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace tg::train {

inline constexpr const char* kCheckpointFile = "checkpoint.json";
inline constexpr const char* kCheckpointFormat = "tapegrad-train-checkpoint";
// Version 1 stored std::mt19937_64 states for the noise and the shuffling; version 2 has none.
inline constexpr int kCheckpointVersion = 2;

// Writes the arrays into dir/checkpoint/, adds their names (and the optimizer's step count) to
// `meta`, writes dir/checkpoint.json and prunes arrays of older checkpoints.
template <class T>
void save_checkpoint(const std::string& dir, const std::string& tag, nlohmann::json meta,
                     const std::vector<tg::Parameter<T>*>& parameters, tg::Optimizer<T>& optimizer);

// Removes what interrupted writes left in dir (a run killed while saving, or while writing its
// metrics or pictures): array files the checkpoint `meta` (dir's, as read) does not name and the
// atomic writer's temporary files. For a run that resumes dir and may have nothing left to
// save (which is when the next save would have removed them).
void remove_unfinished_writes(const std::string& dir, const nlohmann::json& meta);

// Reads and checks dir/checkpoint.json. Throws UsageError if there is none, tg::io::FormatError
// (naming the file) if it is malformed or of another format.
nlohmann::json read_checkpoint(const std::string& dir);

// Loads the parameter arrays `meta` names into the parameters (matched by name): what inference
// needs (load_trained_model). Throws tg::io::FormatError on any mismatch, as below.
template <class T>
void restore_parameters(const std::string& dir, const nlohmann::json& meta, const std::vector<tg::Parameter<T>*>& parameters);

// Loads the arrays `meta` names into the parameters (matched by name) and the optimizer's
// buffers, and restores its step count. Throws tg::io::FormatError on any mismatch, and for a
// file name that is absolute or contains "..": arrays are looked up inside `dir` only.
template <class T>
void restore_checkpoint(const std::string& dir, const nlohmann::json& meta,
                        const std::vector<tg::Parameter<T>*>& parameters, tg::Optimizer<T>& optimizer);

// Where a run stands, beside its arrays: what a resumed run needs to continue bit for bit.
struct TrainingState {
    int epochs_done = 0;
    std::size_t step_in_epoch = 0;           // steps of epoch epochs_done + 1 already taken
    double epoch_loss_sum = 0;               // over the steps already taken
    std::size_t epoch_loss_count = 0;
    double epoch_seconds = 0;
    std::vector<EpochRecord> history;
    double epoch_gather_seconds = 0;         // part of epoch_seconds (0 in older checkpoints)
};

// The worker pool's size the checkpoint was written with (0: not recorded). Throws
// tg::io::FormatError naming `where` for a value that is not a thread count.
int read_thread_count(const nlohmann::json& meta, const std::string& where);

// Adds the state's fields to a checkpoint's JSON.
void write_training_state(nlohmann::json& meta, const TrainingState& state);

// Reads them back and checks them against the run: the step must fall inside an epoch of
// `steps_per_epoch` steps. Throws tg::io::FormatError naming `where` (the checkpoint file).
TrainingState read_training_state(const nlohmann::json& meta, const std::string& where, std::size_t steps_per_epoch);

}  // namespace tg::train
