#pragma once
// The linear autoencoder of Kunin et al. (2019) on centred data (no biases):
//   code = X W1^T  (W1: k x D),   R = code W2^T  (W2: D x k),
//   L = mean over the N x D entries of (R - X)^2 + lambda (||W1||_F^2 + ||W2||_F^2).
// Without the penalty any invertible G gives the same loss (W2 G, G^-1 W1): only the subspace
// is determined. The "sum" penalty leaves only orthogonal G, and at the optimum
//   W1 = W2^T,   W2 = U_k (I - lambda_sum S_k^-2)^(1/2) O,
// so the decoder's left singular vectors are the principal directions U_k.
// Normalisation: the closed form is for ||X - X W1^T W2^T||_F^2 + lambda_sum (...). Our data
// term is that divided by N D, so lambda_sum = lambda N D and the decoder's singular values are
//   sigma_i = sqrt(1 - lambda N D / s_i^2) = sqrt(1 - lambda D / mu_i),
// s_i the singular values of the centred data, mu_i = s_i^2 / N the variances (1/N convention).
#include <tapegrad/models/model.hpp>

namespace tg::models {

struct LinearAutoencoderConfig {
    std::size_t input = 784, code = 8;
    double lambda = 0;         // the per-entry-mean penalty weight above (0: unregularized)
    double init_limit = 0.01;  // uniform in [-init, init]: small, so no direction is favoured
    std::uint64_t seed = 1;
};

template <class T>
class LinearAutoencoder : public Model<T> {
public:
    explicit LinearAutoencoder(const LinearAutoencoderConfig& c)
        : config(c), rng(c.seed), W1("W1", uniform_matrix<T>(c.code, c.input, c.init_limit, rng)),
          W2("W2", uniform_matrix<T>(c.input, c.code, c.init_limit, rng)) {}

    Var<T> encode(Tape<T>& t, Var<T> x) { return matmul(x, t.parameter(W1), Trans::N, Trans::T); }
    Var<T> decode(Tape<T>& t, Var<T> code) { return matmul(code, t.parameter(W2), Trans::N, Trans::T); }

    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override {
        const Matrix<T>& x = batch.x;
        Var<T> l = mse(decode(t, encode(t, t.constant(x, "x"))), x);
        if (config.lambda == 0) return l;
        return l + config.lambda * (sum(square(t.parameter(W1))) + sum(square(t.parameter(W2))));
    }
    Var<T> reconstruction_map(Tape<T>& t, Var<T> x) override { return decode(t, encode(t, x)); }
    Var<T> code_map(Tape<T>& t, Var<T> x) override { return encode(t, x); }

    std::vector<Parameter<T>*> parameters() override { return {&W1, &W2}; }
    const Matrix<T>* filters() const override { return &W1.value; }
    std::string describe() const override {
        return "linear autoencoder " + std::to_string(config.input) + "-" + std::to_string(config.code) +
               (config.lambda > 0 ? ", sum L2 penalty " + std::to_string(config.lambda) : ", unregularized");
    }

    LinearAutoencoderConfig config;
    std::mt19937_64 rng;
    Parameter<T> W1, W2;
};

extern template class LinearAutoencoder<float>;  // compiled once, in models/src/
extern template class LinearAutoencoder<double>;

}  // namespace tg::models
