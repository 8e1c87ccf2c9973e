#pragma once
// Checked reads of integer fields from a checkpoint's JSON. nlohmann::json converts a float to
// an integer with a plain cast (undefined behaviour when out of range: 1e300 -> int), and an
// integer modulo 2^N (-1 -> SIZE_MAX); a checkpoint comes from disk and may be hostile, so
// every integer field goes through get_integer instead of get<>().
#include <tapegrad/io/errors.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

namespace tg::train {

// `value`, a JSON integer that fits in I; else tg::io::FormatError, "<what> must be ...".
// Floats are refused even when integral (3.0): the tool never writes them.
template <class I>
I to_integer(const nlohmann::json& value, const std::string& what) {
    if (value.is_number_unsigned()) {
        const auto v = value.get<std::uint64_t>();
        if (std::in_range<I>(v)) return static_cast<I>(v);
    } else if (value.is_number_integer()) {
        const auto v = value.get<std::int64_t>();
        if (std::in_range<I>(v)) return static_cast<I>(v);
    }
    throw tg::io::FormatError(what + " must be an integer in [" + std::to_string(std::numeric_limits<I>::min()) +
                              ", " + std::to_string(std::numeric_limits<I>::max()) + "], not " + value.dump());
}

// The integer field `key` of the object `j` (nlohmann::json::out_of_range if it is missing).
template <class I>
I get_integer(const nlohmann::json& j, const char* key) {
    return to_integer<I>(j.at(key), std::string("\"") + key + "\"");
}

}  // namespace tg::train
