#pragma once
// Denoising autoencoder: the encoder sees a corrupted input, the loss compares the
// reconstruction with the clean one. Corruption is data preparation, not a graph op: no
// gradient flows through it.
#include "models/autoencoder.hpp"

namespace tg::models {

struct Corruption {
    enum class Kind { masking, gaussian, fixed_mask } kind = Kind::masking;
    double amount = 0.25;  // masking: probability of zeroing an input; gaussian: noise sigma
    std::uint64_t seed = 7;
};

template <class T>
class DenoisingAutoencoder : public Autoencoder<T> {
public:
    DenoisingAutoencoder(const AutoencoderConfig& c, Corruption corruption_)
        : Autoencoder<T>(c), corruption(corruption_), noise(corruption_.seed) {}

    // For Kind::fixed_mask: the one mask applied at every step (the benchmark workload's M).
    void set_fixed_mask(Matrix<T> mask) { fixed_mask = std::move(mask); }

    Var<T> loss(Tape<T>& t, const Matrix<T>& x) override {
        corrupt(x);
        return this->reconstruction_loss(t, corrupted, x);
    }

    std::string describe() const override { return "denoising " + Autoencoder<T>::describe(); }

    Corruption corruption;
    std::mt19937_64 noise;  // part of the training state: a resumed run restores it
    Matrix<T> fixed_mask;

private:
    void corrupt(const Matrix<T>& x) {
        ensure_shape(corrupted, shape_of(x));
        const T* in = x.data();
        T* out = corrupted.data();
        const std::size_t n = x.size();
        switch (corruption.kind) {
            case Corruption::Kind::masking: {
                std::bernoulli_distribution drop(corruption.amount);
                for (std::size_t i = 0; i < n; ++i) out[i] = drop(noise) ? T(0) : in[i];
                break;
            }
            case Corruption::Kind::gaussian: {
                std::normal_distribution<double> gauss(0.0, corruption.amount);
                for (std::size_t i = 0; i < n; ++i) out[i] = T(in[i] + gauss(noise));
                break;
            }
            case Corruption::Kind::fixed_mask:
                if (shape_of(fixed_mask) != shape_of(x))
                    throw ShapeError("denoising: fixed mask has shape " + to_string(shape_of(fixed_mask)) +
                                     " but the batch has shape " + to_string(shape_of(x)));
                // Hoisted pointer: read through the member inside the loop, the compiler must
                // assume `out` may alias it and cannot vectorize.
                {
                    const T* mask = fixed_mask.data();
                    for (std::size_t i = 0; i < n; ++i) out[i] = in[i] * mask[i];
                }
                break;
        }
    }

    Matrix<T> corrupted;
};

}  // namespace tg::models
