#pragma once
// An autoencoder defined only by a scalar energy E(x; θ): no decoder is written anywhere. Its
// reconstruction is the gradient step r(x) = x − ∂E/∂x, taken on the tape with
// grad(create_graph), and it trains by denoising score matching: ‖r(x̃) − x‖² with x̃ = x + σε,
// the Gaussian noise keyed by (seed, epoch, sample, element) like every other training noise.
// (Vincent 2011 scales E by 1/σ² and steps by σ²; the two cancel, so E here is his σ²·E.)
//
//   E(x) = ½‖x‖² − c·x − Σ_l Σ_j φ(z_l)_j,   z_1 = x W_1^T + b_1,   z_{l+1} = h_l W_{l+1}^T + b_{l+1}
//   softplus:  φ = softplus, h_l = sigmoid(z_l) = φ'(z_l)
//     one layer:  r(x) = c + W^T sigmoid(W x + b), the tied sigmoid autoencoder with a linear
//                 decoder: W^T appears because it is the derivative of W x (tested to 1e-12);
//     two layers: r(x) = c + W_1^T [h_1 + σ'(z_1) ⊙ W_2^T sigmoid(z_2)], a deep tied decoder
//                 nobody wrote (with W_2 = 0 it is the one-layer model).
//   quadratic: φ(z) = ½z², h_l = z_l: r(x) = c + W^T (W x + b), the linear tied autoencoder.
// The loss's parameter gradients are second derivatives of E: the tape differentiates the
// recorded first one.
#include <tapegrad/models/denoising.hpp>

#include <array>
#include <deque>
#include <sstream>

namespace tg::models {

enum class EnergyKind { softplus, quadratic };

struct EnergyConfig {
    std::vector<std::size_t> sizes{784, 64};  ///< input, then each layer's units (the last is the code)
    EnergyKind kind = EnergyKind::softplus;
    double sigma = 0.3;                       ///< denoising score matching's noise
    std::uint64_t noise_seed = 7;
    std::uint64_t seed = 1;                   ///< initialisation
};

template <class T>
class EnergyAutoencoder : public Model<T> {
public:
    explicit EnergyAutoencoder(const EnergyConfig& c)
        : config(c), noise("energy", Corruption{Corruption::Kind::gaussian, c.sigma, c.noise_seed}), rng(c.seed),
          visible_bias("c", zeros<T>(1, c.sizes.front())) {
        if (c.sizes.size() < 2) throw std::invalid_argument("energy autoencoder: needs the input size and at least one layer");
        // The same draws, in the same order, as Autoencoder's W for one layer.
        for (std::size_t l = 0; l + 1 < c.sizes.size(); ++l) {
            const std::size_t in = c.sizes[l], out = c.sizes[l + 1];
            weights.emplace_back("W" + std::to_string(l + 1), uniform_matrix<T>(out, in, init_limit(in, out), rng));
            biases.emplace_back("b" + std::to_string(l + 1), zeros<T>(1, out));
        }
    }

    struct Layers { Var<T> pre_activation, h; };
    // One layer up: z = h W^T + b, and what the next layer reads (φ'(z)).
    Layers layer(Tape<T>& t, std::size_t l, Var<T> below) {
        Var<T> z = affine(below, t.parameter(weights[l]), t.parameter(biases[l]));
        return {z, config.kind == EnergyKind::softplus ? sigmoid(z) : z};
    }

    /// E of each row of x (B x 1).
    Var<T> energy(Tape<T>& t, Var<T> x) {
        Var<T> e = 0.5 * sum_of_squares(x, 1) - matmul(x, t.parameter(visible_bias), Trans::N, Trans::T);
        Var<T> below = x;
        for (std::size_t l = 0; l < weights.size(); ++l) {
            const Layers up = layer(t, l, below);
            e = e - (config.kind == EnergyKind::softplus ? sum(softplus(up.pre_activation), 1)
                                                         : 0.5 * sum_of_squares(up.pre_activation, 1));
            below = up.h;
        }
        return e;
    }

    /// r(x) = x − ∂E/∂x, recorded so that it can be differentiated again.
    Var<T> field(Tape<T>& t, Var<T> x) {
        const std::array<Var<T>, 1> wrt{x};
        grad_into<T>(sum(energy(t, x)), nullptr, std::span<const Var<T>>(wrt), std::span<Var<T>>(energy_gradient),
                  {.create_graph = true});
        return x - energy_gradient[0];
    }

    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override {
        corrupt(batch, corrupted);
        return mse(field(t, t.variable(corrupted, "x~")), batch.x);
    }
    Var<T> reconstruct(Tape<T>& t, const Matrix<T>& x) override { return field(t, t.variable(x, "x")); }
    Var<T> reconstruction_map(Tape<T>& t, Var<T> x) override {
        return field(t, x.requires_grad() ? x : t.variable(x.value(), "x"));  // data: marked to take ∂E/∂x
    }
    Var<T> code_map(Tape<T>& t, Var<T> h) override {
        for (std::size_t l = 0; l < weights.size(); ++l) h = layer(t, l, h).h;
        return h;
    }
    bool corrupt(const Batch<T>& batch, Matrix<T>& out) override {
        noise.apply(batch, out);
        return true;
    }

    std::vector<Parameter<T>*> parameters() override {
        std::vector<Parameter<T>*> p;
        for (std::size_t l = 0; l < weights.size(); ++l) p.insert(p.end(), {&weights[l], &biases[l]});
        p.push_back(&visible_bias);
        return p;
    }
    const Matrix<T>* filters() const override { return &weights.front().value; }
    std::string describe() const override {
        std::string s = std::string(config.kind == EnergyKind::softplus ? "softplus" : "quadratic") + " energy autoencoder";
        for (std::size_t k : config.sizes) s += " " + std::to_string(k);
        std::ostringstream sigma;
        sigma << config.sigma;
        return s + ", score matching at sigma " + sigma.str();
    }

    EnergyConfig config;
    TrainingNoise<T> noise;
    std::mt19937_64 rng;
    // deque: parameters must not move once a tape may point at them
    Parameter<T> visible_bias;  // c
    std::deque<Parameter<T>> weights, biases;

private:
    Matrix<T> corrupted;
    std::array<Var<T>, 1> energy_gradient;
};

extern template class EnergyAutoencoder<float>;  // compiled once, in models/src/
extern template class EnergyAutoencoder<double>;

}  // namespace tg::models
