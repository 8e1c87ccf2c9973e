#pragma once
// LibTorch 1.13's contractive autoencoder step, written the standard way (one
// torch::autograd::grad(create_graph) per output unit, then backward), for bench_jacobian's
// comparison column. Only this header is shared with the tapegrad side: the Torch headers stay in
// torch_contractive.cpp, so no translation unit mixes them with xtensor.
#include <cstddef>
#include <memory>

namespace bench {

/// The same model and step as tapegrad's ContractiveAutoencoder<float> with a tied sigmoid
/// encoder, a linear decoder, MSE and Adam: h = sigmoid(x W^T + b1), x^ = h W + b2,
/// loss = mean (x^ - x)^2 + lambda / B · sum_b ||dh_b/dx_b||_F^2.
class TorchContractive {
public:
    /// W (code x input, row-major) and x (batch x input) are copied; biases start at zero.
    TorchContractive(std::size_t input, std::size_t code, std::size_t batch, const float* w, const float* x, double lambda,
                     double learning_rate);
    ~TorchContractive();
    /// One training step; returns the loss it minimised.
    double step();

private:
    struct State;
    std::unique_ptr<State> state_;
};

/// torch::set_num_threads (intra-op threads).
void torch_threads(int threads);

}  // namespace bench
