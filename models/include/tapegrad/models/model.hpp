#pragma once
// The interface between models and training loops, and the initialisers models share.
#include <tapegrad/tapegrad.hpp>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace tg::models {

/// A training batch: its rows, and which samples of the data set they are. Noise a model adds
/// at training time is keyed by (seed, epoch, sample id, element), so a sample's noise is the
/// same wherever it sits in a batch, however many threads or processes share the batch.
/// Converts implicitly from a matrix: then the rows are samples 0..B-1 of epoch 0.
template <class T>
struct Batch {
    const Matrix<T>& x;
    std::span<const std::uint64_t> sample_ids;  ///< global index of each row; empty: 0..B-1
    std::uint64_t epoch = 0;

    Batch(const Matrix<T>& rows) : x(rows) {}  // NOLINT: implicit on purpose
    Batch(const Matrix<T>& rows, std::span<const std::uint64_t> ids, std::uint64_t epoch_)
        : x(rows), sample_ids(ids), epoch(epoch_) {
        if (!ids.empty() && ids.size() != rows.shape()[0])
            throw ShapeError("Batch: " + std::to_string(ids.size()) + " sample ids for " +
                             std::to_string(rows.shape()[0]) + " rows");
    }

    /// The rows' sample ids; for a plain matrix 0..B-1, written into the caller's `buffer`
    /// (kept across steps: no allocation once it has the batch's size).
    std::span<const std::uint64_t> ids(std::vector<std::uint64_t>& buffer) const {
        if (!sample_ids.empty()) return sample_ids;
        if (buffer.size() != x.shape()[0]) {
            buffer.resize(x.shape()[0]);
            std::iota(buffer.begin(), buffer.end(), std::uint64_t{0});
        }
        return buffer;
    }
};

/// What every model offers a training loop: its parameters, a loss recorded on a tape, and a
/// reconstruction for evaluation. Models only compose framework ops; none has backprop code.
template <class T>
class Model {
public:
    virtual ~Model() = default;
    virtual std::vector<Parameter<T>*> parameters() = 0;
    /// Records the training loss of a batch (rows are examples), with any training-time noise.
    virtual Var<T> loss(Tape<T>& tape, const Batch<T>& batch) = 0;
    /// Records the reconstruction of x without training-time noise: by default the map below at
    /// x read as data.
    virtual Var<T> reconstruct(Tape<T>& tape, const Matrix<T>& x) { return reconstruction_map(tape, tape.constant(x, "x")); }
    /// The reconstruction as a map r(x) of a Var that may take gradients (tg::jacobian of it is
    /// ∂r/∂x, the field study's). A model whose reconstruction is differentiable in its input
    /// overrides this (then `reconstruct` need not be); the default says there is none.
    virtual Var<T> reconstruction_map(Tape<T>& /*tape*/, Var<T> /*x*/) {
        throw std::logic_error(describe() + ": has no differentiable reconstruction map (override Model::reconstruction_map)");
    }
    /// Records the code of x (the representation a linear probe judges), without noise: by
    /// default the code map below at x read as data.
    virtual Var<T> code(Tape<T>& tape, const Matrix<T>& x) { return code_map(tape, tape.constant(x, "x")); }
    /// The code as a map of a Var that may take gradients (a contractive penalty's Jacobian).
    /// A model without a code keeps this default, which says so.
    virtual Var<T> code_map(Tape<T>& /*tape*/, Var<T> /*x*/) {
        throw std::logic_error(describe() + ": has no code (override Model::code_map)");
    }
    /// Named parts of the training loss, for a model whose loss is a sum worth reporting part by
    /// part (a VAE's reconstruction and KL terms): the names here, and `loss_terms` records them
    /// for a batch (1 x 1 Vars, as many as names, summing to the loss). Default: no parts.
    virtual std::vector<std::string> loss_term_names() const { return {}; }
    virtual void loss_terms(Tape<T>& /*tape*/, const Batch<T>& /*batch*/, std::span<Var<T>> /*out*/) {}
    /// A generative model's code size (0: none) and its decoder from codes (rows of z) to data.
    virtual std::size_t latent_size() const { return 0; }
    virtual Var<T> generate(Tape<T>& /*tape*/, const Matrix<T>& /*z*/) {
        throw std::logic_error(describe() + ": is not generative (override Model::generate)");
    }
    /// The first layer's weights, one row per code unit (drawn as filters), if it has such.
    virtual const Matrix<T>* filters() const { return nullptr; }
    /// The size of one filter tile (rows, cols); {0, 0}: a filter is input-sized (a dense layer's).
    virtual Shape filter_size() const { return {0, 0}; }
    /// The input the model trains on for this batch, if it corrupts its input (false: it
    /// trains on the batch as it is). Used to show what a denoising model cleans up.
    virtual bool corrupt(const Batch<T>& /*batch*/, Matrix<T>& /*out*/) { return false; }
    virtual std::string describe() const = 0;
};

// Uniform in [-limit, limit], seeded: the same seed gives the same model.
template <class T>
Matrix<T> uniform_matrix(std::size_t rows, std::size_t cols, double limit, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(-limit, limit);
    Matrix<T> m = Matrix<T>::from_shape({rows, cols});
    for (T& v : m) v = T(u(rng));
    return m;
}

template <class T>
Matrix<T> zeros(std::size_t rows, std::size_t cols) {
    Matrix<T> m = Matrix<T>::from_shape({rows, cols});
    m.fill(T(0));
    return m;
}

// Glorot-style scale for a layer fan_in -> fan_out.
inline double init_limit(std::size_t fan_in, std::size_t fan_out) { return std::sqrt(6.0 / double(fan_in + fan_out)); }

}  // namespace tg::models
