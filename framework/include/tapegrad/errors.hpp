#pragma once
#include <stdexcept>
#include <string>

namespace tg {

// An op was given operands whose shapes it cannot combine. Thrown when the op is recorded,
// so the stack trace points at the line of the model that built the bad graph.
struct ShapeError : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// The tape was used out of order: backward twice, a stale variable, a non-scalar root.
struct TapeError : std::logic_error {
    using std::logic_error::logic_error;
};

// Anomaly mode found a NaN or Inf; the message names the first op that produced it.
struct AnomalyError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

}  // namespace tg
