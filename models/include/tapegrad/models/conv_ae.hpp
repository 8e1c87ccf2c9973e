#pragma once
// A convolutional autoencoder (Masci et al. 2011): strided convolutions down to a feature map,
// an optional dense code, and back up through transposed convolutions:
//   h_l = f(conv2d(h_{l-1}, K_l) + b_l),   code = f(h_L W^T + b)          (when code > 0)
//   decoder: f(code W + c), then g_{l-1} = f(conv_transpose2d(g_l, K_l) + c_l), linear (or sigmoid) out
// Tied: the decoder reads the encoder's own K_l and W, so each is read twice and receives both
// gradients (the tape adds them); untied: the decoder has kernels V_l and W2 of its own.
// Down- and up-sampling are the strides: the decoder is then the exact adjoint of the encoder's
// linear part, and decoding needs nothing but the code (max-pooling's unpooling would need the
// encoder's argmax positions, which a code alone does not carry).
#include <tapegrad/models/denoising.hpp>

#include <deque>

namespace tg::models {

struct ConvAutoencoderConfig {
    ImageShape image{28, 28, 1};
    std::vector<std::size_t> channels{16, 32};  ///< output channels of each strided convolution
    ConvWindow window{3, 3, 2, 1};              ///< the same window at every layer
    std::size_t code = 64;                      ///< dense code size; 0: the last feature map is the code
    Activation activation = Activation::relu;
    bool sigmoid_decoder = false;
    bool tied = true;
    std::optional<Corruption> corruption = std::nullopt;  ///< train to undo this noise (the denoising model's)
    std::uint64_t seed = 1;
};

template <class T>
class ConvAutoencoder : public Model<T> {
public:
    explicit ConvAutoencoder(ConvAutoencoderConfig c) : config(std::move(c)), rng(config.seed) {
        if (config.channels.empty()) throw std::invalid_argument("conv autoencoder: needs at least one convolution");
        if (config.corruption) noise.emplace("conv autoencoder", *config.corruption);
        maps.push_back(config.image);
        const std::size_t taps = config.window.kernel_h * config.window.kernel_w;
        for (std::size_t l = 0; l < config.channels.size(); ++l) {
            const ImageShape in = maps.back();
            const ImageShape out = conv2d_output_shape("conv autoencoder", in, config.window, config.channels[l]);
            // The transposed convolution must give back `in` exactly: its output padding is
            // the rows the stride left over, which must be the same along both dimensions.
            const ConvWindow& w = config.window;
            const std::size_t extra_h = (in.height + 2 * w.padding - w.kernel_h) % w.stride;
            const std::size_t extra_w = (in.width + 2 * w.padding - w.kernel_w) % w.stride;
            if (extra_h != extra_w)
                throw std::invalid_argument("conv autoencoder: layer " + std::to_string(l + 1) + " maps " + to_string(in) +
                                            " to " + to_string(out) + " leaving " + std::to_string(extra_h) + " row(s) but " +
                                            std::to_string(extra_w) + " column(s) over; the decoder could not restore both");
            output_padding.push_back(extra_h);
            maps.push_back(out);
            const std::string tag = std::to_string(l + 1);
            const double limit = init_limit(taps * in.channels, taps * out.channels);
            kernels.emplace_back("K" + tag, uniform_matrix<T>(taps * in.channels, out.channels, limit, rng));
            encoder_b.emplace_back("b" + tag, zeros<T>(1, out.channels));
            decoder_b.emplace_back("c" + tag, zeros<T>(1, in.channels));
            if (!config.tied) decoder_kernels.emplace_back("V" + tag, uniform_matrix<T>(taps * in.channels, out.channels, limit, rng));
        }
        if (config.code > 0) {
            const std::size_t flat = maps.back().size();
            W.emplace("W", uniform_matrix<T>(config.code, flat, init_limit(flat, config.code), rng));
            bW.emplace("bW", zeros<T>(1, config.code));
            cW.emplace("cW", zeros<T>(1, flat));
            if (!config.tied) W2.emplace("W2", uniform_matrix<T>(flat, config.code, init_limit(config.code, flat), rng));
        }
    }

