#include "tapegrad/train/checkpoint.hpp"

#include "tapegrad/train/json_fields.hpp"
#include "tapegrad/train/options.hpp"

#include <tapegrad/io/atomic_file.hpp>
#include <tapegrad/io/errors.hpp>
#include <tapegrad/io/npy.hpp>
#include <tapegrad/random.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace tg::train {
namespace {

namespace fs = std::filesystem;

constexpr const char* kArrayDir = "checkpoint";

std::string checkpoint_path(const std::string& dir) { return (fs::path(dir) / kCheckpointFile).string(); }

// Whether `name` is a temporary file of tg::io's atomic writer: "<file>.tmp.<pid>.<counter>".
bool is_atomic_write_leftover(const std::string& name) {
    const std::size_t at = name.rfind(".tmp.");
    if (at == std::string::npos || at == 0) return false;
    const std::string tail = name.substr(at + 5);
    const std::size_t dot = tail.find('.');
    auto digits = [](const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; };
    return dot != std::string::npos && digits(tail.substr(0, dot)) && digits(tail.substr(dot + 1));
}

// Removes array files of earlier checkpoints: only names this tool writes (e*.npy) in its own
// subdirectory, and only after the new JSON (which does not name them) is in place. Also the
// temporary files a killed run left behind mid-write (of an array, the checkpoint, the metrics
// or a picture), which only the atomic writer names "<file>.tmp.<pid>.<counter>".
void prune(const fs::path& dir, const fs::path& array_dir, const std::set<std::string>& keep) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(array_dir, ec)) {
        const std::string name = entry.path().filename().string();
        const bool ours = name.size() > 5 && name[0] == 'e';
        if (ours && ((entry.path().extension() == ".npy" && !keep.count(name)) || is_atomic_write_leftover(name)))
            fs::remove(entry.path(), ec);
    }
    for (const auto& entry : fs::directory_iterator(dir, ec))
        if (entry.is_regular_file(ec) && is_atomic_write_leftover(entry.path().filename().string())) fs::remove(entry.path(), ec);
}

template <class T>
void load_into(const std::string& dir, const std::string& file, tg::Matrix<T>& target, const std::string& what) {
    const fs::path relative(file);
    const bool escapes = std::any_of(relative.begin(), relative.end(), [](const fs::path& part) { return part == ".."; });
    if (relative.empty() || relative.has_root_path() || escapes)
        throw tg::io::FormatError(checkpoint_path(dir) + ": names \"" + file + "\" (" + what +
                                  "): array files must be relative names inside the checkpoint directory");
    const std::string path = (fs::path(dir) / relative).string();
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw tg::io::FormatError(checkpoint_path(dir) + ": names " + file + " (" + what + "), which does not exist");
    tg::Matrix<T> m = tg::io::load_npy<T>(path);
    if (m.shape() != target.shape())
        throw tg::io::FormatError(path + ": " + what + " has shape " + tg::to_string(tg::shape_of(m)) +
                                  " but the model expects " + tg::to_string(tg::shape_of(target)));
    target = std::move(m);
}

}  // namespace

int read_thread_count(const nlohmann::json& meta, const std::string& where) {
    // Checkpoints before the field was renamed call it "blas_threads".
    const char* key = meta.contains("threads") ? "threads" : "blas_threads";
    const nlohmann::json threads = meta.value(key, nlohmann::json(0));
    if (!threads.is_number_integer() || threads.get<std::int64_t>() < 0 || threads.get<std::int64_t>() > 4096)
        throw tg::io::FormatError(where + ": \"" + key + "\" must be a thread count, not " + threads.dump());
    return int(threads.get<std::int64_t>());
}

void write_training_state(nlohmann::json& meta, const TrainingState& state) {
    meta["epochs_done"] = state.epochs_done;
    meta["step_in_epoch"] = state.step_in_epoch;
    meta["epoch_loss_sum"] = state.epoch_loss_sum;
    meta["epoch_loss_count"] = state.epoch_loss_count;
    meta["epoch_seconds"] = state.epoch_seconds;
    meta["epoch_gather_seconds"] = state.epoch_gather_seconds;
    meta["history"] = state.history;
}

