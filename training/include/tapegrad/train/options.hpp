#pragma once
// Declared options: the one description of a setting (its key, type, default, bounds, help)
// from which the command line, --help, configuration files and checkpoint validation are all
// derived. A model kind, an optimizer and the training run each declare a list of them.
#include <tapegrad/io/errors.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace tg::train {

/// A problem with what the user asked for (a command-line mistake, exit code 2 in `train`):
/// a value out of range, settings that contradict each other, a missing file.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

enum class OptionType {
    integer,       ///< a non-negative integer (std::size_t)
    real,          ///< a double
    text,          ///< one of `choices` (or any text when `choices` is empty)
    flag,          ///< a boolean; on the command line --key, or --no-key / the negation name
    integer_list,  ///< comma-separated non-negative integers
    seed,          ///< a 64-bit unsigned integer, kept as a decimal string in JSON (readers
                   ///< such as Python's json and jq lose integers above 2^53)
};

/// One setting. Its JSON key is `key`; its command-line flag is `--key` with '_' as '-'.
struct OptionSpec {
    std::string key;
    OptionType type = OptionType::real;
    nlohmann::json default_value;
    std::string help;
    std::vector<std::string> choices;  ///< text: the allowed values
    double min = -std::numeric_limits<double>::infinity();
    double max = std::numeric_limits<double>::infinity();
    bool min_exclusive = false, max_exclusive = false;
    std::size_t max_items = 0;         ///< integer_list: at most this many (0: no limit)
    std::string negation;              ///< flag: the name of its "off" flag (e.g. untied)
    std::string group;                 ///< heading in --help
    /// A resumed run may change it (the epoch budget, where the data is, how often to evaluate):
    /// it never changes what the finished run's parameters are, epoch for epoch.
    bool resumable = false;

    OptionSpec& may_change_on_resume() { resumable = true; return *this; }

    /// How the library names it in messages and help: `key` (see option_name).
    std::string name() const;
    /// Its command-line flag, --key with '_' as '-' (the tool's name for it).
    std::string flag() const;
    /// A flag's "off" flag: --negation, or --no-key.
    std::string off_flag() const;
    /// "in [0, 1)", "at least 1", "one of a|b|c"...: the constraint in words, empty if none.
    std::string requirement() const;
};

/// The library names an option in its messages and help texts as its key in backquotes
/// (`corruption_amount`): the key a C++ or JSON user sets. A tool shows its own names for them
/// through with_flags (the `train` tool: --corruption-amount).
std::string option_name(const std::string& key);

/// `message` with every `key` replaced by that key's command-line flag.
std::string with_flags(const std::string& message);

/// Builders for the common shapes of option (bounds inclusive unless stated).
OptionSpec integer_option(std::string key, std::size_t default_value, std::string help, std::size_t min = 0,
                          std::size_t max = std::numeric_limits<std::uint32_t>::max());
OptionSpec real_option(std::string key, double default_value, std::string help, double min = -1e308,
                       double max = 1e308);
OptionSpec positive_option(std::string key, double default_value, std::string help);
OptionSpec unit_interval_option(std::string key, double default_value, std::string help, bool max_exclusive = false);
OptionSpec choice_option(std::string key, std::string default_value, std::string help, std::vector<std::string> choices);
OptionSpec text_option(std::string key, std::string default_value, std::string help);
OptionSpec flag_option(std::string key, bool default_value, std::string help, std::string negation = "");
OptionSpec integer_list_option(std::string key, std::vector<std::size_t> default_value, std::string help,
                               std::size_t min, std::size_t max, std::size_t max_items);
OptionSpec seed_option(std::string key, std::uint64_t default_value, std::string help);

/// The specs with their --help heading set to `group`.
std::vector<OptionSpec> in_group(const std::string& group, std::vector<OptionSpec> specs);

/// Concatenates option lists (a model kind = the shared autoencoder options + its own).
std::vector<OptionSpec> operator+(std::vector<OptionSpec> a, const std::vector<OptionSpec>& b);

/// Checks `given` (a JSON object, e.g. from a file or the command line) against `specs` and
/// returns it completed with the defaults of the keys it lacks. `where` prefixes messages.
/// Throws tg::io::FormatError for a key no spec declares or a value of the wrong JSON type
/// (only files can produce those: the command line parses by type), UsageError for a value
/// outside its bounds or choices ("`code` must be at most 65536"; the tool shows --code).
nlohmann::json resolve_options(const std::vector<OptionSpec>& specs, const nlohmann::json& given,
                               const std::string& where);

/// Typed reads of resolved option values.
class OptionValues {
public:
    OptionValues() = default;
    explicit OptionValues(nlohmann::json values) : values_(std::move(values)) {}
    std::size_t integer(const std::string& key) const;
    double real(const std::string& key) const;
    const std::string& text(const std::string& key) const;
    bool flag(const std::string& key) const;
    std::vector<std::size_t> integers(const std::string& key) const;
    std::uint64_t seed(const std::string& key) const;
    const nlohmann::json& json() const { return values_; }

private:
    const nlohmann::json& at(const std::string& key) const;
    nlohmann::json values_ = nlohmann::json::object();
};

}  // namespace tg::train
