#pragma once
// The step-function autoencoder: one linear latent unit and a wide ReLU decoder,
//   z = x . w1 + b1,   y = W3 relu(w2 z + b2)   (optionally relu(y) as well),
// for inputs x of length n (a batch of row vectors: Z = X w1^T + b1, Y = relu(Z w2^T + b2) W3^T).
// The decoder has no output bias, as in the study this reproduces; the hidden layer has n units.
#include <tapegrad/models/model.hpp>

namespace tg::models {

struct StepAutoencoderConfig {
    std::size_t n = 128;       // input length = hidden width
    bool output_relu = false;  // relu on the reconstruction too
    // Keras' RandomUniform default (+-0.05), which the study's weights used; biases start at zero.
    double init_limit = 0.05;
    // Frozen encoder: every w1_j = frozen_w1 and b1 = 0, so the code of a step function is
    // exactly frozen_w1 * (sum of its entries), linear in the step position.
    bool frozen_encoder = false;
    double frozen_w1 = 0.01;
    std::uint64_t seed = 1;
};

template <class T>
class StepAutoencoder : public Model<T> {
public:
    explicit StepAutoencoder(const StepAutoencoderConfig& c)
        : config(c), rng(c.seed), w1("w1", uniform_matrix<T>(1, c.n, c.init_limit, rng)), b1("b1", zeros<T>(1, 1)),
          w2("w2", uniform_matrix<T>(c.n, 1, c.init_limit, rng)), b2("b2", zeros<T>(1, c.n)),
          W3("W3", uniform_matrix<T>(c.n, c.n, c.init_limit, rng)) {
        if (c.frozen_encoder) {
            w1.value.fill(T(c.frozen_w1));
            w1.frozen = b1.frozen = true;
        }
    }

    Var<T> encode(Tape<T>& t, Var<T> x) { return affine(x, t.parameter(w1), t.parameter(b1)); }
    Var<T> decode(Tape<T>& t, Var<T> z) {
        Var<T> y = matmul(relu(affine(z, t.parameter(w2), t.parameter(b2))), t.parameter(W3), Trans::N, Trans::T);
        return config.output_relu ? relu(y) : y;
    }

    // The encoder may see a transformed input (e.g. centred) while the target stays the raw x.
    Var<T> loss_with_input(Tape<T>& t, const Matrix<T>& input, const Matrix<T>& target) {
        return mse(decode(t, encode(t, t.constant(input, "x"))), target);
    }
    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override { return loss_with_input(t, batch.x, batch.x); }
    Var<T> reconstruction_map(Tape<T>& t, Var<T> x) override { return decode(t, encode(t, x)); }
    Var<T> code_map(Tape<T>& t, Var<T> x) override { return encode(t, x); }

    std::vector<Parameter<T>*> parameters() override { return {&w1, &b1, &w2, &b2, &W3}; }
    const Matrix<T>* filters() const override { return &w1.value; }
    std::string describe() const override {
        return "step autoencoder " + std::to_string(config.n) + "-1-" + std::to_string(config.n) + "-" +
               std::to_string(config.n) + (config.output_relu ? ", relu output" : ", linear output") +
               (config.frozen_encoder ? ", frozen linear encoder" : "");
    }

    StepAutoencoderConfig config;
    std::mt19937_64 rng;
    Parameter<T> w1, b1;      // encoder: 1 x n, 1 x 1
    Parameter<T> w2, b2, W3;  // decoder: n x 1, 1 x n, n x n
};

extern template class StepAutoencoder<float>;  // compiled once, in models/src/
extern template class StepAutoencoder<double>;

}  // namespace tg::models
