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
    enum class Kind { masking, gaussian } kind = Kind::masking;
    double amount = 0.25;  ///< masking: probability of zeroing an input; gaussian: noise sigma
    std::uint64_t seed = 7;
};

/// Checks the kind and a masking probability or a noise sigma; throws std::invalid_argument
/// naming `model` (or the option it came from). The one check of a corruption's parameters.
inline void check_corruption(const std::string& model, const Corruption& c) {
    if (c.kind != Corruption::Kind::masking && c.kind != Corruption::Kind::gaussian)
        throw std::invalid_argument(model + ": unknown corruption kind " + std::to_string(int(c.kind)) +
                                    " (masking or gaussian)");
    if (c.kind == Corruption::Kind::masking && !(c.amount >= 0 && c.amount <= 1))
        throw std::invalid_argument(model + ": the masking probability must lie in [0, 1], got " +
                                    std::to_string(c.amount));
    if (c.kind == Corruption::Kind::gaussian && !(c.amount >= 0))
        throw std::invalid_argument(model + ": the Gaussian noise sigma must not be negative, got " +
                                    std::to_string(c.amount));
}

/// A model's training noise: the corruption (checked when made) and the buffer for the ids
/// 0..B-1 of a plain matrix. Shared by every model that trains on corrupted input.
template <class T>
class TrainingNoise {
public:
    TrainingNoise(const std::string& model, Corruption c) : corruption(c) { check_corruption(model, c); }

    /// out = the batch under counter-based masking or Gaussian noise, keyed by (seed, epoch,
    /// sample id, element).
    void apply(const Batch<T>& batch, Matrix<T>& out) {
        const std::span<const std::uint64_t> ids = batch.ids(default_ids_);
        switch (corruption.kind) {
            case Corruption::Kind::masking: random::mask_rows(batch.x, ids, corruption.seed, batch.epoch, corruption.amount, out); return;
            case Corruption::Kind::gaussian: random::add_gaussian_rows(batch.x, ids, corruption.seed, batch.epoch, corruption.amount, out); return;
        }
    }

    const Corruption corruption;

private:
    std::vector<std::uint64_t> default_ids_;
};

template <class T>
class DenoisingAutoencoder : public Autoencoder<T> {
public:
    DenoisingAutoencoder(const AutoencoderConfig& c, Corruption corruption) : Autoencoder<T>(c), noise("denoising", corruption) {}

    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override {
        corrupt(batch, corrupted);
        return this->reconstruction_loss(t, corrupted, batch.x);
    }

    bool corrupt(const Batch<T>& batch, Matrix<T>& out) override {
        noise.apply(batch, out);
        return true;
    }

    std::string describe() const override { return "denoising " + Autoencoder<T>::describe(); }

    TrainingNoise<T> noise;

private:
    Matrix<T> corrupted;
};

extern template class DenoisingAutoencoder<float>;  // compiled once, in models/src/
extern template class DenoisingAutoencoder<double>;

}  // namespace tg::models
