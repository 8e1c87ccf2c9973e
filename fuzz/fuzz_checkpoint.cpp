// libFuzzer target for the training library's checkpoint reader (training/src/checkpoint.cpp)
// and everything `train --resume DIR` does with a checkpoint before it trains: the fuzzed bytes
// are checkpoint.json, in a directory whose checkpoint/ subdirectory holds the .npy arrays of a
// few real checkpoints (written at start-up by the real Trainer::save path: to_json(config),
// write_training_state, save_checkpoint) and some odd ones (wrong shape, float64 where float32
// is expected, not an npy file, a directory).
//
// The resume path is replayed as tools/train/main.cpp runs it: read_checkpoint,
// config_from_json(checkpoint["config"]), the refusal of a kind that is not trained (pca), the
// configuration again through resolve_config (make_config with no command-line options), then
// make_model, make_optimizer, a Trainer and Trainer::restore (restore_checkpoint, then
// read_training_state). The data set is not loaded (fuzz_idx / fuzz_npy cover those readers):
// the model is built for 4-column data with 10 training rows of zeros.
//
// Expected outcomes are the ones main() turns into exit codes 2 and 3: tg::train::UsageError,
// tg::io::FormatError (and IoError, invalid_argument). Anything else - a json exception,
// std::out_of_range, bad_alloc, a sanitizer report (UBSan checks float -> integer
// conversions), an allocation far beyond what the files hold - is a finding. After a
// successful resume every parameter and optimizer buffer must hold the array its entry names,
// that entry must be a relative name inside the checkpoint directory, and the checkpoint must
// be of the current version (2: no generator states; version 1 must be refused).
//
// The four findings of the first campaign (docs/reliability.md) are fixed; their inputs are
// among the edge_* seeds, so every run checks them again. So are the two findings of the new
// layout (seeds edge_no_config and edge_layers_65536_65536): a checkpoint without "config" is
// a FormatError naming the file (config_from_checkpoint), and neighbouring stacked layer sizes
// may multiply to at most 2^20 weights, checked before anything is allocated.
// TG_FUZZ_WRITE_SEEDS=<dir> writes the seed checkpoint.json files and exits.
#include "fuzz_common.hpp"

#include <tapegrad/io/npy.hpp>
#include <tapegrad/train/checkpoint.hpp>
#include <tapegrad/train/config.hpp>
#include <tapegrad/train/registry.hpp>
#include <tapegrad/train/trainer.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace {

namespace fs = std::filesystem;
namespace tt = tg::train;
using fuzz::Outcome;
using nlohmann::json;

constexpr std::size_t kInput = 4;       // columns of the training data
constexpr std::size_t kTrainRows = 10;  // rows of the training data
constexpr std::size_t kTestRows = 2;

// The open findings (see above), skipped when TG_FUZZ_IGNORE names them.

struct Counts {
    unsigned long long resumed = 0, usage = 0, ignored = 0;
    ~Counts() {
        std::fprintf(stderr, "fuzz_checkpoint: resumed %llu, UsageError %llu, ignored (TG_FUZZ_IGNORE) %llu\n", resumed,
                     usage, ignored);
    }
};
Counts g_counts;

std::string g_dir;              // the checkpoint directory (checkpoint.json + checkpoint/)
std::size_t g_array_bytes = 0;  // total size of the files in the directory
std::size_t g_input_bytes = 0;  // size of the current checkpoint.json


// ---- the resume path ---------------------------------------------------------------------------

// Oracle: `file` (an entry of the checkpoint) is a relative name inside the directory, and
// `value` holds the array it names.
template <class T>
void check_holds(const json& file_entry, const tg::Matrix<T>& value, const std::string& what) {
    const fs::path file = file_entry.get<std::string>();
    if (file.has_root_path()) fuzz::finding("absolute array file accepted for " + what + ": " + file.string());
    for (const fs::path& part : file)
        if (part == "..") fuzz::finding("array file outside the checkpoint accepted for " + what + ": " + file.string());
    const tg::Matrix<T> want = tg::io::load_npy<T>((fs::path(g_dir) / file).string());
    if (!(want == value)) fuzz::finding(what + " does not hold the array its entry names (" + file.string() + ")");
}

