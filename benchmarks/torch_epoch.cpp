// See torch_epoch.hpp. Written the way a LibTorch user writes these models: functional ops on
// plain tensors that require grad, torch::optim for the update, loss.backward(). Nothing here is
// tuned for the benchmark beyond what such code does anyway (no_grad for copies, no per-step
// allocation of parameters).
#include "torch_epoch.hpp"

#include <torch/torch.h>

#include <chrono>
#include <algorithm>
#include <stdexcept>

namespace bench::torch_side {

namespace F = torch::nn::functional;

namespace {

std::int64_t i64(std::size_t n) { return static_cast<std::int64_t>(n); }

torch::Tensor matrix(View v) {
    return torch::from_blob(const_cast<float*>(v.data), {i64(v.rows), i64(v.cols)}, torch::kFloat32).clone();
}
torch::Tensor vector(View v) { return matrix(v).reshape({-1}); }

}  // namespace

struct Model::State {
    // Each model is a loss of (input, clean target); `initial` and `parameters` are in the same order.
    std::vector<torch::Tensor> initial, parameters;
    bool dense = true;
    DenseSpec dense_spec;
    ConvSpec conv_spec;
    // The parameters by role (views of `parameters`' tensors, so the optimizer's updates show).
    torch::Tensor W, b1, b2, W2, bW, cW;
    std::vector<torch::Tensor> kernels, encoder_b, decoder_b, decoder_kernels;

    torch::Tensor add(torch::Tensor initial_value) {
        initial.push_back(initial_value);
        parameters.push_back(initial_value.clone().requires_grad_());
        return parameters.back();
    }

    torch::Tensor dense_loss(const torch::Tensor& input, const torch::Tensor& target) const {
        const torch::Tensor h = torch::sigmoid(F::linear(input, W, b1));
        const torch::Tensor r = W2.defined() ? F::linear(h, W2, b2) : torch::addmm(b2, h, W);
        torch::Tensor loss = torch::mse_loss(r, target);
        const double per_row = dense_spec.lambda / double(input.size(0));
        if (dense_spec.penalty == Penalty::l1) loss = loss + per_row * h.abs().sum();
        // The sigmoid encoder's Jacobian norm in closed form (WORKLOAD.md), as anyone would write it.
        if (dense_spec.penalty == Penalty::contractive)
            loss = loss + per_row * torch::dot((h * (1 - h)).pow(2).sum(0), W.pow(2).sum(1));
        return loss;
    }

    torch::Tensor conv_loss(const torch::Tensor& input, const torch::Tensor& target) const {
        const ConvSpec& c = conv_spec;
        const std::int64_t batch = input.size(0);
        const auto& image = c.maps.front();
        torch::Tensor h = input.view({batch, i64(image.height), i64(image.width), i64(image.channels)}).permute({0, 3, 1, 2});
        for (std::size_t l = 0; l < kernels.size(); ++l)
            h = torch::relu(F::conv2d(h, kernels[l], F::Conv2dFuncOptions().bias(encoder_b[l]).stride(i64(c.stride)).padding(i64(c.padding))));
        const auto& last = c.maps.back();
        h = torch::relu(F::linear(h.flatten(1), W, bW));
        h = torch::relu(W2.defined() ? F::linear(h, W2, cW) : torch::addmm(cW, h, W));
        h = h.view({batch, i64(last.channels), i64(last.height), i64(last.width)});
        for (std::size_t l = kernels.size(); l-- > 0;) {
            const torch::Tensor& kernel = decoder_kernels.empty() ? kernels[l] : decoder_kernels[l];
            h = F::conv_transpose2d(h, kernel, F::ConvTranspose2dFuncOptions()
                                                   .bias(decoder_b[l])
                                                   .stride(i64(c.stride))
                                                   .padding(i64(c.padding))
                                                   .output_padding(i64(c.output_padding[l])));
            if (l > 0) h = torch::relu(h);
        }
        return torch::mse_loss(h.permute({0, 2, 3, 1}).reshape({batch, -1}), target);
    }

