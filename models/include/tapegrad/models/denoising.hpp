#pragma once
// Denoising autoencoder: the encoder sees a corrupted input, the loss compares the
// reconstruction with the clean one. Corruption is data preparation, not a graph op: no
// gradient flows through it. The noise is counter-based (tapegrad/random.hpp): element j of
// sample s in epoch e always gets the same draw, wherever s sits in a batch, so the model has
// no generator state and a resumed run sees exactly the noise an uninterrupted one sees.
#include <tapegrad/models/autoencoder.hpp>
#include <tapegrad/random.hpp>


namespace tg::models {

struct Corruption {
    enum class Kind { masking, gaussian, fixed_mask } kind = Kind::masking;
    double amount = 0.25;  ///< masking: probability of zeroing an input; gaussian: noise sigma
    std::uint64_t seed = 7;
};

/// Checks a masking probability or a noise sigma; throws std::invalid_argument naming `model`.
inline void check_corruption(const char* model, const Corruption& c) {
    if (c.kind == Corruption::Kind::masking && !(c.amount >= 0 && c.amount <= 1))
        throw std::invalid_argument(std::string(model) + ": the masking probability must lie in [0, 1], got " +
                                    std::to_string(c.amount));
    if (c.kind == Corruption::Kind::gaussian && !(c.amount >= 0))
        throw std::invalid_argument(std::string(model) + ": the Gaussian noise sigma must not be negative, got " +
                                    std::to_string(c.amount));
}

/// out = the batch under counter-based masking or Gaussian noise (not fixed_mask), keyed by
/// (seed, epoch, sample id, element). `default_ids` is the caller's buffer for the ids
/// 0..B-1 of a plain matrix.
template <class T>
void corrupt_batch(const Corruption& c, const Batch<T>& batch, Matrix<T>& out, std::vector<std::uint64_t>& default_ids) {
    const std::span<const std::uint64_t> ids = batch.ids(default_ids);
    if (c.kind == Corruption::Kind::masking)
        random::mask_rows(batch.x, ids, c.seed, batch.epoch, c.amount, out);
    else
        random::add_gaussian_rows(batch.x, ids, c.seed, batch.epoch, c.amount, out);
}

template <class T>
class DenoisingAutoencoder : public Autoencoder<T> {
public:
    DenoisingAutoencoder(const AutoencoderConfig& c, Corruption corruption_) : Autoencoder<T>(c), corruption(corruption_) {
        check_corruption("denoising", corruption);
    }

    /// For Kind::fixed_mask: the one mask applied at every step (the benchmark workload's M).
    void set_fixed_mask(Matrix<T> mask) { fixed_mask = std::move(mask); }

    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override {
        corrupt(batch, corrupted);
        return this->reconstruction_loss(t, corrupted, batch.x);
    }

    bool corrupt(const Batch<T>& batch, Matrix<T>& out) override {
        if (corruption.kind == Corruption::Kind::fixed_mask) {
            const Matrix<T>& x = batch.x;
            if (shape_of(fixed_mask) != shape_of(x))
                throw ShapeError("denoising: fixed mask has shape " + to_string(shape_of(fixed_mask)) +
                                 " but the batch has shape " + to_string(shape_of(x)));
            ensure_shape(out, shape_of(x));
            // Hoisted pointers: through the members the compiler must assume aliasing and
            // would not vectorize.
            const T *in = x.data(), *mask = fixed_mask.data();
            T* o = out.data();
            for (std::size_t i = 0, n = x.size(); i < n; ++i) o[i] = in[i] * mask[i];
            return true;
        }
        corrupt_batch(corruption, batch, out, default_ids);
        return true;
    }

    std::string describe() const override { return "denoising " + Autoencoder<T>::describe(); }

    Corruption corruption;
    Matrix<T> fixed_mask;

private:
    Matrix<T> corrupted;
    std::vector<std::uint64_t> default_ids;
};

extern template class DenoisingAutoencoder<float>;  // compiled once, in models/src/
extern template class DenoisingAutoencoder<double>;

}  // namespace tg::models
