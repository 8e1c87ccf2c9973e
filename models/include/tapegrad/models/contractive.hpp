#pragma once
// Contractive autoencoder: the reconstruction loss plus lambda times the squared Frobenius
// norm of the encoder's Jacobian, averaged over the batch. Three ways to the same penalty:
//  * closed_form (the default, the fast path): for h = f(x W^T + b1), dh_j/dx_i = f'(z_j) W_ji,
//    so ||J||_F^2 = sum_j f'(z_j)^2 sum_i W_ji^2, written with the activation-derivative ops;
//  * exact: the generic Jacobian of the encoder (jacobian.hpp: one stacked pass), squared and
//    summed; nobody derives anything, and it equals the closed form to rounding (tested);
//  * estimate: units · ||u^T J||^2 for one random unit direction u per sample (Hoffman et al.
//    2019), keyed by (seed, epoch, sample): one extra forward and reverse sweep.
// The penalty's gradient is a second derivative: the tape differentiates the recorded one.
#include <tapegrad/jacobian.hpp>
#include <tapegrad/models/autoencoder.hpp>

namespace tg::models {

enum class JacobianPenalty { closed_form, exact, estimate };

template <class T>
class ContractiveAutoencoder : public Autoencoder<T> {
public:
    ContractiveAutoencoder(const AutoencoderConfig& c, double lambda_, JacobianPenalty penalty_ = JacobianPenalty::closed_form,
                           std::uint64_t projection_seed_ = 11)
        : Autoencoder<T>(c), lambda(lambda_), penalty(penalty_), projection_seed(projection_seed_) {}

    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override {
        const Matrix<T>& x = batch.x;
        typename Autoencoder<T>::Code code;
        Var<T> loss = this->reconstruction_loss(t, x, x, &code);
        return loss + (lambda / double(x.shape()[0])) * jacobian_norm_sq(t, batch, code.h);
    }

    // sum_b ||dh_b/dx_b||_F^2, by the configured penalty (`h` is the batch's code, for the closed form)
    Var<T> jacobian_norm_sq(Tape<T>& t, const Batch<T>& batch, Var<T> h) {
        auto encoder = [this, &t](Var<T> x) { return this->encode(t, x).h; };
        const std::size_t units = this->config.code;
        switch (penalty) {
            case JacobianPenalty::closed_form:
                // f'(z) from the code h = f(z): one pass, where from z it takes f's pass again
                return layer_jacobian_norm_sq(activation_derivative_from_output(this->config.encoder, h), t.parameter(this->W));
            case JacobianPenalty::exact:
                // row sums of squares, then their sum: one pass over the (units·B) x D
                // Jacobian each way, where square then sum make three
                return sum(sum_of_squares(jacobian(encoder, t.constant(batch.x, "x"), units, {.create_graph = true}), 1));
            case JacobianPenalty::estimate:
                unit_sphere_rows(batch.ids(default_ids), projection_seed, batch.epoch, units, directions);
                return jacobian_norm_sq_estimate(encoder, t.constant(batch.x, "x"), directions, {.create_graph = true});
        }
        throw std::logic_error("contractive: unknown penalty");
    }

    std::string describe() const override {
        const char* how[] = {"", ", exact Jacobian penalty", ", random-projection Jacobian penalty"};
        return "contractive " + Autoencoder<T>::describe() + how[static_cast<int>(penalty)];
    }

    double lambda;
    JacobianPenalty penalty;
    std::uint64_t projection_seed;

private:
    Matrix<T> directions;                     // the estimate's unit directions, one row per sample
    std::vector<std::uint64_t> default_ids;
};

extern template class ContractiveAutoencoder<float>;  // compiled once, in models/src/
extern template class ContractiveAutoencoder<double>;

}  // namespace tg::models
