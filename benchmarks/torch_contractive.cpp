// See torch_contractive.hpp. The penalty is computed as the issue and LibTorch's documentation
// describe the usual way: for each output unit j, dh_j/dx by torch::autograd::grad with
// create_graph (so the penalty is differentiable), squared and summed; then one backward.
#include "torch_contractive.hpp"

#include <torch/torch.h>

#include <vector>

namespace bench {

struct TorchContractive::State {
    torch::Tensor w, b1, b2, x;
    double lambda;
    torch::optim::Adam adam;
    State(torch::Tensor w_, torch::Tensor x_, double lambda_, double lr)
        : w(std::move(w_)),
          b1(torch::zeros({1, w.size(0)}).requires_grad_()),
          b2(torch::zeros({1, w.size(1)}).requires_grad_()),
          x(std::move(x_)),
          lambda(lambda_),
          adam(std::vector<torch::Tensor>{w, b1, b2}, torch::optim::AdamOptions(lr)) {}
};

TorchContractive::TorchContractive(std::size_t input, std::size_t code, std::size_t batch, const float* w, const float* x,
                                   double lambda, double learning_rate) {
    auto copy = [](const float* p, std::size_t rows, std::size_t cols) {
        return torch::from_blob(const_cast<float*>(p), {std::int64_t(rows), std::int64_t(cols)}, torch::kFloat32).clone();
    };
    state_ = std::make_unique<State>(copy(w, code, input).requires_grad_(), copy(x, batch, input), lambda, learning_rate);
}

TorchContractive::~TorchContractive() = default;

double TorchContractive::step() {
    State& s = *state_;
    s.adam.zero_grad();
    torch::Tensor x = s.x.detach().requires_grad_();
    torch::Tensor h = torch::sigmoid(torch::addmm(s.b1, x, s.w.t()));
    torch::Tensor reconstruction = torch::mse_loss(torch::addmm(s.b2, h, s.w), s.x);
    torch::Tensor penalty = torch::zeros({});
    for (std::int64_t j = 0; j < h.size(1); ++j) {
        torch::Tensor row = torch::autograd::grad({h.select(1, j).sum()}, {x}, {}, /*retain_graph=*/true, /*create_graph=*/true)[0];
        penalty = penalty + row.pow(2).sum();
    }
    torch::Tensor loss = reconstruction + (s.lambda / double(x.size(0))) * penalty;
    loss.backward();
    s.adam.step();
    return loss.item<double>();
}

void torch_threads(int threads) { torch::set_num_threads(threads); }

}  // namespace bench
