#pragma once
// Explicit instantiation of every op for one precision, TG_OPS_PRECISION: the definitions that
// the op headers declare `extern` for float and double. Two source files, one per precision,
// so that a two-core build compiles them side by side.
#include "tapegrad/tapegrad.hpp"

namespace tg {
TG_ELEMENTWISE_OPS(, TG_OPS_PRECISION)
TG_ACTIVATION_OPS(, TG_OPS_PRECISION)
TG_LINEAR_OPS(, TG_OPS_PRECISION)
TG_CONV_OPS(, TG_OPS_PRECISION)
TG_LOSS_OPS(, TG_OPS_PRECISION)
TG_REDUCTION_OPS(, TG_OPS_PRECISION)
TG_SHAPE_OPS(, TG_OPS_PRECISION)
TG_DROPOUT_OPS(, TG_OPS_PRECISION)
}  // namespace tg
