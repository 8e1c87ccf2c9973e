#pragma once
// Lookups shared by the registry's two lists (model kinds, optimizers): by name, with the known
// names in the error.
#include "tapegrad/train/options.hpp"

#include <string>
#include <vector>

namespace tg::train::detail {

template <class Kind>
const Kind& find(const std::vector<Kind>& kinds, const std::string& name, const char* what) {
    for (const Kind& k : kinds)
        if (k.name == name) return k;
    std::string known;
    for (const Kind& k : kinds) known += (known.empty() ? "" : "|") + k.name;
    throw UsageError("unknown " + std::string(what) + " '" + name + "' (expected " + known + ")");
}

template <class Kind>
std::vector<std::string> names(const std::vector<Kind>& kinds) {
    std::vector<std::string> out;
    for (const Kind& k : kinds) out.push_back(k.name);
    return out;
}

}  // namespace tg::train::detail
