#pragma once
// Dropout with a counter-based mask (random.hpp): keyed by (seed, epoch, sample id, column) like
// the models' noise, so a sample's mask does not depend on its place in the batch, the batch
// size or the thread count, and a resumed run draws the masks an uninterrupted one would.
#include "tapegrad/ops/elementwise.hpp"
#include "tapegrad/random.hpp"

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>

namespace tg {

/// Training or evaluation, for ops that differ between the two (dropout).
enum class Mode : std::uint8_t { train, eval };

/// What a dropout mask is drawn from. `sample_ids` holds the global sample id of each row of the
/// input (not read in Mode::eval); `layer` tells a model's dropout layers apart.
struct DropoutKey {
    std::uint64_t seed = 0;
    std::uint64_t epoch = 0;
    std::span<const std::uint64_t> sample_ids = {};
    std::uint64_t layer = 0;
};

/// The seed a layer draws with: seed + layer 0x9E3779B97F4A7C15 (mod 2^64; odd, so distinct layers
/// of one seed get distinct Philox keys, and layer 0 draws random::dropout_mask_rows's own mask).
constexpr std::uint64_t dropout_seed(const DropoutKey& key) noexcept {
    return key.seed + key.layer * std::uint64_t{0x9E3779B97F4A7C15};
}

/// y = x ⊙ M with M = 0 (probability p) or 1/(1-p), drawn per element as above; eval: y = x;  dx = dy ⊙ M
template <class T>
Var<T> dropout(Var<T> x, double p, const DropoutKey& key, Mode mode) {
    // Checked in both modes: a bad configuration fails at once, not at the first training step.
    if (!(p >= 0 && p <= 1))
        throw std::invalid_argument("dropout: the drop probability p must lie in [0, 1], got " + std::to_string(p));
    // x itself: exactly the identity with exactly dy as its gradient, at no cost (no node).
    if (mode == Mode::eval) return x;
    if (key.sample_ids.size() != x.rows())
        throw ShapeError("dropout: the input has shape " + to_string(x.shape()) + " but the key's " +
                         std::to_string(key.sample_ids.size()) + " sample ids give a mask of shape " +
                         to_string(Shape{key.sample_ids.size(), x.cols()}) + "; one id per row");
    return x.tape->record(
        "dropout", x.shape(), {x},
        [&](Node<T>& y) {
            // The mask, 1/(1-p) included, lives in the node: the tape owns it for as long as the
            // recording (and any rule reading it) exists, and reuses its buffer after clear().
            random::dropout_mask_rows(key.sample_ids, dropout_seed(key), key.epoch, p, x.cols(), y.saved);
            detail::map_elements(y.result, [](const auto& v, const auto& m) { return v * m; }, x.value(), y.saved);
        },
        [](Node<T>& y) {
            detail::add_grad_elements(y.in(0), [](const auto& g, const auto& m) { return g * m; }, *y.grad, y.saved);
        },
        // The same product with the same constant mask: masked's rule differentiates it again.
        [](RuleContext<T>& c) { c.dx[0] = masked(c.dy, c.node.saved); });
}

// Compiled once per precision in framework/src/ops_float.cpp and ops_double.cpp.
#define TG_DROPOUT_OPS(PREFIX, T) PREFIX template Var<T> dropout<T>(Var<T>, double, const DropoutKey&, Mode);
TG_DROPOUT_OPS(extern, float)
TG_DROPOUT_OPS(extern, double)

}  // namespace tg
