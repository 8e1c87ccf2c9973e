#pragma once
// A deep autoencoder with mirrored layers: sizes {D, K1, K2, ...} give the encoder
// D -> K1 -> K2 -> ... and the decoder back again. Tied: decoder layer l reads the encoder's
// W_l untransposed (W_l^T as a map), so each W_l is used twice and gets both gradients.
#include <tapegrad/models/autoencoder.hpp>

#include <deque>

namespace tg::models {

template <class T>
class StackedAutoencoder : public Model<T> {
public:
    StackedAutoencoder(std::vector<std::size_t> sizes_, Activation hidden_, bool tied_, bool sigmoid_decoder_,
                       std::uint64_t seed)
        : sizes(std::move(sizes_)), hidden(hidden_), tied(tied_), sigmoid_decoder(sigmoid_decoder_), rng(seed) {
        if (sizes.size() < 2) throw std::invalid_argument("stacked autoencoder: needs at least two layer sizes");
        for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
            const std::size_t in = sizes[l], out = sizes[l + 1], tag = l + 1;
            encoder_w.emplace_back("W" + std::to_string(tag), uniform_matrix<T>(out, in, init_limit(in, out), rng));
            encoder_b.emplace_back("b" + std::to_string(tag), zeros<T>(1, out));
            decoder_b.emplace_back("c" + std::to_string(tag), zeros<T>(1, in));
            if (!tied) decoder_w.emplace_back("V" + std::to_string(tag), uniform_matrix<T>(in, out, init_limit(out, in), rng));
        }
    }

    Var<T> encode(Tape<T>& t, Var<T> h) {
        for (std::size_t l = 0; l < encoder_w.size(); ++l)
            h = activate(hidden, affine(h, t.parameter(encoder_w[l]), t.parameter(encoder_b[l])));
        return h;
    }
    Var<T> decode(Tape<T>& t, Var<T> h) {
        for (std::size_t l = encoder_w.size(); l-- > 0;) {
            h = tied ? affine(h, t.parameter(encoder_w[l]), t.parameter(decoder_b[l]), Trans::N)
                     : affine(h, t.parameter(decoder_w[l]), t.parameter(decoder_b[l]));
            if (l > 0) h = activate(hidden, h);
        }
        return sigmoid_decoder ? sigmoid(h) : h;
    }

    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override { return mse(this->reconstruct(t, batch.x), batch.x); }
    Var<T> reconstruction_map(Tape<T>& t, Var<T> x) override { return decode(t, encode(t, x)); }
    Var<T> code_map(Tape<T>& t, Var<T> x) override { return encode(t, x); }

    std::vector<Parameter<T>*> parameters() override {
        std::vector<Parameter<T>*> p;
        for (auto* group : {&encoder_w, &encoder_b, &decoder_b, &decoder_w})
            for (auto& q : *group) p.push_back(&q);
        return p;
    }
    const Matrix<T>* filters() const override { return &encoder_w.front().value; }
    std::string describe() const override {
        std::string s = std::string(tied ? "tied" : "untied") + " stacked autoencoder";
        for (std::size_t k : sizes) s += " " + std::to_string(k);
        return s + ", hidden " + name(hidden);
    }

    std::vector<std::size_t> sizes;
    Activation hidden;
    bool tied, sigmoid_decoder;
    std::mt19937_64 rng;
    // deque: parameters must not move once a tape may point at them
    std::deque<Parameter<T>> encoder_w, encoder_b, decoder_b, decoder_w;
};

extern template class StackedAutoencoder<float>;  // compiled once, in models/src/
extern template class StackedAutoencoder<double>;

}  // namespace tg::models
