// libFuzzer target for the training tool's checkpoint reader (tools/train/checkpoint.cpp):
// the fuzzed bytes are checkpoint.json, in a directory whose checkpoint/ subdirectory holds the
// .npy arrays of a few real checkpoints (written at start-up by the real save_checkpoint) and
// some odd ones (wrong shape, float64 where float32 is expected, not an npy file, a directory).
//
// The resume path is replayed as `train --resume DIR` runs it: main.cpp (read_checkpoint,
// "config" -> TrainConfig, resolve_defaults, validate) then Trainer::restore (trainer.cpp:
// restore_checkpoint, then read_training_state). The data set is not loaded (fuzz_idx /
// fuzz_npy cover those readers): the model is built for 4-column data with 10 training rows.
//
// Expected outcomes are the ones main() turns into exit codes 2 and 3: train::UsageError,
// tg::io::FormatError (and IoError, invalid_argument). Anything else - a json exception,
// std::out_of_range, bad_alloc, a sanitizer report (UBSan checks float -> integer
// conversions), an allocation far beyond what the files hold - is a finding: main() would
// report it as exit code 1, "unexpected", or crash. After a successful resume every parameter
// must hold the array its entry names, and that entry must be a relative name inside the
// checkpoint directory.
//
// The four findings of the first campaign (docs/reliability.md) are fixed; their inputs are
// among the edge_* seeds, so every run checks them again. TG_FUZZ_WRITE_SEEDS=<dir> writes the
// seed checkpoint.json files and exits.
#include "fuzz_common.hpp"

#include "checkpoint.hpp"
#include "config.hpp"
#include "history.hpp"
#include "model_factory.hpp"

#include <tapegrad/io/npy.hpp>

#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

