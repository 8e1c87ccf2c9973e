#pragma once
// Contractive autoencoder: the reconstruction loss plus lambda times the squared Frobenius
// norm of the encoder's Jacobian, averaged over the batch. For h = f(x W^T + b1),
// dh_j/dx_i = f'(z_j) W_ji, so ||J||_F^2 = sum_j f'(z_j)^2 sum_i W_ji^2. Written with the
// activation-derivative ops, it holds for any elementwise encoder activation.
#include <tapegrad/models/autoencoder.hpp>

namespace tg::models {

template <class T>
class ContractiveAutoencoder : public Autoencoder<T> {
public:
    ContractiveAutoencoder(const AutoencoderConfig& c, double lambda_) : Autoencoder<T>(c), lambda(lambda_) {}

    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override {
        const Matrix<T>& x = batch.x;
        typename Autoencoder<T>::Code code;
        Var<T> loss = this->reconstruction_loss(t, x, x, &code);
        return loss + (lambda / double(x.shape()[0])) * jacobian_norm_sq(t, code.h);
    }

    // sum_b ||dh_b/dx_b||_F^2 = sum_b ||diag(f'(z_b)) W||_F^2, with f'(z) computed from the code
    // h = f(z) (one pass, where from z it takes f's pass again)
    Var<T> jacobian_norm_sq(Tape<T>& t, Var<T> h) {
        return layer_jacobian_norm_sq(activation_derivative_from_output(this->config.encoder, h), t.parameter(this->W));
    }

    std::string describe() const override { return "contractive " + Autoencoder<T>::describe(); }

    double lambda;
};

extern template class ContractiveAutoencoder<float>;  // compiled once, in models/src/
extern template class ContractiveAutoencoder<double>;

}  // namespace tg::models
