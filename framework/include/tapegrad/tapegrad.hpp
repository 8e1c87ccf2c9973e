#pragma once
// Everything a model or a training loop needs.
#include "tapegrad/errors.hpp"
#include "tapegrad/graphviz.hpp"
#include "tapegrad/ops/activations.hpp"
#include "tapegrad/ops/conv.hpp"
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/ops/linear.hpp"
#include "tapegrad/ops/losses.hpp"
#include "tapegrad/ops/reductions.hpp"
#include "tapegrad/parameter.hpp"
#include "tapegrad/tape.hpp"
#include "tapegrad/tensor.hpp"
#include "tapegrad/optim.hpp"
