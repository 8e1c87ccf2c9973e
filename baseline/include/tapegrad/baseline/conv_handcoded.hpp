#pragma once
// Hand-coded backpropagation of the tied convolutional autoencoder (the `conv` model kind with
// its defaults: relu everywhere, a linear output, squared error), the floor the framework's
// conv step is measured against (benchmarks/bench_conv.cpp):
//   a_l = relu(im2col(a_{l-1}) K_l + b_l)                       l = 1..L, strided convolutions
//   h = relu(a_L W^T + bW),  g_L = relu(h W + cW)               the dense code, tied
//   g_{l-1} = relu(col2im(g_l K_l^T) + c_l),  r = g_0 (no relu)  transposed convolutions, tied
//   loss = mean((r - x)^2)
// Images are rows, channels last, as in the framework (tapegrad/ops/conv.hpp). The window
// gathering (im2col/col2im) is this file's own code, written separately from the framework's,
// so that the agreement test compares two implementations. Every buffer is allocated in the
// constructor; a step is raw CBLAS gemms and fused loops with no heap allocation.
#include <xtensor/xtensor.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace tg::handcoded {

struct ConvConfig {
    std::size_t height = 28, width = 28, image_channels = 1, batch = 64;
    std::vector<std::size_t> channels{16, 32};  // each layer's output channels
    std::size_t kernel = 3, stride = 2, padding = 1;
    std::size_t code = 64;  // > 0: the dense code layer is part of this baseline
};

template <class T>
class ConvAutoencoder {
public:
    using Matrix = xt::xtensor<T, 2>;

    /// Allocates everything and draws the parameters (uniform Glorot, seeded; biases zero).
    /// Throws std::invalid_argument for a geometry the decoder cannot undo.
    ConvAutoencoder(const ConvConfig& config, std::uint64_t seed);

    /// Forward and backward at the current parameters for the batch x (batch x H·W·C):
    /// overwrites every gradient and returns the loss.
    T loss_and_gradients(const Matrix& x);
    /// p -= learning_rate * dp for every parameter.
    void sgd_update(T learning_rate);

    /// Parameters in the order kernels K_1..K_L, encoder biases b_1..b_L, decoder biases
    /// c_1..c_L, then W, bW, cW (the conv model's order); gradients in the same order.
    std::vector<Matrix*> parameters();
    std::vector<Matrix*> gradients();
    std::vector<std::string> parameter_names() const;

private:
    struct Layer {  // one strided convolution and its transposed twin
        std::size_t in_h, in_w, in_c, out_h, out_w, out_c, output_padding;
        Matrix K, b, c, dK, db, dc;
        Matrix cols;   // encoder: im2col of the input, (B·out_h·out_w) x (k·k·in_c)
        Matrix a;      // encoder: relu output, B x out_h·out_w·out_c
        Matrix g;      // decoder: this layer's transposed-convolution output (relu'd unless l = 0)
        Matrix work;   // (B·out_h·out_w) x (k·k·in_c) scratch for both directions
    };
    std::vector<Matrix*> collect(std::initializer_list<Matrix Layer::*> per_layer, std::initializer_list<Matrix*> dense);
    void gather(const T* image, const Layer& l, T* cols) const;     // im2col
    void scatter_add(const T* cols, const Layer& l, T* image) const;  // col2im, adding

    ConvConfig config_;
    std::vector<Layer> layers_;
    Matrix W_, bW_, cW_, dW_, dbW_, dcW_;
    Matrix h_, gL_, dh_, dgL_;  // code (B x code) and the dense decoder's output (B x flat)
    Matrix grad_a_;             // B x the largest map: dL/da of the layer being unwound
    Matrix grad_g_;             // the same for the decoder side
};

extern template class ConvAutoencoder<float>;
extern template class ConvAutoencoder<double>;

}  // namespace tg::handcoded