// tools/train/main.cpp, train_as<T>: the model, optimizer and Trainer of the run, then
// trainer.restore(checkpoint, dir).
template <class T>
void restore(const json& meta, const tt::RunConfig& config) {
    const tt::OptionValues& t = config.training;
    tg::Matrix<T> train = tg::make_matrix<T>(kTrainRows, kInput), test = tg::make_matrix<T>(kTestRows, kInput);
    train.fill(T(0));
    test.fill(T(0));
    auto model = tt::make_model<T>(config.model_kind(), config.model_options, train.shape()[1], t.seed("seed"));
    auto optimizer = tt::make_optimizer<T>(config.optimizer_kind(), config.optimizer_options, model->parameters());
    tt::TrainerOptions o{.epochs = int(t.integer("epochs")), .batch = t.integer("batch"),
                         .seed = tt::shuffle_seed(t.seed("seed"))};  // out empty: writes nothing
    tt::Trainer<T> trainer(*model, *optimizer, train, test, o);
    trainer.restore(meta, g_dir);

    // Oracles.
    if (meta.at("version") != tt::kCheckpointVersion) fuzz::finding("a checkpoint of version " + meta.at("version").dump() + " resumed");
    for (const tg::Parameter<T>* p : model->parameters()) {
        for (const json& e : meta.at("parameters")) {
            if (e.at("name") != p->name) continue;
            check_holds(e.at("file"), p->value, "parameter " + p->name);
            break;
        }
    }
    const json& files = meta.at("optimizer_state").at("buffers");
    const std::vector<tg::Matrix<T>*> buffers = optimizer->state();
    for (std::size_t i = 0; i < buffers.size(); ++i) check_holds(files.at(i), *buffers[i], "optimizer buffer " + std::to_string(i));
    if (!(meta.at("optimizer_state").at("steps") == optimizer->steps)) fuzz::finding("the optimizer's step count was not restored");
}

// tools/train/main.cpp, --resume: read_checkpoint, the saved configuration, the refusal of a
// kind that is not trained, make_config (no command-line options: the saved configuration,
// resolved again); then train_as<float or double>.
void resume() {
    const json meta = tt::read_checkpoint(g_dir);
    const tt::RunConfig saved = tt::config_from_checkpoint(meta, g_dir);
    if (!saved.model_kind().trainable()) throw tt::UsageError("a " + saved.model + " run has nothing to resume");
    const tt::RunConfig config = tt::resolve_config(saved.model, saved.model_options.json(), saved.optimizer,
                                                    saved.optimizer_options.json(), saved.training.json());
    const bool float64 = config.training.text("dtype") == "float64";
    if (float64) restore<double>(meta, config);
    else restore<float>(meta, config);
    ++g_counts.resumed;
}

// ---- start-up: real checkpoints to start from -------------------------------------------------

struct Seed {
    const char* name;
    std::string model;
    json model_options;
    std::string optimizer;
    json optimizer_options;
    json training;
    int epochs_done;
    std::size_t step;  // must be < steps_per_epoch(kTrainRows, batch)
    std::string json_text = {};
};