namespace {

namespace fs = std::filesystem;
using fuzz::Outcome;
using train::TrainConfig;

constexpr std::size_t kInput = 4;       // columns of the training data
constexpr std::size_t kTrainRows = 10;  // rows of the training data

struct Counts {
    unsigned long long resumed = 0, usage = 0;
    ~Counts() { std::fprintf(stderr, "fuzz_checkpoint: resumed %llu, UsageError %llu\n", resumed, usage); }
};
Counts g_counts;

std::string g_dir;              // the checkpoint directory (checkpoint.json + checkpoint/)
std::size_t g_array_bytes = 0;  // total size of the files in checkpoint/

// ---- the resume path ---------------------------------------------------------------------------

template <class T>
void restore(const nlohmann::json& meta, const TrainConfig& config) {
    auto model = train::make_model<T>(config, kInput);
    std::vector<tg::Parameter<T>*> parameters = model->parameters();
    auto optimizer = train::make_optimizer<T>(config, parameters);
    // Trainer::restore
    train::restore_checkpoint<T>(g_dir, meta, parameters, *optimizer);
    const std::string where = (fs::path(g_dir) / train::kCheckpointFile).string();
    (void)train::read_training_state(meta, where, train::steps_per_epoch(kTrainRows, config.batch),
                                     train::noise_rng(*model) != nullptr);
    // Oracle: every parameter now holds the array its entry names, found inside the directory.
    for (const tg::Parameter<T>* p : parameters) {
        for (const auto& e : meta.at("parameters")) {
            if (e.at("name") != p->name) continue;
            const fs::path file = e.at("file").get<std::string>();
            for (const fs::path& part : file)
                if (part == ".." || file.has_root_path()) fuzz::finding("array file outside the checkpoint accepted: " + file.string());
            const tg::Matrix<T> want = tg::io::load_npy<T>((fs::path(g_dir) / file).string());
            if (!(want == p->value)) fuzz::finding("parameter " + p->name + " does not hold the array its entry names");
            break;
        }
    }
}

// main.cpp: read_checkpoint, the saved configuration (no command-line options to merge),
// resolve_defaults, validate; then run_training -> Trainer -> restore.
void resume() {
    nlohmann::json meta = train::read_checkpoint(g_dir);
    TrainConfig config;
    try {
        config = meta.at("config").get<TrainConfig>();
    } catch (const std::exception& e) {
        throw tg::io::FormatError(g_dir + "/" + train::kCheckpointFile + ": bad \"config\": " + e.what());
    }
    train::resolve_defaults(config);
    if (const std::string problem = train::validate(config); !problem.empty()) throw train::UsageError(problem);
    if (config.model == "pca") throw train::UsageError("a pca run has nothing to resume");
    if (config.dtype == "float64") restore<double>(meta, config);
    else restore<float>(meta, config);
    ++g_counts.resumed;
}

// ---- start-up: real checkpoints to start from -------------------------------------------------

struct Seed {
    const char* name;
    TrainConfig config;
    int epochs_done;
    std::size_t step;
    std::string json;
};

template <class T>
std::string save_seed(const Seed& s, const std::string& dir, const std::string& tag) {
    TrainConfig c = s.config;
    train::resolve_defaults(c);
    const std::string problem = train::validate(c);
    if (!problem.empty()) fuzz::finding(std::string("harness: seed ") + s.name + ": " + problem);
    auto model = train::make_model<T>(c, kInput);
    std::vector<tg::Parameter<T>*> parameters = model->parameters();
    auto optimizer = train::make_optimizer<T>(c, parameters);
    optimizer->steps = 7;
    for (auto* m : optimizer->state()) m->fill(T(0.25));
    std::mt19937_64 shuffle(train::shuffle_seed(c.seed));
    shuffle.discard(5);
    // As Trainer::save writes it.
    nlohmann::json meta;
    meta["config"] = c;
    meta["model"] = model->describe();
    meta["command_line"] = "train --fuzz-seed";
    train::TrainingState state{s.epochs_done, s.step, shuffle, std::nullopt, 1.5, 3, 0.25, {}};
    if (const std::mt19937_64* noise = train::noise_rng(*model)) state.noise_rng = *noise;
    for (int i = 0; i < s.epochs_done; ++i) state.history.push_back({i + 1, 0.5, 0.25, 0.3, 1.0, 0.1});
    train::write_training_state(meta, state);
    train::save_checkpoint<T>(dir, tag, std::move(meta), parameters, *optimizer);
    std::ifstream in(fs::path(dir) / train::kCheckpointFile, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<Seed> make_seeds() {
    std::vector<Seed> seeds;
    TrainConfig c;
    c.code = 3;
    c.epochs = 5;
    c.batch = 4;
    c.seed = 11;
    seeds.push_back({"autoencoder_f32_adam", c, 1, 2, {}});
    c = TrainConfig{};
    c.model = "denoising";
    c.code = 2;
    c.tied = false;
    c.optimizer = "momentum";
    c.dtype = "float64";
    c.batch = 3;
    seeds.push_back({"denoising_f64_momentum_untied", c, 2, 1, {}});
    c = TrainConfig{};
    c.model = "stacked";
    c.layers = {3, 2};
    c.optimizer = "rmsprop";
    c.batch = 10;
    seeds.push_back({"stacked_f32_rmsprop", c, 0, 0, {}});
    c = TrainConfig{};
    c.model = "sparse";
    c.sparsity = "kl";
    c.code = 2;
    c.optimizer = "sgd";
    c.decoder = "sigmoid";
    c.loss = "bce";
    seeds.push_back({"sparse_kl_f32_sgd", c, 3, 0, {}});
    c = TrainConfig{};
    c.model = "contractive";
    c.code = 2;
    c.optimizer = "nesterov";
    c.dtype = "float64";
    c.train_npy = "train.npy";
    c.test_npy = "test.npy";
    seeds.push_back({"contractive_f64_nesterov", c, 1, 0, {}});
    return seeds;
}

// Variants of a real checkpoint.json, one problem each: the regression inputs of the findings
// in docs/reliability.md (they make those findings deterministic) and the error paths of the
// reader. Derived from the current format, so they stay valid while the tool evolves.
std::vector<std::pair<std::string, std::string>> edge_cases(const std::string& json_text) {
    using nlohmann::json;
    const json base = json::parse(json_text);
    std::vector<std::pair<std::string, std::string>> out;
    auto add = [&](const std::string& name, const std::function<void(json&)>& edit) {
        json j = base;
        edit(j);
        out.emplace_back("edge_" + name, j.dump(1) + "\n");
    };
    // the findings of the first campaign, fixed
    add("version_is_string", [](json& j) { j["version"] = "1"; });                      // checkpoint-json-exception
    add("format_is_number", [](json& j) { j["format"] = 1; });                          // checkpoint-json-exception
    add("code_2e301", [](json& j) { j["config"]["code"] = 2.1e301; });                   // checkpoint-float-to-int
    add("epochs_done_1e300", [](json& j) { j["epochs_done"] = 1e300; });                // checkpoint-float-to-int
    add("code_1000000", [](json& j) { j["config"]["code"] = 1000000; });                // checkpoint-model-size
    add("code_minus_1", [](json& j) { j["config"]["code"] = -1; });                     // checkpoint-model-size
    // error paths
    add("no_format", [](json& j) { j.erase("format"); });
    add("version_2", [](json& j) { j["version"] = 2; });
    add("config_missing_key", [](json& j) { j["config"].erase("code"); });
    add("seed_not_a_number", [](json& j) { j["config"]["seed"] = "x"; });
    add("seed_too_big", [](json& j) { j["config"]["seed"] = "99999999999999999999999"; });
    add("model_pca", [](json& j) { j["config"]["model"] = "pca"; });
    add("dtype_float64", [](json& j) { j["config"]["dtype"] = "float64"; });
    add("param_wrong_shape", [](json& j) { j["parameters"][0]["file"] = "checkpoint/e9999-s999999-wrong-shape.npy"; });
    add("param_float64", [](json& j) { j["parameters"][0]["file"] = "checkpoint/e9999-s999999-float64-4x3.npy"; });
    add("param_garbage", [](json& j) { j["parameters"][0]["file"] = "checkpoint/e9999-s999999-garbage.npy"; });
    add("param_directory", [](json& j) { j["parameters"][0]["file"] = "checkpoint/e9999-s999999-directory.npy"; });
    add("param_missing", [](json& j) { j["parameters"][0]["file"] = "checkpoint/nothing.npy"; });
    add("param_outside", [](json& j) { j["parameters"][0]["file"] = "outside.npy"; });
    add("param_dotdot", [](json& j) { j["parameters"][0]["file"] = "checkpoint/../outside.npy"; });
    add("param_absolute", [](json& j) { j["parameters"][0]["file"] = "/dev/shm/outside.npy"; });
    add("seed_negative", [](json& j) { j["config"]["seed"] = "-1"; });
    add("code_3_0", [](json& j) { j["config"]["code"] = 3.0; });
    add("batch_huge", [](json& j) { j["config"]["batch"] = 18446744073709551615ull; });
    add("layers_object", [](json& j) { j["config"]["layers"] = json::object({{"a", 3}}); });
    add("param_duplicate_name", [](json& j) { j["parameters"][1]["name"] = j["parameters"][0]["name"]; });
    add("param_file_number", [](json& j) { j["parameters"][0]["file"] = 7; });
    add("parameters_object", [](json& j) { j["parameters"] = json::object({{"W", "x"}}); });
    add("buffers_object", [](json& j) { j["optimizer_state"]["buffers"] = json::object(); });
    add("buffers_short", [](json& j) { j["optimizer_state"]["buffers"].erase(0); });
    add("steps_string", [](json& j) { j["optimizer_state"]["steps"] = "7"; });
    add("rng_short", [](json& j) { j["shuffle_rng"] = "1 2 3"; });
    add("step_past_epoch", [](json& j) { j["step_in_epoch"] = 99; });
    add("epochs_done_negative", [](json& j) { j["epochs_done"] = -1; });
    add("history_bad_record", [](json& j) { j["history"] = json::array({json::object({{"epoch", "x"}})}); });
    add("not_an_object", [](json& j) { j = json::array({1, 2}); });
    out.emplace_back("edge_empty", "");
    out.emplace_back("edge_truncated", json_text.substr(0, json_text.size() / 2));
    return out;
}

void write_npy_bytes(const fs::path& p, const std::string& bytes) {
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
        seeds[k].json = seeds[k].config.dtype == "float64" ? save_seed<double>(seeds[k], scratch.string(), tag)
                                                           : save_seed<float>(seeds[k], scratch.string(), tag);
        for (const auto& e : fs::directory_iterator(scratch / "checkpoint")) fs::rename(e.path(), arrays / e.path().filename());
        fs::remove_all(scratch);
    }
    // Odd arrays for the fuzzer to point at (names in fuzz_checkpoint.dict).
    tg::Matrix<float> f22 = tg::make_matrix<float>(2, 2);
    f22.fill(1.0f);
    tg::io::save_npy((arrays / "e9999-s999999-wrong-shape.npy").string(), f22);
    tg::Matrix<double> d43 = tg::make_matrix<double>(kInput, 3);
    d43.fill(0.5);
    tg::io::save_npy((arrays / "e9999-s999999-float64-4x3.npy").string(), d43);
    tg::Matrix<float> f43 = tg::make_matrix<float>(kInput, 3);
    f43.fill(0.5f);
    tg::io::save_npy((arrays / "e9999-s999999-float32-4x3.npy").string(), f43);
    write_npy_bytes(arrays / "e9999-s999999-garbage.npy", "\x93NUMPY\x01\x00garbage");
    fs::create_directories(arrays / "e9999-s999999-directory.npy");
    tg::io::save_npy((fs::path(g_dir) / "outside.npy").string(), f43);
    for (const auto& e : fs::recursive_directory_iterator(g_dir))
        if (e.is_regular_file()) g_array_bytes += e.file_size();

    if (const char* out = std::getenv("TG_FUZZ_WRITE_SEEDS")) {
        fs::create_directories(out);
        auto write = [&](const std::string& name, const std::string& text) {
            const std::string p = (fs::path(out) / (name + ".json")).string();
            fuzz::write_file(p, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
        };
        for (const Seed& s : seeds) write(s.name, s.json);
        const std::vector<std::pair<std::string, std::string>> edges = edge_cases(seeds[0].json);
        for (const auto& [name, text] : edges) write(name, text);
        std::fprintf(stderr, "fuzz_checkpoint: wrote %zu seeds to %s\n", seeds.size() + edges.size(), out);
        fs::remove_all(g_dir);
        std::exit(0);
    }
    // The seeds must load: otherwise the harness is out of date with the tool.
    for (const Seed& s : seeds) {
        fuzz::write_file(g_dir + "/" + train::kCheckpointFile, reinterpret_cast<const std::uint8_t*>(s.json.data()), s.json.size());
        std::string msg;
        bool usage = false;
        const Outcome o = fuzz::expect([&] {
            try {
                resume();
            } catch (const train::UsageError& e) {
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
    fuzz::write_file(g_dir + "/" + train::kCheckpointFile, data, size);
    fuzz::AllocScope scope;
    fuzz::expect([] {
        try {
            resume();
        } catch (const train::UsageError& e) {
            // exit code 2: a configuration the tool refuses
            ++g_counts.usage;
            if (fuzz::verbose()) std::fprintf(stderr, "fuzz: UsageError: %s\n", e.what());
        }
    });
    fuzz::check_alloc(scope, size + g_array_bytes, "checkpoint resume");
    return 0;
}
