#include "tapegrad/train/options.hpp"

#include "tapegrad/train/json_fields.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <regex>
#include <sstream>

namespace tg::train {
namespace {

std::string number(double v) {
    if (v == std::floor(v) && std::abs(v) < 1e15) return std::to_string(static_cast<long long>(v));
    std::ostringstream os;
    os << v;
    return os.str();
}

// The whole text must be a decimal number in [0, 2^64): std::stoull would accept "-1" (as
// 2^64 - 1) and "12abc".
std::uint64_t parse_seed(const std::string& text, const std::string& key) {
    std::uint64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
        throw tg::io::FormatError("\"" + key + "\" must be a decimal integer in [0, 2^64), not \"" + text + "\"");
    return v;
}

bool within(const OptionSpec& s, double v) {
    const bool above = s.min_exclusive ? v > s.min : v >= s.min;
    const bool below = s.max_exclusive ? v < s.max : v <= s.max;
    return above && below;
}

// Type check (FormatError) then bounds (UsageError) of one value.
void check_value(const OptionSpec& s, const nlohmann::json& v, const std::string& where) {
    const std::string name = "\"" + s.key + "\"";
    auto out_of_bounds = [&](const std::string& shown) {
        // An integer's failing side reads better alone ("`code` must be at most 65536").
        std::string requirement = s.requirement();
        if (s.type == OptionType::integer && v.is_number()) {
            if (v.get<double>() > s.max) requirement = "at most " + number(s.max);
            else if (v.get<double>() < s.min) requirement = "at least " + number(s.min);
        }
        return UsageError(where + s.name() + " must be " + requirement + ", got " + shown);
    };
    switch (s.type) {
        case OptionType::integer: {
            const auto n = to_integer<std::size_t>(v, name);
            if (!within(s, double(n))) throw out_of_bounds(std::to_string(n));
            return;
        }
        case OptionType::real:
            if (!v.is_number()) throw tg::io::FormatError(name + " must be a number, not " + v.dump());
            if (!within(s, v.get<double>())) throw out_of_bounds(number(v.get<double>()));
            return;
        case OptionType::text:
            if (!v.is_string()) throw tg::io::FormatError(name + " must be a string, not " + v.dump());
            if (!s.choices.empty() && std::find(s.choices.begin(), s.choices.end(), v.get<std::string>()) == s.choices.end())
                throw out_of_bounds("'" + v.get<std::string>() + "'");
            return;
        case OptionType::flag:
            if (!v.is_boolean()) throw tg::io::FormatError(name + " must be true or false, not " + v.dump());
            return;
        case OptionType::integer_list: {
            if (!v.is_array()) throw tg::io::FormatError(name + " must be an array, not " + v.dump());
            if (v.empty()) throw UsageError(where + s.name() + " needs at least one value");
            if (s.max_items && v.size() > s.max_items)
                throw UsageError(where + s.name() + ": at most " + std::to_string(s.max_items) + " values");
            for (const nlohmann::json& item : v) {
                const auto n = to_integer<std::size_t>(item, "an entry of " + name);
                if (!within(s, double(n))) throw UsageError(where + s.name() + ": every value must be " + s.requirement() + ", got " + std::to_string(n));
            }
            return;
        }
        case OptionType::seed:
            if (!v.is_string()) throw tg::io::FormatError(name + " must be a decimal integer in a string, not " + v.dump());
            (void)parse_seed(v.get<std::string>(), s.key);
            return;
    }
}

OptionSpec make_spec(std::string key, OptionType type, nlohmann::json default_value, std::string help) {
    OptionSpec s;
    s.key = std::move(key);
    s.type = type;
    s.default_value = std::move(default_value);
    s.help = std::move(help);
    return s;
}

}  // namespace

std::string option_name(const std::string& key) { return "`" + key + "`"; }

std::string with_flags(const std::string& message) {
    static const std::regex named("`([a-z0-9_]+)`");
    std::string out;
    auto at = message.cbegin();
    for (std::sregex_iterator m(message.begin(), message.end(), named), end; m != end; ++m) {
        out.append(at, (*m)[0].first);
        OptionSpec s;
        s.key = (*m)[1].str();
        out += s.flag();
        at = (*m)[0].second;
    }
    return out.append(at, message.cend());
}

std::string OptionSpec::name() const { return option_name(key); }

std::string OptionSpec::flag() const {
    std::string f = "--" + key;
    std::replace(f.begin(), f.end(), '_', '-');
    return f;
}

std::string OptionSpec::off_flag() const { return negation.empty() ? "--no-" + flag().substr(2) : "--" + negation; }

std::string OptionSpec::requirement() const {
    if (type == OptionType::text) {
        std::string s;
        for (const std::string& c : choices) s += (s.empty() ? "" : "|") + c;
        return s.empty() ? "" : "one of " + s;
    }
    if (type != OptionType::integer && type != OptionType::real && type != OptionType::integer_list) return "";
    const bool has_min = std::isfinite(min) && min > -1e308, has_max = std::isfinite(max) && max < 1e308;
    if (has_min && has_max)
        return std::string("in ") + (min_exclusive ? "(" : "[") + number(min) + ", " + number(max) + (max_exclusive ? ")" : "]");
    if (has_min) return min_exclusive ? (min == 0 ? "positive" : "above " + number(min)) : (min == 0 ? "zero or more" : "at least " + number(min));
    if (has_max) return (max_exclusive ? "below " : "at most ") + number(max);
    return "";
}

OptionSpec integer_option(std::string key, std::size_t default_value, std::string help, std::size_t min, std::size_t max) {
    OptionSpec s = make_spec(std::move(key), OptionType::integer, default_value, std::move(help));
    s.min = double(min);
    s.max = max == std::numeric_limits<std::uint32_t>::max() ? 1e308 : double(max);
    return s;
}

OptionSpec real_option(std::string key, double default_value, std::string help, double min, double max) {
    OptionSpec s = make_spec(std::move(key), OptionType::real, default_value, std::move(help));
    s.min = min;
    s.max = max;
    return s;
}

OptionSpec positive_option(std::string key, double default_value, std::string help) {
    OptionSpec s = real_option(std::move(key), default_value, std::move(help), 0);
    s.min_exclusive = true;
    return s;
}

OptionSpec unit_interval_option(std::string key, double default_value, std::string help, bool max_exclusive) {
    OptionSpec s = real_option(std::move(key), default_value, std::move(help), 0, 1);
    s.max_exclusive = max_exclusive;
    return s;
}

OptionSpec choice_option(std::string key, std::string default_value, std::string help, std::vector<std::string> choices) {
    OptionSpec s = make_spec(std::move(key), OptionType::text, std::move(default_value), std::move(help));
    s.choices = std::move(choices);
    return s;
}

OptionSpec text_option(std::string key, std::string default_value, std::string help) {
    return make_spec(std::move(key), OptionType::text, std::move(default_value), std::move(help));
}

OptionSpec flag_option(std::string key, bool default_value, std::string help, std::string negation) {
    OptionSpec s = make_spec(std::move(key), OptionType::flag, default_value, std::move(help));
    s.negation = std::move(negation);
    return s;
}

OptionSpec integer_list_option(std::string key, std::vector<std::size_t> default_value, std::string help,
                               std::size_t min, std::size_t max, std::size_t max_items) {
    OptionSpec s = make_spec(std::move(key), OptionType::integer_list, default_value, std::move(help));
    s.min = double(min);
    s.max = double(max);
    s.max_items = max_items;
    return s;
}

OptionSpec seed_option(std::string key, std::uint64_t default_value, std::string help) {
    return make_spec(std::move(key), OptionType::seed, std::to_string(default_value), std::move(help));
}

std::vector<OptionSpec> in_group(const std::string& group, std::vector<OptionSpec> specs) {
    for (OptionSpec& s : specs) s.group = group;
    return specs;
}

std::vector<OptionSpec> operator+(std::vector<OptionSpec> a, const std::vector<OptionSpec>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

nlohmann::json resolve_options(const std::vector<OptionSpec>& specs, const nlohmann::json& given, const std::string& where) {
    if (!given.is_object()) throw tg::io::FormatError(where + "options must be a JSON object, not " + given.dump());
    for (const auto& item : given.items()) {
        const std::string& key = item.key();
        if (std::none_of(specs.begin(), specs.end(), [&](const OptionSpec& s) { return s.key == key; }))
            throw tg::io::FormatError(where + "unknown option \"" + key + "\"");
    }
    nlohmann::json out = nlohmann::json::object();
    for (const OptionSpec& s : specs) {
        const nlohmann::json& v = given.contains(s.key) ? given.at(s.key) : s.default_value;
        try {
            check_value(s, v, where);
        } catch (const tg::io::FormatError& e) {  // type errors name the field; add the file
            throw tg::io::FormatError(where + e.what());
        }
        out[s.key] = v;
    }
    return out;
}

const nlohmann::json& OptionValues::at(const std::string& key) const {
    if (!values_.contains(key)) throw std::logic_error("option \"" + key + "\" was not declared");
    return values_.at(key);
}
std::size_t OptionValues::integer(const std::string& key) const { return at(key).get<std::size_t>(); }
double OptionValues::real(const std::string& key) const { return at(key).get<double>(); }
const std::string& OptionValues::text(const std::string& key) const { return at(key).get_ref<const std::string&>(); }
bool OptionValues::flag(const std::string& key) const { return at(key).get<bool>(); }
std::vector<std::size_t> OptionValues::integers(const std::string& key) const { return at(key).get<std::vector<std::size_t>>(); }
std::uint64_t OptionValues::seed(const std::string& key) const { return parse_seed(at(key).get<std::string>(), key); }

}  // namespace tg::train
