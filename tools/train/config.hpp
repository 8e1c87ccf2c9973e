#pragma once
// Everything that defines a training run. A checkpoint stores it whole, so `--resume` rebuilds
// the same model, optimizer and data pipeline without the original command line.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace train {

// Process exit codes (also listed in --help).
enum ExitCode : int {
    kExitOk = 0,
    kExitFailure = 1,       // anything unexpected (e.g. the output directory cannot be written)
    kExitUsage = 2,         // bad command line: unknown flag, invalid value, missing file
    kExitCorruptData = 3,   // a data or checkpoint file is malformed or unreadable
    kExitDiverged = 4,      // the loss became NaN/Inf; the last good checkpoint is kept
    kExitInterrupted = 130  // SIGINT (128 + 2): a checkpoint was saved; SIGTERM gives 143
};

// A problem with what the user asked for (exit code 2), found after parsing: a missing file,
// settings that do not fit the data, a resume that contradicts its checkpoint.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct TrainConfig {
    // model
    std::string model = "autoencoder";  // autoencoder|sparse|denoising|contractive|stacked|pca
    std::string encoder = "sigmoid";    // identity|sigmoid|tanh|relu|softplus
    std::string decoder = "linear";     // linear|sigmoid
    std::string loss = "mse";           // mse|bce
    std::size_t code = 64;
    bool tied = true;
    std::vector<std::size_t> layers;    // stacked: hidden sizes from the input side; last = code
    double weight_decay = 0;
    std::string sparsity = "l1";        // l1|kl
    double sparsity_weight = 1e-3;
    double sparsity_rho = 0.05;
    std::string corruption = "masking"; // masking|gaussian
    double corruption_amount = 0.25;
    double contractive_lambda = 0.1;
    std::string pca_method = "eigh";    // eigh|svd
    // optimizer
    std::string optimizer = "adam";     // sgd|momentum|nesterov|rmsprop|adam
    double lr = 0;                      // 0 until resolved: the optimizer's default
    double momentum = 0.9;
    double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    double rmsprop_rho = 0.9;
    double clip_grad_norm = 0;          // 0: off
    std::string lr_schedule = "constant"; // constant|cosine (to 0 over all --epochs)
    // schedule
    int epochs = 10;
    std::size_t batch = 64;
    std::uint64_t seed = 1;
    std::string dtype = "float32";      // float32|float64
    // data
    std::string data_dir;               // IDX files; empty: the Debian package's directory
    std::string train_npy, test_npy;    // used instead of IDX when set
    std::size_t limit = 0;              // first N training rows only (0: all)
    std::size_t test_limit = 0;         // first N test rows only (0: all)
};

// Bounds on the model's size, checked by validate() before anything is allocated: a checkpoint
// may come from anywhere, and "code": 100000000 would otherwise allocate gigabytes before a
// single array is compared with the configuration. 65,536 hidden units of 784 inputs are 200 MB
// of float32 weights, well past what this tool is for.
inline constexpr std::size_t kMaxLayerSize = 65536;
inline constexpr std::size_t kMaxLayers = 64;

// Not part of the run's identity: may differ between a run and its resumption.
struct RunOptions {
    std::string out = "out/train";
    std::string resume;                 // checkpoint directory, or empty
    int threads = 1;
    int checkpoint_every = 1;           // epochs; 0: only at the end (and on SIGINT)
    bool anomaly = false;
    std::string progress = "auto";      // auto|bar|lines|none
    std::size_t pictures = 16;          // test images in the reconstruction picture
    std::size_t stop_after_steps = 0;   // testing: raise SIGINT after this many steps (0: never)
    std::string command_line;           // for the record
};

void to_json(nlohmann::json& j, const TrainConfig& c);
// Throws nlohmann::json::exception on a missing key or wrong type, tg::io::FormatError on an
// integer that does not fit its field or a malformed seed.
void from_json(const nlohmann::json& j, TrainConfig& c);

// Fills in defaults that depend on other settings (learning rate, stacked layers).
void resolve_defaults(TrainConfig& c);

// Returns an empty string if the configuration is usable, else what is wrong with it.
std::string validate(const TrainConfig& c);

// The default learning rate of an optimizer (Adam/RMSProp 1e-3, plain SGD 0.1, momentum 0.01).
double default_learning_rate(const std::string& optimizer);

// Optimisation steps in an epoch of `rows` rows (the last batch may be short).
inline std::size_t steps_per_epoch(std::size_t rows, std::size_t batch) { return rows / batch + (rows % batch != 0); }

// The noise RNG's seed for the denoising model, derived from the run's seed.
std::uint64_t noise_seed(std::uint64_t seed);
// The shuffling RNG's seed, a different stream from the model's initialisation.
std::uint64_t shuffle_seed(std::uint64_t seed);

}  // namespace train