TrainingState read_training_state(const nlohmann::json& meta, const std::string& where, std::size_t steps_per_epoch) {
    TrainingState s;
    try {
        s.epochs_done = get_integer<int>(meta, "epochs_done");
        s.step_in_epoch = get_integer<std::size_t>(meta, "step_in_epoch");
        s.epoch_loss_sum = meta.at("epoch_loss_sum").get<double>();
        s.epoch_loss_count = get_integer<std::size_t>(meta, "epoch_loss_count");
        s.epoch_seconds = meta.at("epoch_seconds").get<double>();
        if (meta.contains("epoch_gather_seconds")) s.epoch_gather_seconds = meta.at("epoch_gather_seconds").get<double>();
        const nlohmann::json& history = meta.at("history");
        if (!history.is_array()) throw tg::io::FormatError("\"history\" must be an array");
        s.history = history.get<std::vector<EpochRecord>>();
    } catch (const nlohmann::json::exception& e) {
        throw tg::io::FormatError(where + ": " + e.what());
    } catch (const tg::io::FormatError& e) {  // the field readers name the field; add the file
        throw tg::io::FormatError(where + ": " + e.what());
    }
    if (s.step_in_epoch >= steps_per_epoch || s.epochs_done < 0)
        throw tg::io::FormatError(where + ": epoch " + std::to_string(s.epochs_done) + ", step " +
                                  std::to_string(s.step_in_epoch) + " does not fit " + std::to_string(steps_per_epoch) +
                                  " steps per epoch");
    return s;
}

template <class T>
void save_checkpoint(const std::string& dir, const std::string& tag, nlohmann::json meta,
                     const std::vector<tg::Parameter<T>*>& parameters, tg::Optimizer<T>& optimizer) {
    const fs::path array_dir = fs::path(dir) / kArrayDir;
    fs::create_directories(array_dir);
    std::set<std::string> written;
    auto save = [&](const std::string& name, const tg::Matrix<T>& m) {
        const std::string file = tag + "-" + name + ".npy";
        tg::io::save_npy<T>((array_dir / file).string(), m);
        written.insert(file);
        return std::string(kArrayDir) + "/" + file;
    };
    nlohmann::json params = nlohmann::json::array();
    for (const tg::Parameter<T>* p : parameters)
        params.push_back({{"name", p->name}, {"file", save("param-" + p->name, p->value)}});
    nlohmann::json state = nlohmann::json::array();
    const std::vector<tg::Matrix<T>*> buffers = optimizer.state();
    for (std::size_t i = 0; i < buffers.size(); ++i) state.push_back(save("optim-" + std::to_string(i), *buffers[i]));
    meta["format"] = kCheckpointFormat;
    meta["version"] = kCheckpointVersion;
    meta["masking_layout"] = tg::random::masking_layout;
    meta["parameters"] = std::move(params);
    meta["optimizer_state"] = {{"steps", optimizer.steps}, {"buffers", std::move(state)}};
    const std::string text = meta.dump(2) + "\n";
    tg::io::write_file_atomically(checkpoint_path(dir), [&](std::ostream& os) { os << text; });
    prune(dir, array_dir, written);
}

void remove_unfinished_writes(const std::string& dir, const nlohmann::json& meta) {
    std::set<std::string> keep;  // file names inside the array directory
    auto named = [&](const nlohmann::json& file) {
        if (file.is_string()) keep.insert(fs::path(file.get<std::string>()).filename().string());
    };
    for (const nlohmann::json& p : meta.value("parameters", nlohmann::json::array())) named(p.value("file", nlohmann::json()));
    for (const nlohmann::json& f : meta.value("optimizer_state", nlohmann::json::object()).value("buffers", nlohmann::json::array()))
        named(f);
    prune(dir, fs::path(dir) / kArrayDir, keep);
}