    Var<T> encode(Tape<T>& t, Var<T> h) {
        for (std::size_t l = 0; l < kernels.size(); ++l)
            h = activate(config.activation, conv2d(h, maps[l], t.parameter(kernels[l]), t.parameter(encoder_b[l]), config.window));
        if (config.code > 0) h = activate(config.activation, affine(h, t.parameter(*W), t.parameter(*bW)));
        return h;
    }
    Var<T> decode(Tape<T>& t, Var<T> h) {
        if (config.code > 0)
            h = activate(config.activation, config.tied ? affine(h, t.parameter(*W), t.parameter(*cW), Trans::N)
                                                        : affine(h, t.parameter(*W2), t.parameter(*cW)));
        for (std::size_t l = kernels.size(); l-- > 0;) {
            Parameter<T>& kernel = config.tied ? kernels[l] : decoder_kernels[l];
            h = conv_transpose2d(h, maps[l + 1], t.parameter(kernel), t.parameter(decoder_b[l]), config.window,
                                 output_padding[l]);
            if (l > 0) h = activate(config.activation, h);
        }
        return config.sigmoid_decoder ? sigmoid(h) : h;
    }

    Var<T> loss(Tape<T>& t, const Batch<T>& batch) override {
        const Matrix<T>& input = corrupt(batch, corrupted) ? corrupted : batch.x;
        return mse(decode(t, encode(t, t.constant(input, "x"))), batch.x);
    }
    Var<T> reconstruction_map(Tape<T>& t, Var<T> x) override { return decode(t, encode(t, x)); }
    Var<T> code_map(Tape<T>& t, Var<T> x) override { return encode(t, x); }
    bool corrupt(const Batch<T>& batch, Matrix<T>& out) override {
        if (!noise) return false;
        noise->apply(batch, out);
        return true;
    }

    std::vector<Parameter<T>*> parameters() override {
        std::vector<Parameter<T>*> p;
        for (auto* group : {&kernels, &encoder_b, &decoder_b, &decoder_kernels})
            for (auto& q : *group) p.push_back(&q);
        for (auto* q : {&W, &bW, &cW, &W2})
            if (*q) p.push_back(&**q);
        return p;
    }
    /// The first layer's kernels, one row per output channel: kh x (kw·C) tiles.
    const Matrix<T>* filters() const override {
        filter_rows = xt::transpose(kernels.front().value);
        return &filter_rows;
    }
    Shape filter_size() const override { return {config.window.kernel_h, config.window.kernel_w * config.image.channels}; }
    std::string describe() const override {
        std::string s = std::string(config.tied ? "tied" : "untied") + " conv autoencoder " + to_string(maps.front());
        for (std::size_t l = 1; l < maps.size(); ++l) s += " -> " + to_string(maps[l]);
        if (config.code > 0) s += " -> " + std::to_string(config.code);
        s += ", " + detail::describe(config.window) + ", " + name(config.activation) + ", decoder " +
             (config.sigmoid_decoder ? "sigmoid" : "linear");
        return config.corruption ? "denoising " + s : s;
    }

    ConvAutoencoderConfig config;
    std::mt19937_64 rng;
    std::vector<ImageShape> maps;             ///< maps[0]: the image; maps[l]: layer l's output
    std::vector<std::size_t> output_padding;  ///< per layer, for its transposed convolution
    // deque: parameters must not move once a tape may point at them
    std::deque<Parameter<T>> kernels, encoder_b, decoder_b, decoder_kernels;
    /// The dense code (code > 0): h W^T + bW; decoded by W (tied) or W2, plus cW.
    std::optional<Parameter<T>> W, bW, cW, W2;
    std::optional<TrainingNoise<T>> noise;  ///< config.corruption's

private:
    mutable Matrix<T> filter_rows;
    Matrix<T> corrupted;
};

extern template class ConvAutoencoder<float>;  // compiled once, in models/src/
extern template class ConvAutoencoder<double>;

}  // namespace tg::models
