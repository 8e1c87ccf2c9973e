#pragma once
// The one-hidden-layer autoencoder every other kind builds on:
//   h = f(x W^T + b1),   r = g(h W + b2) tied (W' = W^T),   r = g(h W2^T + b2) untied.
// Tied means the same Parameter W is read by the encoder and the decoder; the tape adds the
// two gradient contributions by itself.
#include <tapegrad/models/model.hpp>

#include <optional>

namespace tg::models {

enum class Reconstruction { mse, binary_cross_entropy };

struct AutoencoderConfig {
    std::size_t input = 784, code = 64;
    Activation encoder = Activation::sigmoid;
    bool sigmoid_decoder = false;  // otherwise linear
    bool tied = true;
    Reconstruction loss = Reconstruction::mse;  // cross-entropy needs a sigmoid decoder
    double weight_decay = 0;  // adds weight_decay * ||W||_F^2 (and ||W2||_F^2)
    std::uint64_t seed = 1;
};

template <class T>
class Autoencoder : public Model<T> {
public:
    explicit Autoencoder(const AutoencoderConfig& c) : config(c), rng(c.seed),
          W("W", uniform_matrix<T>(c.code, c.input, init_limit(c.input, c.code), rng)),
          b1("b1", zeros<T>(1, c.code)), b2("b2", zeros<T>(1, c.input)) {
        if (c.loss == Reconstruction::binary_cross_entropy && !c.sigmoid_decoder)
            throw std::invalid_argument("autoencoder: binary cross-entropy needs a sigmoid decoder");
        if (!c.tied) W2.emplace("W2", uniform_matrix<T>(c.input, c.code, init_limit(c.code, c.input), rng));
    }

    struct Code { Var<T> pre_activation, h; };
    Code encode(Tape<T>& t, Var<T> x) {
        Var<T> z = affine(x, t.parameter(W), t.parameter(b1));
        return {z, activate(config.encoder, z)};
    }
    // The decoder's pre-activation (logits when the decoder is a sigmoid).
    Var<T> decoder_logits(Tape<T>& t, Var<T> h) {
        return W2 ? affine(h, t.parameter(*W2), t.parameter(b2)) : affine(h, t.parameter(W), t.parameter(b2), Trans::N);
    }
    Var<T> decode(Tape<T>& t, Var<T> h) {
        Var<T> a = decoder_logits(t, h);
        return config.sigmoid_decoder ? sigmoid(a) : a;
    }

    // Reconstruction loss of `input` against `target`, plus weight decay; the code is returned
    // too so that penalties on it can be added.
    Var<T> reconstruction_loss(Tape<T>& t, const Matrix<T>& input, const Matrix<T>& target, Code* code_out = nullptr) {
        Code code = encode(t, t.constant(input, "x"));
        if (code_out) *code_out = code;
        Var<T> loss = config.loss == Reconstruction::binary_cross_entropy
                          ? binary_cross_entropy_with_logits(decoder_logits(t, code.h), target)
                          : mse(decode(t, code.h), target);
        if (config.weight_decay > 0) {
            loss = loss + config.weight_decay * sum(square(t.parameter(W)));
            if (W2) loss = loss + config.weight_decay * sum(square(t.parameter(*W2)));
        }
        return loss;
    }

    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override { return reconstruction_loss(t, batch.x, batch.x); }
    Var<T> reconstruction_map(Tape<T>& t, Var<T> x) override { return decode(t, encode(t, x).h); }
    Var<T> code_map(Tape<T>& t, Var<T> x) override { return encode(t, x).h; }

    std::vector<Parameter<T>*> parameters() override {
        std::vector<Parameter<T>*> p{&W, &b1, &b2};
        if (W2) p.push_back(&*W2);
        return p;
    }
    const Matrix<T>* filters() const override { return &W.value; }
    std::string describe() const override {
        return std::string(config.tied ? "tied" : "untied") + " autoencoder " + std::to_string(config.input) + "-" +
               std::to_string(config.code) + ", encoder " + name(config.encoder) + ", decoder " +
               (config.sigmoid_decoder ? "sigmoid" : "linear");
    }

    AutoencoderConfig config;
    std::mt19937_64 rng;
    Parameter<T> W, b1, b2;
    std::optional<Parameter<T>> W2;  // the untied decoder's weight, input x code
};

extern template class Autoencoder<float>;  // compiled once, in models/src/
extern template class Autoencoder<double>;

}  // namespace tg::models