    torch::Tensor loss(const torch::Tensor& input, const torch::Tensor& target) const {
        return dense ? dense_loss(input, target) : conv_loss(input, target);
    }
};

Model::Model(const DenseSpec& spec) : state(std::make_unique<State>()) {
    State& s = *state;
    s.dense_spec = spec;
    s.W = s.add(matrix(spec.W));
    s.b1 = s.add(vector(spec.b1));
    s.b2 = s.add(vector(spec.b2));
    if (!spec.W2.empty()) s.W2 = s.add(matrix(spec.W2));
}

Model::Model(const ConvSpec& spec) : state(std::make_unique<State>()) {
    State& s = *state;
    s.dense = false;
    s.conv_spec = spec;
    const std::int64_t k = i64(spec.kernel);
    // tapegrad's kernel: row (ky·kw + kx)·C + c, column o; LibTorch's conv2d weight: [o][c][ky][kx],
    // which conv_transpose2d reads as [in = o][out = c][ky][kx]: one tensor serves both, as tied needs.
    auto kernel = [&](View v, std::size_t in_channels) {
        return matrix(v).view({k, k, i64(in_channels), i64(v.cols)}).permute({3, 2, 0, 1}).contiguous();
    };
    for (std::size_t l = 0; l < spec.kernels.size(); ++l) s.kernels.push_back(s.add(kernel(spec.kernels[l], spec.maps[l].channels)));
    for (const View& v : spec.encoder_b) s.encoder_b.push_back(s.add(vector(v)));
    for (const View& v : spec.decoder_b) s.decoder_b.push_back(s.add(vector(v)));
    for (std::size_t l = 0; l < spec.decoder_kernels.size(); ++l)
        s.decoder_kernels.push_back(s.add(kernel(spec.decoder_kernels[l], spec.maps[l].channels)));
    // The last map flattened channels last (pixel-major) in tapegrad, channel-major by flatten(1)
    // here: the dense weights' map axis is permuted to match.
    const auto& last = spec.maps.back();
    const std::int64_t pixels = i64(last.height * last.width), channels = i64(last.channels);
    auto map_columns = [&](View v) {  // rows x (pixels·channels), pixel-major -> channel-major
        return matrix(v).view({i64(v.rows), pixels, channels}).permute({0, 2, 1}).reshape({i64(v.rows), -1});
    };
    s.W = s.add(map_columns(spec.W));
    s.bW = s.add(vector(spec.bW));
    s.cW = s.add(map_columns(spec.cW).reshape({-1}));
    if (!spec.W2.empty())
        s.W2 = s.add(matrix(spec.W2).view({pixels, channels, i64(spec.W2.cols)}).permute({1, 0, 2}).reshape({pixels * channels, -1}));
}

Model::~Model() = default;

void Model::reset() {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < state->parameters.size(); ++i) {
        state->parameters[i].copy_(state->initial[i]);
        state->parameters[i].mutable_grad() = torch::Tensor();
    }
}

std::vector<std::vector<float>> Model::parameter_values() const {
    std::vector<std::vector<float>> out;
    for (const torch::Tensor& p : state->parameters) {
        const torch::Tensor c = p.detach().contiguous();
        out.emplace_back(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
    }
    return out;
}

struct FixedBatchSgd::State {
    Model& model;
    torch::Tensor x, mask;
    torch::optim::SGD sgd;
    State(Model& m, torch::Tensor x_, torch::Tensor mask_, double lr)
        : model(m), x(std::move(x_)), mask(std::move(mask_)), sgd(m.state->parameters, torch::optim::SGDOptions(lr)) {}
};

FixedBatchSgd::FixedBatchSgd(Model& model, View x, View mask, double learning_rate)
    : state_(std::make_unique<State>(model, matrix(x), mask.empty() ? torch::Tensor() : matrix(mask), learning_rate)) {}

FixedBatchSgd::~FixedBatchSgd() = default;

double FixedBatchSgd::step() {
    State& s = *state_;
    s.sgd.zero_grad();
    const torch::Tensor input = s.mask.defined() ? s.x * s.mask : s.x;
    torch::Tensor loss = s.model.state->loss(input, s.x);
    loss.backward();
    s.sgd.step();
    return loss.item<double>();
}

EpochResult adam_epoch(Model& model, View data, const std::vector<std::int64_t>& order, std::size_t batch,
                       double learning_rate, double masking) {
    if (order.size() != data.rows) throw std::invalid_argument("adam_epoch: the order must visit every row once");
    model.reset();
    const torch::Tensor rows = torch::from_blob(const_cast<float*>(data.data), {i64(data.rows), i64(data.cols)}, torch::kFloat32);
    const torch::Tensor index = torch::from_blob(const_cast<std::int64_t*>(order.data()), {i64(order.size())}, torch::kInt64);
    torch::optim::Adam adam(model.state->parameters, torch::optim::AdamOptions(learning_rate).betas({0.9, 0.999}).eps(1e-8));
    const std::int64_t n = i64(data.rows), b = i64(batch);
    double loss_sum = 0;
    std::int64_t steps = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::int64_t begin = 0; begin < n; begin += b, ++steps) {
        const torch::Tensor x = rows.index_select(0, index.slice(0, begin, std::min(begin + b, n)));
        const torch::Tensor input = masking > 0 ? x * torch::empty_like(x).bernoulli_(1 - masking) : x;
        adam.zero_grad();
        torch::Tensor loss = model.state->loss(input, x);
        loss.backward();
        adam.step();
        loss_sum += loss.item<double>();
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return {seconds, loss_sum / double(steps)};
}

void single_thread() {
    torch::set_num_threads(1);
    try {
        at::set_num_interop_threads(1);
    } catch (const c10::Error&) {
        // Only possible before the inter-op pool starts; nothing here uses it anyway.
    }
}

}  // namespace bench::torch_side
