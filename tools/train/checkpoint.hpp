#pragma once
// Checkpoints: every parameter and optimizer buffer as a .npy file, then one JSON file naming
// them together with the configuration, counters, RNG states and loss history. Each file is
// written atomically and the JSON goes last, so a reader sees the previous checkpoint or the
// new one, complete, never a mixture. Array files carry the checkpoint's tag in their name
// (checkpoint/e0003-s000000-param-W.npy): a new checkpoint never overwrites a file the
// current JSON names, and files no JSON names any more are removed after the switch.
#include <tapegrad/optim.hpp>

#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

namespace train {

inline constexpr const char* kCheckpointFile = "checkpoint.json";
inline constexpr const char* kCheckpointFormat = "tapegrad-train-checkpoint";
inline constexpr int kCheckpointVersion = 1;

// Writes the arrays into dir/checkpoint/, adds their names (and the optimizer's step count) to
// `meta`, writes dir/checkpoint.json and prunes arrays of older checkpoints.
template <class T>
void save_checkpoint(const std::string& dir, const std::string& tag, nlohmann::json meta,
                     const std::vector<tg::Parameter<T>*>& parameters, tg::Optimizer<T>& optimizer);

// Reads and checks dir/checkpoint.json. Throws UsageError if there is none, tg::io::FormatError
// (naming the file) if it is malformed or of another format.
nlohmann::json read_checkpoint(const std::string& dir);

// Loads the arrays `meta` names into the parameters (matched by name) and the optimizer's
// buffers, and restores its step count. Throws tg::io::FormatError on any mismatch.
template <class T>
void restore_checkpoint(const std::string& dir, const nlohmann::json& meta,
                        const std::vector<tg::Parameter<T>*>& parameters, tg::Optimizer<T>& optimizer);

// std::mt19937_64's full state as text (its operator<< format, fixed by the standard).
std::string rng_to_string(const std::mt19937_64& rng);
// Throws tg::io::FormatError (naming `what`) if the text is not a valid state.
std::mt19937_64 rng_from_string(const std::string& text, const std::string& what);

}  // namespace train
