#include "cli.hpp"

#include <fmt/core.h>

#include <CLI/CLI.hpp>

#include <charconv>
#include <deque>

namespace train_tool {
namespace {

using tg::train::OptionSpec;
using tg::train::OptionType;
using tg::train::UsageError;

const char* const kOutputHelp = R"(
Every run reports the same measure for comparison: the per-pixel MSE of the clean
reconstruction on the training set (5,000 rows of it by default: --eval-train-rows) and
on the whole test set, after every epoch (--eval-every) and always after the last.

Output (in --out): checkpoint.json + checkpoint/*.npy (complete or absent), metrics.json,
filters.png, reconstructions.png, loss.png.
)";

std::string exit_codes_help() {
    std::string text = "\nExit codes:\n";
    for (const auto& [code, meaning] : kExitCodeMeanings) text += fmt::format("  {:<4} {}\n", int(code), meaning);
    return text;
}

enum class Section { model, optimizer, training };

// One declared option on the command line: the first declaration of its key, the kinds that
// declare it, and where CLI11 writes what was typed.
struct Binding {
    OptionSpec spec;
    Section section;
    std::vector<std::string> owners;  // the kinds declaring it (empty for training options)
    std::string text;
    std::vector<std::string> items;
    bool on = false;
    CLI::Option* option = nullptr;
};

std::string join(const std::vector<std::string>& v, const char* sep) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : sep) + x;
    return s;
}

std::size_t parse_count(const std::string& flag, const std::string& text) {
    std::size_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
        throw UsageError(flag + ": '" + text + "' is not a non-negative integer");
    return v;
}

// What was typed, as the JSON value of the option's declared type.
nlohmann::json typed_value(const Binding& b) {
    const std::string flag = b.spec.flag();
    switch (b.spec.type) {
        case OptionType::integer: return parse_count(flag, b.text);
        case OptionType::real: {
            double v = 0;
            if (!CLI::detail::lexical_cast(b.text, v)) throw UsageError(flag + ": '" + b.text + "' is not a number");
            return v;
        }
        case OptionType::flag: return b.on;
        case OptionType::integer_list: {
            nlohmann::json list = nlohmann::json::array();
            for (const std::string& item : b.items) list.push_back(parse_count(flag, item));
            return list;
        }
        case OptionType::seed: return std::to_string(parse_count(flag, b.text));
        case OptionType::text: return b.text;
    }
    return nullptr;
}

// The help line: the option's text, its constraint, and who declares it with which default.
std::string help_of(const Binding& b, const std::vector<std::pair<std::string, nlohmann::json>>& defaults) {
    std::string h = tg::train::with_flags(b.spec.help);
    if (const std::string r = b.spec.requirement(); !r.empty() && b.spec.type != OptionType::text) h += "; " + r;
    std::string shown;
    bool same = true;
    for (const auto& d : defaults) same &= d.second == defaults.front().second;
    auto value = [](const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); };
    if (same && !defaults.empty())
        shown = "default " + value(defaults.front().second);
    else
        for (const auto& [kind, v] : defaults) shown += (shown.empty() ? "default " : ", ") + kind + " " + value(v);
    if (!b.owners.empty()) h += " [" + join(b.owners, ", ") + "]";
    return shown.empty() ? h : h + " (" + shown + ")";
}

// `values` (declared by `specs`) as the command-line arguments that set them.
std::vector<std::string> arguments_for(const std::vector<OptionSpec>& specs, const nlohmann::json& values) {
    std::vector<std::string> args;
    for (const auto& item : values.items()) {
        const auto spec = std::find_if(specs.begin(), specs.end(), [&](const OptionSpec& s) { return s.key == item.key(); });
        if (spec == specs.end()) throw std::logic_error("no option " + item.key());
        const nlohmann::json& v = item.value();
        if (spec->type == OptionType::flag) {
            args.push_back(v.get<bool>() ? spec->flag() : spec->off_flag());
            continue;
        }
        args.push_back(spec->flag());
        if (v.is_array()) {
            std::vector<std::string> items;
            for (const nlohmann::json& x : v) items.push_back(x.dump());
            args.push_back(join(items, ","));
        } else {
            args.push_back(v.is_string() ? v.get<std::string>() : v.dump());
        }
    }
    return args;
}

// --list-kinds: every model kind, whether it trains, and the arguments of a small instance
// (the registry's first gradcheck variant), for scripts that run every kind.
void print_kinds() {
    nlohmann::json kinds = nlohmann::json::array();
    for (const auto& k : tg::train::model_kinds())
        kinds.push_back({{"name", k.name},
                         {"trainable", k.trainable()},
                         {"small", k.gradcheck_variants.empty() ? std::vector<std::string>{}
                                                                : arguments_for(k.options, k.gradcheck_variants.front())}});
    std::printf("%s\n", kinds.dump(1).c_str());
}

}  // namespace

int parse_command_line(int argc, char** argv, CommandLine& cl) {
    RunOptions& r = cl.run;
    CLI::App app{"Train an autoencoder (or fit the PCA baseline) on Fashion-MNIST or .npy data, with "
                 "checkpoints, exact resume and pictures."};
    std::string kinds_help = "\nModel kinds:\n";
    for (const auto& k : tg::train::model_kinds()) kinds_help += "  " + k.name + std::string(14 - k.name.size(), ' ') + tg::train::with_flags(k.summary) + "\n";
    kinds_help += "Optimizers:\n";
    for (const auto& k : tg::train::optimizer_kinds()) kinds_help += "  " + k.name + std::string(14 - k.name.size(), ' ') + k.summary + "\n";
    app.footer(kinds_help + kOutputHelp + exit_codes_help());

    const tg::train::RunConfig default_run;
    std::string model_name = default_run.model, optimizer_name = default_run.optimizer;
    CLI::Option* model_opt = app.add_option("--model", model_name, "model kind (default " + default_run.model + ")")
                                 ->group("Model")
                                 ->check(CLI::IsMember(tg::train::model_kind_names()));
    CLI::Option* optimizer_opt = app.add_option("--optimizer", optimizer_name, "optimizer (default " + default_run.optimizer + ")")
                                     ->group("Optimizer")
                                     ->check(CLI::IsMember(tg::train::optimizer_kind_names()));

    // The union of every kind's declared options, each key once (deque: stable addresses).
    std::deque<Binding> bindings;
    std::map<std::string, std::vector<std::pair<std::string, nlohmann::json>>> defaults;
    auto declare = [&](const OptionSpec& spec, Section section, const std::string& owner) {
        if (!owner.empty()) defaults[spec.key].emplace_back(owner, spec.default_value);
        for (Binding& b : bindings)
            if (b.spec.key == spec.key) {
                if (!owner.empty()) b.owners.push_back(owner);
                return;
            }
        Binding& b = bindings.emplace_back();
        b.spec = spec;
        b.section = section;
        if (!owner.empty()) b.owners.push_back(owner);
    };
    for (const auto& k : tg::train::model_kinds())
        for (const OptionSpec& s : k.options) declare(s, Section::model, k.name);
    for (const auto& k : tg::train::optimizer_kinds())
        for (const OptionSpec& s : k.options) declare(s, Section::optimizer, k.name);
    for (const OptionSpec& s : tg::train::training_options()) declare(s, Section::training, "");
    for (Binding& b : bindings) {
        const std::string group = b.section == Section::model ? "Model options" : b.section == Section::optimizer ? "Optimizer options" : b.spec.group;
        const std::vector<std::pair<std::string, nlohmann::json>> shown =
            b.section == Section::training ? std::vector<std::pair<std::string, nlohmann::json>>{{"", b.spec.default_value}} : defaults[b.spec.key];
        const std::string help = help_of(b, shown);
        if (b.spec.type == OptionType::flag) {
            const std::string names = b.spec.flag() + ",!" + b.spec.off_flag();
            b.option = app.add_flag(names, b.on, help);
        } else if (b.spec.type == OptionType::integer_list) {
            b.option = app.add_option(b.spec.flag(), b.items, help)->delimiter(',')->type_name("N,N,...");
        } else {
            b.option = app.add_option(b.spec.flag(), b.text, help);
            const OptionType t = b.spec.type;
            b.option->type_name(t == OptionType::real ? "X" : t == OptionType::text ? "TEXT" : "N");
            if (!b.spec.choices.empty()) b.option->check(CLI::IsMember(b.spec.choices));
        }
        b.option->group(group);
    }

    const std::string group = "Run (may differ when resuming)";
    CLI::Option* out = app.add_option("--out", r.out, "output directory (default with --resume: the resumed directory)")->group(group);
    app.add_option("--resume", r.resume, "continue the run whose output directory this is")->group(group)->check(CLI::ExistingDirectory);
    app.add_option("--threads", r.threads, "threads for the whole step (the framework's worker pool; tg::set_num_threads)")->group(group)->check(CLI::Range(1, 256));
    app.add_option("--checkpoint-every", r.checkpoint_every, "checkpoint every N epochs (0: only at the end)")->group(group)->check(CLI::NonNegativeNumber);
    app.add_flag("--anomaly", r.anomaly, "check every op for NaN/Inf and name the first that produces one (slower)")->group(group);
    app.add_option("--progress", r.progress, "auto: a bar on a terminal, plain lines otherwise")->group(group)
        ->check(CLI::IsMember({"auto", "bar", "lines", "none"}));
    app.add_option("--pictures", r.pictures, "test images in reconstructions.png")->group(group)->check(CLI::Range(1, 64));
    app.add_flag("--probe", r.probe,
                 "at the end, train a linear classifier (logistic regression) on the frozen codes and report its "
                 "test accuracy (probe.json); with --resume of a finished run, probes it without training")
        ->group(group);
    app.add_option("--probe-epochs", r.probe_epochs, "epochs of the probe's training (Adam, cosine decay)")
        ->group(group)
        ->check(CLI::Range(1, 10000));
    app.add_flag("--export-codes", r.export_codes,
                 "at the end, write codes-train.npy, codes-test.npy and reconstructions-test.npy")
        ->group(group);
    app.add_option("--stop-after-steps", r.stop_after_steps,
                   "testing: send ourselves SIGINT after this many steps, to exercise stop and resume")
        ->group(group);

    bool list_kinds = false;
    app.add_flag("--list-kinds", list_kinds, "print the model kinds as JSON (name, trainable, a small instance's arguments) and exit")
        ->group(group);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : kExitUsage;
    }
    if (list_kinds) {
        print_kinds();
        return kExitOk;
    }
    if (model_opt->count()) cl.model = model_name;
    if (optimizer_opt->count()) cl.optimizer = optimizer_name;
    try {
        for (const Binding& b : bindings) {
            if (b.option->count() == 0) continue;
            nlohmann::json& section = b.section == Section::model ? cl.model_options
                                      : b.section == Section::optimizer ? cl.optimizer_options : cl.training;
            section[b.spec.key] = typed_value(b);
        }
    } catch (const UsageError& e) {
        std::fprintf(stderr, "error: %s\nrun with --help for the options\n", tg::train::with_flags(e.what()).c_str());
        return kExitUsage;
    }
    if (!r.resume.empty() && out->count() == 0) r.out = r.resume;
    for (int i = 0; i < argc; ++i) r.command_line += (i ? " " : "") + std::string(argv[i]);
    return -1;
}

namespace {

std::string flag_of(const std::string& key) {
    OptionSpec s;
    s.key = key;
    return s.flag();
}

// Options given on the command line that the chosen kind does not declare are mistakes.
void check_applies(const nlohmann::json& given, const std::vector<OptionSpec>& specs, const std::string& kind_flag,
                   const std::string& kind) {
    for (const auto& item : given.items()) {
        const std::string& key = item.key();  // not a structured binding: clang 14 cannot capture one
        if (std::none_of(specs.begin(), specs.end(), [&](const OptionSpec& s) { return s.key == key; }))
            throw UsageError(flag_of(key) + " does not apply to " + kind_flag + " " + kind);
    }
}

// A resumed run keeps its configuration: an explicit option must agree with the checkpoint,
// unless its declaration says it may change (OptionSpec::resumable).
void check_agrees(const nlohmann::json& given, const nlohmann::json& saved, const std::vector<OptionSpec>& specs) {
    std::string changeable;
    for (const OptionSpec& s : specs)
        if (s.resumable) changeable += (changeable.empty() ? "" : ", ") + s.flag();
    for (const auto& item : given.items()) {
        const std::string& key = item.key();  // not a structured binding: clang 14 cannot capture one
        const nlohmann::json& value = item.value();
        const auto spec = std::find_if(specs.begin(), specs.end(), [&](const OptionSpec& s) { return s.key == key; });
        if (spec != specs.end() && spec->resumable) continue;
        if (saved.contains(key) && saved.at(key) != value)
            throw UsageError(flag_of(key) + " " + value.dump() + " contradicts the checkpoint's " +
                             saved.at(key).dump() + ": a resumed run keeps its configuration (only " +
                             (changeable.empty() ? "the run options" : changeable) + " may change)");
    }
}

}  // namespace

tg::train::RunConfig make_config(const CommandLine& cl, const tg::train::RunConfig* saved) {
    const tg::train::RunConfig defaults;
    const std::string model = cl.model.value_or(saved ? saved->model : defaults.model);
    const std::string optimizer = cl.optimizer.value_or(saved ? saved->optimizer : defaults.optimizer);
    check_applies(cl.model_options, tg::train::model_kind(model).options, "--model", model);
    check_applies(cl.optimizer_options, tg::train::optimizer_kind(optimizer).options, "--optimizer", optimizer);
    if (!saved) return tg::train::resolve_config(model, cl.model_options, optimizer, cl.optimizer_options, cl.training);

    if (model != saved->model) throw UsageError("--model " + model + " contradicts the checkpoint's " + saved->model);
    if (optimizer != saved->optimizer)
        throw UsageError("--optimizer " + optimizer + " contradicts the checkpoint's " + saved->optimizer);
    check_agrees(cl.model_options, saved->model_options.json(), tg::train::model_kind(model).options);
    check_agrees(cl.optimizer_options, saved->optimizer_options.json(), tg::train::optimizer_kind(optimizer).options);
    check_agrees(cl.training, saved->training.json(), tg::train::training_options());
    nlohmann::json training = saved->training.json();
    for (const OptionSpec& s : tg::train::training_options())
        if (s.resumable && cl.training.contains(s.key)) training[s.key] = cl.training.at(s.key);
    return tg::train::resolve_config(model, saved->model_options.json(), optimizer, saved->optimizer_options.json(), training);
}

}  // namespace train_tool
