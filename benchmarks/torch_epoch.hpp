#pragma once
// LibTorch 1.13's side of bench_torch: the library's dense and conv autoencoders written with
// the C++ API the usual way (torch::nn::functional ops, torch::optim), started from a tapegrad
// model's initial values. Only this header is shared with the tapegrad side: the Torch headers
// stay in torch_epoch.cpp, so no translation unit mixes them with xtensor.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace bench::torch_side {

/// A row-major matrix of tapegrad's, by pointer; the models copy what they keep.
struct View {
    const float* data = nullptr;
    std::size_t rows = 0, cols = 0;
    bool empty() const { return data == nullptr; }
};

/// One thread: LibTorch's intra-op pool, and its inter-op pool if it has not started yet.
void single_thread();

enum class Penalty { none, l1, contractive };

/// models::Autoencoder's sigmoid encoder and linear decoder, MSE, with the workload's penalties.
struct DenseSpec {
    View W, b1, b2, W2;  ///< W2 empty: tied (the decoder reads W)
    Penalty penalty = Penalty::none;
    double lambda = 0;
};

/// models::ConvAutoencoder with relu, a dense code and a linear output. Images and maps are
/// channels last, as tapegrad stores them; the constructor permutes the kernels and the dense
/// weights into LibTorch's NCHW layout once, so that both sides compute the same function.
struct ConvSpec {
    struct Map { std::size_t height, width, channels; };
    std::vector<Map> maps;                 ///< maps[0]: the image; maps[l]: layer l's output
    std::size_t kernel = 3, stride = 2, padding = 1;
    std::vector<std::size_t> output_padding;  ///< per layer, for its transposed convolution
    std::vector<View> kernels, encoder_b, decoder_b, decoder_kernels;  ///< decoder_kernels empty: tied
    View W, bW, cW, W2;                    ///< the dense code; W2 empty: tied
};

/// LibTorch's copy of a tapegrad model's initial parameters.
class Model {
public:
    explicit Model(const DenseSpec& spec);
    explicit Model(const ConvSpec& spec);
    ~Model();
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    /// The parameters back to their initial values (each timed epoch starts from them).
    void reset();
    /// The parameters flattened, in the order of the spec's fields (dense: W, b1, b2, W2).
    std::vector<std::vector<float>> parameter_values() const;

    struct State;
    std::unique_ptr<State> state;
};

/// Steps of plain SGD on one batch (the standard workload; bench_conv's step). `mask`: the
/// workload's fixed denoising mask, applied to the input at every step (empty: none).
class FixedBatchSgd {
public:
    FixedBatchSgd(Model& model, View x, View mask, double learning_rate);
    ~FixedBatchSgd();
    /// One training step; returns the loss it minimised.
    double step();

private:
    struct State;
    std::unique_ptr<State> state_;
};

struct EpochResult {
    double seconds = 0, mean_loss = 0;
};

/// One epoch of Adam (lr, betas 0.9 and 0.999, eps 1e-8) from the model's initial values over
/// the rows of `data` in `order`, `batch` at a time; with `masking` > 0 every input value is
/// zeroed with that probability (a fresh Bernoulli mask per batch). `seconds`: the wall time of
/// the loop over the batches, gathering each batch's rows included.
EpochResult adam_epoch(Model& model, View data, const std::vector<std::int64_t>& order, std::size_t batch,
                       double learning_rate, double masking);

}  // namespace bench::torch_side
