#pragma once
// Sparse autoencoder: the reconstruction loss plus a penalty that keeps the code mostly off.
//   L1:  lambda * (1/B) * sum_bj |h_bj|          (a Laplace prior on the code)
//   KL:  beta * sum_j KL(rho || rho^_j),  rho^_j = mean_b h_bj   (the classic form; needs h in (0,1))
#include <tapegrad/models/autoencoder.hpp>

namespace tg::models {

enum class SparsityPenalty { l1, kl };

template <class T>
class SparseAutoencoder : public Autoencoder<T> {
public:
    SparseAutoencoder(const AutoencoderConfig& c, SparsityPenalty penalty_, double weight, double rho_ = 0.05)
        : Autoencoder<T>(c), penalty(penalty_), strength(weight), rho(rho_) {
        if (penalty == SparsityPenalty::kl && c.encoder != Activation::sigmoid)
            throw std::invalid_argument("sparse autoencoder: the KL penalty needs a sigmoid encoder (h in (0,1))");
    }

    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override {
        const Matrix<T>& x = batch.x;
        typename Autoencoder<T>::Code code;
        Var<T> loss = this->reconstruction_loss(t, x, x, &code);
        if (penalty == SparsityPenalty::l1) return loss + (strength / double(x.shape()[0])) * sum_abs(code.h);
        // KL(rho || q) = rho ln(rho / q) + (1 - rho) ln((1 - rho) / (1 - q)), summed over units
        Var<T> q = mean(code.h, 0);
        Var<T> kl = rho * std::log(rho) + (1 - rho) * std::log(1 - rho) - rho * log(q) - (1 - rho) * log(1.0 - q);
        return loss + strength * sum(kl);
    }

    std::string describe() const override {
        return "sparse (" + std::string(penalty == SparsityPenalty::l1 ? "L1" : "KL") + ") " + Autoencoder<T>::describe();
    }

    SparsityPenalty penalty;
    double strength, rho;
};

extern template class SparseAutoencoder<float>;  // compiled once, in models/src/
extern template class SparseAutoencoder<double>;

}  // namespace tg::models
