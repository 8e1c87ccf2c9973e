#pragma once
// Contractive autoencoders: the reconstruction loss plus lambda times the squared Frobenius
// norm of the encoder's Jacobian, averaged over the batch. Three ways to the same penalty:
//  * closed_form (the one-layer model's default, the fast path): for h = f(x W^T + b1),
//    dh_j/dx_i = f'(z_j) W_ji, so ||J||_F^2 = sum_j f'(z_j)^2 sum_i W_ji^2, written with the
//    activation-derivative ops;
//  * exact: the generic Jacobian of the encoder (jacobian.hpp: one stacked pass), squared and
//    summed; nobody derives anything, and it equals the closed form to rounding (tested);
//  * estimate: units · ||u^T J||^2 for one random unit direction u per sample (Hoffman et al.
//    2019), keyed by (seed, epoch, sample): one extra forward and reverse sweep.
// The generic two take any encoder: `Contractive` puts them on any model with a code map (the
// stacked and convolutional ones). The penalty's gradient is a second derivative: the tape
// differentiates the recorded one.
#include <tapegrad/jacobian.hpp>
#include <tapegrad/models/autoencoder.hpp>

#include <memory>

namespace tg::models {

enum class JacobianPenalty { closed_form, exact, estimate };

/// sum_b ||d code_b / d x_b||_F^2 of a row-wise `encoder` with `units` outputs per row, at the
/// batch: exact, or estimated with directions keyed by (seed, epoch, sample). `directions` and
/// `ids` are the caller's buffers (kept across steps: no allocation after the first).
template <class T, class F>
Var<T> generic_jacobian_norm_sq(Tape<T>& t, F&& encoder, const Batch<T>& batch, std::size_t units, JacobianPenalty how,
                                std::uint64_t seed, Matrix<T>& directions, std::vector<std::uint64_t>& ids) {
    if (how == JacobianPenalty::exact)
        // row sums of squares, then their sum: one pass over the (units·B) x D Jacobian each
        // way, where square then sum make three
        return sum(sum_of_squares(jacobian(encoder, t.constant(batch.x, "x"), units, {.create_graph = true}), 1));
    if (how == JacobianPenalty::estimate) {
        unit_sphere_rows(batch.ids(ids), seed, batch.epoch, units, directions);
        return jacobian_norm_sq_estimate(encoder, t.constant(batch.x, "x"), directions, {.create_graph = true});
    }
    throw std::logic_error("contractive: the closed-form penalty is the one-layer model's; any encoder takes exact or estimate");
}

inline const char* describe(JacobianPenalty how) {
    const char* text[] = {"", ", exact Jacobian penalty", ", random-projection Jacobian penalty"};
    return text[static_cast<int>(how)];
}

/// The one-hidden-layer contractive autoencoder, with the closed form too.
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
        if (penalty == JacobianPenalty::closed_form)
            // f'(z) from the code h = f(z): one pass, where from z it takes f's pass again
            return layer_jacobian_norm_sq(activation_derivative_from_output(this->config.encoder, h), t.parameter(this->W));
        auto encoder = [this, &t](Var<T> x) { return this->encode(t, x).h; };
        return generic_jacobian_norm_sq(t, encoder, batch, this->config.code, penalty, projection_seed, directions, default_ids);
    }

    std::string describe() const override { return "contractive " + Autoencoder<T>::describe() + models::describe(penalty); }

    double lambda;
    JacobianPenalty penalty;
    std::uint64_t projection_seed;

private:
    Matrix<T> directions;                     // the estimate's unit directions, one row per sample
    std::vector<std::uint64_t> default_ids;
};

/// Any model with a code map (Model::code_map), its loss plus lambda / B times the squared
/// Frobenius norm of the code's Jacobian, exact or estimated: a deep contractive code.
template <class T>
class Contractive : public Model<T> {
public:
    Contractive(std::unique_ptr<Model<T>> base_, std::size_t code_units, double lambda_, JacobianPenalty penalty_,
                std::uint64_t projection_seed_)
        : base(std::move(base_)), units(code_units), lambda(lambda_), penalty(penalty_), projection_seed(projection_seed_) {
        if (penalty == JacobianPenalty::closed_form)
            throw std::invalid_argument("contractive: the closed-form penalty needs the one-layer encoder; a " + base->describe() +
                                        " takes the exact penalty or the estimate");
    }

    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override {
        auto encoder = [this, &t](Var<T> x) { return base->code_map(t, x); };
        const Var<T> penalty_sum = generic_jacobian_norm_sq(t, encoder, batch, units, penalty, projection_seed, directions, default_ids);
        return base->loss(t, batch) + (lambda / double(batch.x.shape()[0])) * penalty_sum;
    }
    Var<T> reconstruct(Tape<T>& t, const Matrix<T>& x) override { return base->reconstruct(t, x); }
    Var<T> reconstruction_map(Tape<T>& t, Var<T> x) override { return base->reconstruction_map(t, x); }
    Var<T> code(Tape<T>& t, const Matrix<T>& x) override { return base->code(t, x); }
    Var<T> code_map(Tape<T>& t, Var<T> x) override { return base->code_map(t, x); }
    bool corrupt(const Batch<T>& batch, Matrix<T>& out) override { return base->corrupt(batch, out); }
    std::vector<Parameter<T>*> parameters() override { return base->parameters(); }
    const Matrix<T>* filters() const override { return base->filters(); }
    Shape filter_size() const override { return base->filter_size(); }
    std::string describe() const override { return "contractive " + base->describe() + models::describe(penalty); }

    std::unique_ptr<Model<T>> base;
    std::size_t units;
    double lambda;
    JacobianPenalty penalty;
    std::uint64_t projection_seed;

private:
    Matrix<T> directions;
    std::vector<std::uint64_t> default_ids;
};

extern template class ContractiveAutoencoder<float>;  // compiled once, in models/src/
extern template class ContractiveAutoencoder<double>;
extern template class Contractive<float>;
extern template class Contractive<double>;

}  // namespace tg::models
