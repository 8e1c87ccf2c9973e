#pragma once
// The variational autoencoder (Kingma & Welling 2014): a Gaussian code q(z|x) = N(μ(x), σ²(x)),
// a prior N(0, I), and a decoder p(x|z), trained to maximise the evidence lower bound
//   ELBO(x) = E_q[log p(x|z)] − KL(q(z|x) ‖ N(0, I)),
// one sample z = μ + σ ⊙ ε per example (the reparameterisation trick: the noise ε enters as
// data, so the gradient flows through μ and σ). ε is counter-based, keyed by (seed, epoch,
// sample, unit) like every other training noise: a resumed run draws exactly what an
// uninterrupted one draws. The loss is −ELBO per example, in nats, averaged over the batch:
//   reconstruction = −log p(x|z):  Bernoulli: Σ_i BCE(logit_i, x_i);  Gaussian (unit variance,
//                    constant dropped): ½ Σ_i (x_i − mean_i)²
//   kl             = ½ Σ_k (μ_k² + σ_k² − 1 − log σ_k²)
//   encoder: h = f(x W1^T + b1), μ = h Wμ^T + bμ, log σ² = h Wσ^T + bσ;  decoder: f(z V1^T + c1) V2^T + c2
#include <tapegrad/models/model.hpp>
#include <tapegrad/random.hpp>

#include <array>

namespace tg::models {

enum class Likelihood { bernoulli, gaussian };

struct VaeConfig {
    std::size_t input = 784, hidden = 256, code = 16;
    Activation activation = Activation::relu;
    Likelihood likelihood = Likelihood::bernoulli;
    std::uint64_t noise_seed = 7;  ///< the reparameterisation's ε
    std::uint64_t seed = 1;        ///< initialisation
};

template <class T>
class VariationalAutoencoder : public Model<T> {
public:
    explicit VariationalAutoencoder(const VaeConfig& c)
        : config(c), rng(c.seed), W1("W1", uniform_matrix<T>(c.hidden, c.input, init_limit(c.input, c.hidden), rng)),
          b1("b1", zeros<T>(1, c.hidden)), Wmu("Wmu", uniform_matrix<T>(c.code, c.hidden, init_limit(c.hidden, c.code), rng)),
          bmu("bmu", zeros<T>(1, c.code)), Wlv("Wlv", uniform_matrix<T>(c.code, c.hidden, init_limit(c.hidden, c.code), rng)),
          blv("blv", zeros<T>(1, c.code)), V1("V1", uniform_matrix<T>(c.hidden, c.code, init_limit(c.code, c.hidden), rng)),
          c1("c1", zeros<T>(1, c.hidden)), V2("V2", uniform_matrix<T>(c.input, c.hidden, init_limit(c.hidden, c.input), rng)),
          c2("c2", zeros<T>(1, c.input)) {
        if (c.input == 0 || c.hidden == 0 || c.code == 0)
            throw std::invalid_argument("vae: input, hidden and code sizes must be positive");
    }

    struct Posterior { Var<T> mean, log_variance; };
    Posterior encode(Tape<T>& t, Var<T> x) {
        Var<T> h = activate(config.activation, affine(x, t.parameter(W1), t.parameter(b1)));
        return {affine(h, t.parameter(Wmu), t.parameter(bmu)), affine(h, t.parameter(Wlv), t.parameter(blv))};
    }
    // Bernoulli: the logits of p(x|z); Gaussian: its mean.
    Var<T> decoder_output(Tape<T>& t, Var<T> z) {
        Var<T> h = activate(config.activation, affine(z, t.parameter(V1), t.parameter(c1)));
        return affine(h, t.parameter(V2), t.parameter(c2));
    }
    // The decoded image: p(x|z)'s mean, in pixel units.
    Var<T> decode(Tape<T>& t, Var<T> z) {
        Var<T> out = decoder_output(t, z);
        return config.likelihood == Likelihood::bernoulli ? sigmoid(out) : out;
    }

    /// The two terms of −ELBO (reconstruction, kl), each per example averaged over the batch.
    std::array<Var<T>, 2> elbo_terms(Tape<T>& t, const Batch<T>& batch) {
        const Matrix<T>& x = batch.x;
        const Posterior q = encode(t, t.constant(x, "x"));
        random::standard_normal_rows(batch.ids(default_ids), config.noise_seed, batch.epoch, config.code, epsilon);
        const Var<T> z = q.mean + exp(0.5 * q.log_variance) * t.constant(epsilon, "epsilon");
        const Var<T> out = decoder_output(t, z);
        const double d = double(config.input), per_example = 1.0 / double(x.shape()[0]);
        const Var<T> reconstruction = config.likelihood == Likelihood::bernoulli ? d * binary_cross_entropy_with_logits(out, x)
                                                                                 : (0.5 * d) * mse(out, x);
        const Var<T> kl = add_scalar((0.5 * per_example) * (sum(square(q.mean)) + sum(exp(q.log_variance)) - sum(q.log_variance)),
                                     -0.5 * double(config.code));
        return {reconstruction, kl};
    }

    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override {
        const std::array<Var<T>, 2> terms = elbo_terms(t, batch);
        return terms[0] + terms[1];
    }
    std::vector<std::string> loss_term_names() const override { return {"reconstruction", "kl"}; }
    void loss_terms(Tape<T>& t, const Batch<T>& batch, std::span<Var<T>> out) override {
        const std::array<Var<T>, 2> terms = elbo_terms(t, batch);
        std::copy(terms.begin(), terms.end(), out.begin());
    }

    // Evaluation and the probe use the posterior mean: no noise.
    Var<T> reconstruction_map(Tape<T>& t, Var<T> x) override { return decode(t, encode(t, x).mean); }
    Var<T> code_map(Tape<T>& t, Var<T> x) override { return encode(t, x).mean; }
    std::size_t latent_size() const override { return config.code; }
    Var<T> generate(Tape<T>& t, const Matrix<T>& z) override { return decode(t, t.constant(z, "z")); }

    std::vector<Parameter<T>*> parameters() override { return {&W1, &b1, &Wmu, &bmu, &Wlv, &blv, &V1, &c1, &V2, &c2}; }
    const Matrix<T>* filters() const override { return &W1.value; }
    std::string describe() const override {
        return "variational autoencoder " + std::to_string(config.input) + "-" + std::to_string(config.hidden) + "-" +
               std::to_string(config.code) + ", " + name(config.activation) + ", " +
               (config.likelihood == Likelihood::bernoulli ? "Bernoulli" : "Gaussian") + " decoder";
    }

    VaeConfig config;
    std::mt19937_64 rng;
    Parameter<T> W1, b1, Wmu, bmu, Wlv, blv, V1, c1, V2, c2;

private:
    Matrix<T> epsilon;
    std::vector<std::uint64_t> default_ids;
};

extern template class VariationalAutoencoder<float>;  // compiled once, in models/src/
extern template class VariationalAutoencoder<double>;

}  // namespace tg::models