// The checkpoint Trainer::save writes for this configuration (trainer.cpp, save()), with an
// optimizer state that is not all zeros; returns checkpoint.json.
template <class T>
std::string save_seed(const Seed& s, const std::string& dir, const std::string& tag) {
    tt::RunConfig c;
    try {
        c = tt::resolve_config(s.model, s.model_options, s.optimizer, s.optimizer_options, s.training);
    } catch (const std::exception& e) {
        fuzz::finding(std::string("harness: seed ") + s.name + ": " + e.what());
    }
    auto model = tt::make_model<T>(c.model_kind(), c.model_options, kInput, c.training.seed("seed"));
    std::vector<tg::Parameter<T>*> parameters = model->parameters();
    auto optimizer = tt::make_optimizer<T>(c.optimizer_kind(), c.optimizer_options, parameters);
    optimizer->steps = 7;
    for (auto* m : optimizer->state()) m->fill(T(0.25));
    json meta;
    meta["config"] = tt::to_json(c);
    meta["model"] = model->describe();
    meta["command_line"] = "train --fuzz-seed";
    std::vector<tt::EpochRecord> history;
    for (int i = 0; i < s.epochs_done; ++i) history.push_back({i + 1, 0.5, 0.25, 0.3, 1.0, 0.1});
    tt::write_training_state(meta, tt::TrainingState{s.epochs_done, s.step, 1.5, 3, 0.25, history});
    tt::save_checkpoint<T>(dir, tag, std::move(meta), parameters, *optimizer);
    std::ifstream in(fs::path(dir) / tt::kCheckpointFile, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<Seed> make_seeds() {
    const json none = json::object();
    return {
        {"autoencoder_f32_adam", "autoencoder", {{"code", 3}}, "adam", none,
         {{"epochs", 5}, {"batch", 4}, {"seed", "11"}}, 1, 2},
        {"denoising_f64_momentum_untied", "denoising", {{"code", 2}, {"tied", false}}, "momentum", none,
         {{"dtype", "float64"}, {"batch", 3}}, 2, 1},
        {"stacked_f32_rmsprop", "stacked", {{"layers", {3, 2}}}, "rmsprop", none, {{"batch", 10}}, 0, 0},
        {"sparse_kl_f32_sgd", "sparse", {{"sparsity", "kl"}, {"code", 2}, {"decoder", "sigmoid"}, {"loss", "bce"}},
         "sgd", none, {{"lr_schedule", "cosine"}}, 3, 0},
        {"contractive_f64_nesterov", "contractive", {{"code", 2}}, "nesterov", {{"lr", 0.05}},
         {{"dtype", "float64"}, {"train_npy", "train.npy"}, {"test_npy", "test.npy"}}, 1, 0},
        {"linear_f32_sgd", "linear", {{"code", 3}, {"lambda", 0.01}}, "sgd", none, {{"batch", 5}, {"seed", "3"}}, 2, 1},
    };
}

constexpr std::size_t kAutoencoder = 0, kStacked = 2;  // indices in make_seeds()

// Variants of real checkpoint.json files, one problem each: the regression inputs of the
// findings in docs/reliability.md (they make those findings deterministic) and the error paths
// of the reader. Derived from the current format, so they stay valid while the library evolves.
std::vector<std::pair<std::string, std::string>> edge_cases(const std::vector<Seed>& seeds) {
    std::vector<json> bases;
    for (const Seed& s : seeds) bases.push_back(json::parse(s.json_text));
    std::vector<std::pair<std::string, std::string>> out;
    auto add_to = [&](std::size_t base, const std::string& name, const std::function<void(json&)>& edit) {
        json j = bases.at(base);
        edit(j);
        out.emplace_back("edge_" + name, j.dump(1) + "\n");
    };
    auto add = [&](const std::string& name, const std::function<void(json&)>& edit) { add_to(kAutoencoder, name, edit); };
    // the findings of the first campaign, fixed
    add("version_is_string", [](json& j) { j["version"] = "1"; });                                 // checkpoint-json-exception
    add("format_is_number", [](json& j) { j["format"] = 1; });                                     // checkpoint-json-exception
    add("code_2e301", [](json& j) { j["config"]["model_options"]["code"] = 2.1e301; });             // checkpoint-float-to-int
    add("epochs_done_1e300", [](json& j) { j["epochs_done"] = 1e300; });                           // checkpoint-float-to-int
    add("code_1000000", [](json& j) { j["config"]["model_options"]["code"] = 1000000; });          // checkpoint-model-size
    add("code_minus_1", [](json& j) { j["config"]["model_options"]["code"] = -1; });               // checkpoint-model-size
    // the format's versions: 1 (generator states) is refused with a message, so is any other
    add("version_1", [](json& j) {
        j["version"] = 1;
        j["shuffle_rng"] = "1 2 3";
    });
    add("version_3", [](json& j) { j["version"] = 3; });
    add("no_version", [](json& j) { j.erase("version"); });
    add("no_format", [](json& j) { j.erase("format"); });
    // the configuration
    add("no_config", [](json& j) { j.erase("config"); });  // checkpoint-no-config
    add("config_not_an_object", [](json& j) { j["config"] = "autoencoder"; });
    add("config_missing_section", [](json& j) { j["config"].erase("training"); });
    add("model_options_array", [](json& j) { j["config"]["model_options"] = json::array({3}); });
    add("model_not_a_string", [](json& j) { j["config"]["model"] = 1; });
    add("unknown_model", [](json& j) { j["config"]["model"] = "vae"; });
    add("unknown_optimizer", [](json& j) { j["config"]["optimizer"] = "lbfgs"; });
    add("unknown_model_option", [](json& j) { j["config"]["model_options"]["colour"] = "blue"; });
    add("unknown_training_option", [](json& j) { j["config"]["training"]["shuffle_rng"] = "1 2 3"; });
    add("option_of_another_optimizer", [](json& j) { j["config"]["optimizer_options"]["momentum"] = 0.9; });
    add("option_of_another_model", [](json& j) { j["config"]["model_options"]["sparsity"] = "kl"; });
    add("model_pca", [](json& j) {
        j["config"]["model"] = "pca";
        j["config"]["model_options"] = {{"code", 3}, {"pca_method", "svd"}};
    });
    add("seed_not_a_number", [](json& j) { j["config"]["training"]["seed"] = "x"; });
    add("seed_too_big", [](json& j) { j["config"]["training"]["seed"] = "99999999999999999999999"; });
    add("seed_negative", [](json& j) { j["config"]["training"]["seed"] = "-1"; });
    add("seed_is_a_number", [](json& j) { j["config"]["training"]["seed"] = 11; });
    add("dtype_float64", [](json& j) { j["config"]["training"]["dtype"] = "float64"; });
    add("dtype_float16", [](json& j) { j["config"]["training"]["dtype"] = "float16"; });
    add("code_3_0", [](json& j) { j["config"]["model_options"]["code"] = 3.0; });
    add("code_0", [](json& j) { j["config"]["model_options"]["code"] = 0; });
    add("batch_huge", [](json& j) { j["config"]["training"]["batch"] = 18446744073709551615ull; });
    add("batch_2_pow_32", [](json& j) { j["config"]["training"]["batch"] = std::uint64_t{1} << 32; });
    add("batch_0", [](json& j) { j["config"]["training"]["batch"] = 0; });
    add("lr_negative", [](json& j) { j["config"]["optimizer_options"]["lr"] = -1e-3; });
    add("beta1_1", [](json& j) { j["config"]["optimizer_options"]["beta1"] = 1; });
    add("bce_linear_decoder", [](json& j) { j["config"]["model_options"]["loss"] = "bce"; });
    add("tied_not_a_flag", [](json& j) { j["config"]["model_options"]["tied"] = "yes"; });
    add("train_npy_alone", [](json& j) { j["config"]["training"]["train_npy"] = "train.npy"; });
    add_to(kStacked, "layers_object", [](json& j) { j["config"]["model_options"]["layers"] = json::object({{"a", 3}}); });
    add_to(kStacked, "layers_empty", [](json& j) { j["config"]["model_options"]["layers"] = json::array(); });
    add_to(kStacked, "layers_65", [](json& j) { j["config"]["model_options"]["layers"] = std::vector<int>(65, 2); });
    add_to(kStacked, "layers_entry_0", [](json& j) { j["config"]["model_options"]["layers"] = {3, 0}; });
    add_to(kStacked, "layers_entry_float", [](json& j) { j["config"]["model_options"]["layers"] = {3, 2.5}; });
    add_to(kStacked, "layers_entry_too_big", [](json& j) { j["config"]["model_options"]["layers"] = {3, 65537}; });
    add_to(kStacked, "layers_65536_65536", [](json& j) { j["config"]["model_options"]["layers"] = {65536, 65536}; });  // checkpoint-stacked-size
    // the arrays
    add("param_wrong_shape", [](json& j) { j["parameters"][0]["file"] = "checkpoint/e9999-s999999-wrong-shape.npy"; });
    add("param_float64", [](json& j) { j["parameters"][0]["file"] = "checkpoint/e9999-s999999-float64-3x4.npy"; });
    add("param_float32_3x4", [](json& j) { j["parameters"][0]["file"] = "checkpoint/e9999-s999999-float32-3x4.npy"; });
    add("param_garbage", [](json& j) { j["parameters"][0]["file"] = "checkpoint/e9999-s999999-garbage.npy"; });
    add("param_directory", [](json& j) { j["parameters"][0]["file"] = "checkpoint/e9999-s999999-directory.npy"; });
    add("param_missing", [](json& j) { j["parameters"][0]["file"] = "checkpoint/nothing.npy"; });
    add("param_outside", [](json& j) { j["parameters"][0]["file"] = "outside.npy"; });
    add("param_dotdot", [](json& j) { j["parameters"][0]["file"] = "checkpoint/../outside.npy"; });
    add("param_absolute", [](json& j) { j["parameters"][0]["file"] = "/dev/shm/outside.npy"; });
    add("param_empty_name", [](json& j) { j["parameters"][0]["file"] = ""; });
    add("param_duplicate_name", [](json& j) { j["parameters"][1]["name"] = j["parameters"][0]["name"]; });
    add("param_file_number", [](json& j) { j["parameters"][0]["file"] = 7; });
    add("param_extra", [](json& j) { j["parameters"].push_back(j["parameters"][0]); });
    add("parameters_object", [](json& j) { j["parameters"] = json::object({{"W", "x"}}); });
    add("buffers_object", [](json& j) { j["optimizer_state"]["buffers"] = json::object(); });
    add("buffers_short", [](json& j) { j["optimizer_state"]["buffers"].erase(0); });
    add("buffer_float32_3x4", [](json& j) { j["optimizer_state"]["buffers"][0] = "checkpoint/e9999-s999999-float32-3x4.npy"; });
    add("steps_string", [](json& j) { j["optimizer_state"]["steps"] = "7"; });
    add("steps_1e30", [](json& j) { j["optimizer_state"]["steps"] = 1e30; });
    // where the run stands
    add("step_past_epoch", [](json& j) { j["step_in_epoch"] = 99; });
    add("epochs_done_negative", [](json& j) { j["epochs_done"] = -1; });
    add("loss_count_negative", [](json& j) { j["epoch_loss_count"] = -3; });
    add("loss_sum_string", [](json& j) { j["epoch_loss_sum"] = "1.5"; });
    add("history_not_an_array", [](json& j) { j["history"] = json::object(); });
    add("history_bad_record", [](json& j) { j["history"] = json::array({json::object({{"epoch", "x"}})}); });
    add("history_epoch_1e10", [](json& j) { j["history"][0]["epoch"] = 1e10; });
    add("not_an_object", [](json& j) { j = json::array({1, 2}); });
    out.emplace_back("edge_empty", "");
    out.emplace_back("edge_truncated", seeds[kAutoencoder].json_text.substr(0, seeds[kAutoencoder].json_text.size() / 2));
    return out;
}

void write_bytes(const fs::path& p, const std::string& bytes) {
    fuzz::write_file(p.string(), reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

void setup() {
    g_dir = fuzz::make_scratch_dir("ckpt");
    const fs::path arrays = fs::path(g_dir) / "checkpoint";
    fs::create_directories(arrays);
    std::vector<Seed> seeds = make_seeds();
    for (std::size_t k = 0; k < seeds.size(); ++k) {
        // save_checkpoint prunes arrays it did not write, so each seed is saved apart and its
        // arrays are moved into the shared directory (tags differ, so names do not collide).
        const fs::path scratch = fs::path(g_dir) / ("build-" + std::to_string(k));
        char tag[32];
        std::snprintf(tag, sizeof tag, "e%04d-s%06zu", seeds[k].epochs_done, k);
        const bool float64 = seeds[k].training.value("dtype", std::string("float32")) == "float64";
        seeds[k].json_text = float64 ? save_seed<double>(seeds[k], scratch.string(), tag)
                                     : save_seed<float>(seeds[k], scratch.string(), tag);
        for (const auto& e : fs::directory_iterator(scratch / "checkpoint")) fs::rename(e.path(), arrays / e.path().filename());
        fs::remove_all(scratch);
    }
    // Odd arrays for the fuzzer to point at (names in fuzz_checkpoint.dict).
    tg::Matrix<float> f22 = tg::make_matrix<float>(2, 2);
    f22.fill(1.0f);
    tg::io::save_npy((arrays / "e9999-s999999-wrong-shape.npy").string(), f22);
    // The shape of the first seed's W (code 3 x kInput), so that they load: a float32 one that a
    // checkpoint may name (the oracle then checks the parameter holds it), a float64 one that it
    // may not, and outside.npy, which would load if a name escaping the directory were accepted.
    tg::Matrix<double> d34 = tg::make_matrix<double>(3, kInput);
    d34.fill(0.5);
    tg::io::save_npy((arrays / "e9999-s999999-float64-3x4.npy").string(), d34);
    tg::Matrix<float> f34 = tg::make_matrix<float>(3, kInput);
    f34.fill(0.5f);
    tg::io::save_npy((arrays / "e9999-s999999-float32-3x4.npy").string(), f34);
    write_bytes(arrays / "e9999-s999999-garbage.npy", "\x93NUMPY\x01\x00garbage");
    fs::create_directories(arrays / "e9999-s999999-directory.npy");
    tg::io::save_npy((fs::path(g_dir) / "outside.npy").string(), f34);
    for (const auto& e : fs::recursive_directory_iterator(g_dir))
        if (e.is_regular_file()) g_array_bytes += e.file_size();

    if (const char* out = std::getenv("TG_FUZZ_WRITE_SEEDS")) {
        fs::create_directories(out);
        auto write = [&](const std::string& name, const std::string& text) { write_bytes(fs::path(out) / (name + ".json"), text); };
        for (const Seed& s : seeds) write(s.name, s.json_text);
        const std::vector<std::pair<std::string, std::string>> edges = edge_cases(seeds);
        for (const auto& [name, text] : edges) write(name, text);
        std::fprintf(stderr, "fuzz_checkpoint: wrote %zu seeds to %s\n", seeds.size() + edges.size(), out);
        fs::remove_all(g_dir);
        std::exit(0);
    }
    // The seeds must resume: otherwise the harness is out of date with the library.
    for (const Seed& s : seeds) {
        write_bytes(fs::path(g_dir) / tt::kCheckpointFile, s.json_text);
        std::string msg;
        bool usage = false;
        const Outcome o = fuzz::expect([&] {
            try {
                resume();
            } catch (const tt::UsageError& e) {
                usage = true;
                msg = e.what();
            }
        }, &msg);
        if (o != Outcome::ok || usage) fuzz::finding(std::string("harness: seed ") + s.name + " does not resume: " + msg);
    }
    std::atexit([] {
        std::error_code ec;
        fs::remove_all(g_dir, ec);
    });
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    fuzz::install_alloc_hooks();
    setup();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::write_file(g_dir + "/" + tt::kCheckpointFile, data, size);
    g_input_bytes = size;
    fuzz::AllocScope scope;
    fuzz::expect([] {
        try {
            resume();
        } catch (const tt::UsageError& e) {
            // exit code 2: a configuration the tool refuses
            ++g_counts.usage;
            if (fuzz::verbose()) std::fprintf(stderr, "fuzz: UsageError: %s\n", e.what());
        }
    });
    fuzz::check_alloc(scope, size + g_array_bytes, "checkpoint resume");
    return 0;
}