nlohmann::json read_checkpoint(const std::string& dir) {
    const std::string path = checkpoint_path(dir);
    std::error_code ec;
    if (!fs::is_regular_file(path, ec))
        throw UsageError(dir + ": there is no " + kCheckpointFile + " in that directory to resume from");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw tg::io::IoError(path + ": cannot open for reading");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw tg::io::FormatError(path + ": not valid JSON (" + e.what() + ")");
    }
    // Compared as JSON values: j.value("version", 0) would throw json::type_error for a string.
    if (!j.is_object() || !j.contains("format") || j["format"] != kCheckpointFormat)
        throw tg::io::FormatError(path + ": not a tapegrad training checkpoint (no \"format\": \"" +
                                  kCheckpointFormat + "\")");
    if (j.contains("version") && j["version"] == 1)
        throw tg::io::FormatError(path + ": checkpoint version 1 comes from an older tapegrad, which kept the noise and "
                                  "shuffling generators' states; this version draws both from counters (Philox) and "
                                  "cannot continue that run exactly. Start a new run (its checkpoints are version " +
                                  std::to_string(kCheckpointVersion) + ")");
    if (!j.contains("version") || j["version"] != kCheckpointVersion)
        throw tg::io::FormatError(path + ": checkpoint version " + (j.contains("version") ? j["version"].dump() : "(none)") +
                                  " is not the supported version " + std::to_string(kCheckpointVersion));
    // A run with masking noise continues exactly only with the draws it started with.
    const nlohmann::json* config = j.contains("config") ? &j["config"] : nullptr;
    const bool masking = config && config->is_object() && config->contains("model_options") &&
                         (*config)["model_options"].is_object() &&
                         (*config)["model_options"].value("corruption", nlohmann::json()) == "masking";
    const nlohmann::json layout = j.value("masking_layout", nlohmann::json(1));
    if (masking && layout != tg::random::masking_layout) {
        auto drew = [](const nlohmann::json& l) -> std::string {
            const char* d = l.is_number_integer() ? tg::random::masking_layout_draws(l.get<int>()) : "";
            return *d ? std::string(" (") + d + ")" : "";
        };
        throw tg::io::FormatError(path + ": this run's masking noise was drawn with masking layout " + layout.dump() +
                                  drew(layout) + "; this tapegrad draws layout " + std::to_string(tg::random::masking_layout) +
                                  drew(tg::random::masking_layout) +
                                  " with the same probability but other numbers, so the run cannot continue exactly. "
                                  "Start a new run, or finish this one with the tapegrad that began it");
    }
    return j;
}

template <class T>
void restore_parameters(const std::string& dir, const nlohmann::json& meta, const std::vector<tg::Parameter<T>*>& parameters) {
    const std::string path = checkpoint_path(dir);
    try {
        const nlohmann::json& params = meta.at("parameters");
        if (params.size() != parameters.size())
            throw tg::io::FormatError(path + ": holds " + std::to_string(params.size()) + " parameters but the model has " +
                                      std::to_string(parameters.size()));
        for (tg::Parameter<T>* p : parameters) {
            const nlohmann::json* entry = nullptr;
            for (const nlohmann::json& e : params)
                if (e.at("name") == p->name) entry = &e;
            if (!entry) throw tg::io::FormatError(path + ": has no parameter named " + p->name);
            load_into(dir, entry->at("file").get<std::string>(), p->value, "parameter " + p->name);
        }
    } catch (const nlohmann::json::exception& e) {
        throw tg::io::FormatError(path + ": " + e.what());
    }
}

template <class T>
void restore_checkpoint(const std::string& dir, const nlohmann::json& meta,
                        const std::vector<tg::Parameter<T>*>& parameters, tg::Optimizer<T>& optimizer) {
    restore_parameters(dir, meta, parameters);
    const std::string path = checkpoint_path(dir);
    try {
        const nlohmann::json& state = meta.at("optimizer_state");
        const std::vector<tg::Matrix<T>*> buffers = optimizer.state();
        const nlohmann::json& files = state.at("buffers");
        if (files.size() != buffers.size())
            throw tg::io::FormatError(path + ": holds " + std::to_string(files.size()) +
                                      " optimizer buffers but the optimizer has " + std::to_string(buffers.size()));
        for (std::size_t i = 0; i < buffers.size(); ++i)
            load_into(dir, files[i].get<std::string>(), *buffers[i], "optimizer buffer " + std::to_string(i));
        optimizer.steps = to_integer<std::int64_t>(state.at("steps"), path + ": \"optimizer_state\".\"steps\"");
    } catch (const nlohmann::json::exception& e) {
        throw tg::io::FormatError(path + ": " + e.what());
    }
}

template void save_checkpoint<float>(const std::string&, const std::string&, nlohmann::json,
                                     const std::vector<tg::Parameter<float>*>&, tg::Optimizer<float>&);
template void save_checkpoint<double>(const std::string&, const std::string&, nlohmann::json,
                                      const std::vector<tg::Parameter<double>*>&, tg::Optimizer<double>&);
template void restore_parameters<float>(const std::string&, const nlohmann::json&, const std::vector<tg::Parameter<float>*>&);
template void restore_parameters<double>(const std::string&, const nlohmann::json&, const std::vector<tg::Parameter<double>*>&);
template void restore_checkpoint<float>(const std::string&, const nlohmann::json&,
                                        const std::vector<tg::Parameter<float>*>&, tg::Optimizer<float>&);
template void restore_checkpoint<double>(const std::string&, const nlohmann::json&,
                                         const std::vector<tg::Parameter<double>*>&, tg::Optimizer<double>&);

}  // namespace tg::train
