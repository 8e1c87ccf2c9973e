// tapegrad beside LibTorch 1.13's C++ API (torch_epoch.cpp) on the project's own workloads, one
// thread on both sides, float32. Each LibTorch model starts from the tapegrad model's initial
// values and sees the same batches, so both sides do the same arithmetic:
//   standard   one step of the standard workload (benchmarks/WORKLOAD.md: its initial values,
//              plain SGD 0.01, the same batch every step), every variant at every size. Both
//              sides' first step is compared: loss and updated weights (stderr); a loss more
//              than 1e-4 apart (relative) stops the program with an error.
//   epoch      one Fashion-MNIST epoch (60,000 rows, batch 64) of `train`'s default model (tied
//              sigmoid 784-64, linear decoder, MSE, Adam 1e-3), plain and with masking noise
//              p = 0.3; tapegrad through the Trainer (EpochRecord::seconds, as bench_epoch),
//              LibTorch as the wall time of its loop over the same 938 batches in the Trainer's
//              order (permutation(60000, seed 1, epoch 1)), gathering included on both sides.
//              The masks differ: each side draws its own (LibTorch: bernoulli_).
//   conv       the `conv` kind (28x28 -> 14x14x16 -> 7x7x32 -> 64, relu, tied and untied): one
//              step of plain SGD 0.01 at batch 64 (bench_conv's step, on the epoch's first batch;
//              first losses compared like the standard rows), and one epoch as above.
// Steps are timed interleaved: each round runs each side for ~20 ms, the side going first
// alternating; the table gives medians over the rounds. Epochs alternate the same way, each
// from the initial values. The Markdown table goes to stdout, the checks to stderr ("check:").
//
//   ./build-bench/benchmarks/bench_torch [rounds = 7] [epoch rounds = 3] [--no-conv-epoch]
// An epoch rounds of 0 skips every epoch row.
#include "benchmarks/framework_impl.hpp"
#include "benchmarks/torch_epoch.hpp"

#include <tapegrad/random.hpp>
#include <tapegrad/threads.hpp>
#include <tapegrad/train/config.hpp>
#include <tapegrad/train/data.hpp>
#include <tapegrad/train/trainer.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

namespace ts = bench::torch_side;
namespace tt = tg::train;
namespace wl = tg::workload;
using Clock = std::chrono::steady_clock;

struct Options {
    int rounds = 7, epoch_rounds = 3;
    bool conv_epoch = true;
};

struct Row {
    std::string label;
    double tapegrad, torch;  // seconds
};
std::vector<Row> table;
bool failed = false;

ts::View view(const tg::Matrix<float>& m) {
    if (m.size() == 0) return {};
    return {m.data(), m.shape()[0], m.shape()[1]};
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

double seconds_of(const std::function<void()>& f, int reps) {
    const auto start = Clock::now();
    for (int i = 0; i < reps; ++i) f();
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Medians of the seconds per call of each of two functions, timed interleaved (the header).
std::pair<double, double> interleaved(const std::function<void()>& a, const std::function<void()>& b, int rounds) {
    const std::function<void()>* f[2] = {&a, &b};
    int reps[2];
    for (int i = 0; i < 2; ++i) reps[i] = std::max(1, int(0.02 / std::max(seconds_of(*f[i], 1), 1e-7)));
    std::vector<double> times[2];
    for (int r = 0; r < rounds; ++r)
        for (int k = 0; k < 2; ++k) {
            const int i = (r + k) % 2;
            times[i].push_back(seconds_of(*f[i], reps[i]) / reps[i]);
        }
    return {median(times[0]), median(times[1])};
}

// The first step's losses of both sides: they start from the same values, so they must agree.
void check_loss(const std::string& what, double tapegrad, double torch, const std::string& more = "") {
    const double relative = std::abs(tapegrad - torch) / std::max(std::abs(tapegrad), 1e-30);
    std::fprintf(stderr, "check: %s: first loss %.8g (tapegrad) and %.8g (LibTorch), relative difference %.2e%s%s\n",
                 what.c_str(), tapegrad, torch, relative, more.c_str(), relative > 1e-4 ? "  **MORE THAN 1e-4**" : "");
    if (!(relative <= 1e-4)) failed = true;
}

ts::Penalty penalty_of(wl::Variant v) {
    if (v == wl::Variant::sparse) return ts::Penalty::l1;
    if (v == wl::Variant::contractive) return ts::Penalty::contractive;
    return ts::Penalty::none;
}

void standard_workload(const Options& o) {
    for (const wl::Size& size : wl::standard_sizes)
        for (wl::Variant v : wl::all_variants) {
            const auto init = wl::make_initial_values<float>(v, size);
            tg::bench::FrameworkAutoencoder<float> tape(v, size, init);
            ts::Model model(ts::DenseSpec{view(init.W), view(init.b1), view(init.b2), view(init.W2), penalty_of(v), wl::lambda});
            ts::FixedBatchSgd torch(model, view(init.X), view(init.M), wl::learning_rate);
            const double first_tapegrad = tape.step(), first_torch = torch.step();
            // The updated weights, in the spec's order (W, b1, b2, W2), element by element.
            auto& m = tape.model();
            std::vector<const tg::Matrix<float>*> ours{&m.W.value, &m.b1.value, &m.b2.value};
            if (m.W2) ours.push_back(&m.W2->value);
            const std::vector<std::vector<float>> theirs = model.parameter_values();
            double weights = theirs.size() == ours.size() ? 0 : INFINITY;
            for (std::size_t p = 0; p < ours.size() && p < theirs.size(); ++p) {
                if (theirs[p].size() != ours[p]->size()) weights = INFINITY;
                for (std::size_t i = 0; i < theirs[p].size() && i < ours[p]->size(); ++i)
                    weights = std::max(weights, double(std::abs(theirs[p][i] - ours[p]->data()[i])));
            }
            char label[64];
            std::snprintf(label, sizeof label, "%zux%zux%zu %s", size.D, size.K, size.B, wl::name(v));
            char more[96];
            std::snprintf(more, sizeof more, ", updated weights at most %.2e apart", weights);
            check_loss(std::string("standard ") + label, first_tapegrad, first_torch, more);
            for (int i = 0; i < 19; ++i) tape.step(), torch.step();  // the protocol's 20 warm-up steps
            const auto [a, b] = interleaved([&] { tape.step(); }, [&] { torch.step(); }, o.rounds);
            table.push_back({std::string("standard ") + label + ": step (SGD)", a, b});
        }
}

// The batch of `rows` rows of `x` in `order` starting at `begin`.
tg::Matrix<float> gather(const tg::Matrix<float>& x, const std::vector<std::size_t>& order, std::size_t begin, std::size_t rows) {
    const std::size_t d = x.shape()[1];
    tg::Matrix<float> batch = tg::Matrix<float>::from_shape({rows, d});
    for (std::size_t i = 0; i < rows; ++i) std::copy_n(x.data() + order[begin + i] * d, d, batch.data() + i * d);
    return batch;
}

// LibTorch's copy of a tapegrad model's current (initial) parameters.
std::unique_ptr<ts::Model> torch_copy(tg::models::Model<float>& model) {
    if (auto* ae = dynamic_cast<tg::models::Autoencoder<float>*>(&model))
        return std::make_unique<ts::Model>(ts::DenseSpec{view(ae->W.value), view(ae->b1.value), view(ae->b2.value),
                                                         ae->W2 ? view(ae->W2->value) : ts::View{}});
    auto& conv = dynamic_cast<tg::models::ConvAutoencoder<float>&>(model);
    const auto& c = conv.config;
    if (c.code == 0 || c.sigmoid_decoder || c.activation != tg::Activation::relu || c.corruption ||
        c.window.kernel_h != c.window.kernel_w)
        throw std::invalid_argument("bench_torch: LibTorch's conv model is the `conv` kind's defaults with a dense code");
    ts::ConvSpec spec;
    for (const tg::ImageShape& s : conv.maps) spec.maps.push_back({s.height, s.width, s.channels});
    spec.kernel = c.window.kernel_h;
    spec.stride = c.window.stride;
    spec.padding = c.window.padding;
    spec.output_padding = conv.output_padding;
    for (const auto& p : conv.kernels) spec.kernels.push_back(view(p.value));
    for (const auto& p : conv.encoder_b) spec.encoder_b.push_back(view(p.value));
    for (const auto& p : conv.decoder_b) spec.decoder_b.push_back(view(p.value));
    for (const auto& p : conv.decoder_kernels) spec.decoder_kernels.push_back(view(p.value));
    spec.W = view(conv.W->value);
    spec.bW = view(conv.bW->value);
    spec.cW = view(conv.cW->value);
    if (conv.W2) spec.W2 = view(conv.W2->value);
    return std::make_unique<ts::Model>(spec);
}

// One epoch of `train --model kind` with the options, both sides, `rounds` times (the header).
void epochs(const tt::Data& data, const std::string& label, const std::string& kind, const nlohmann::json& options, int rounds) {
    const tt::RunConfig c = tt::resolve_config(kind, options, "adam", nlohmann::json::object(), nlohmann::json::object());
    const double masking = kind == "denoising" ? c.model_options.real("corruption_amount") : 0;
    if (kind == "denoising" && c.model_options.text("corruption") != "masking")
        throw std::invalid_argument("bench_torch: LibTorch's epoch has masking noise only");
    tt::TrainerOptions o;
    o.epochs = 1;
    o.batch = 64;
    o.progress = tt::ProgressMode::none;
    o.verbose = false;
    o.eval_train_rows = 1000;  // evaluation is after the timed loop; less of it shortens the run
    const std::size_t n = data.train.shape()[0];
    const std::vector<std::size_t> visit = tg::random::permutation(n, o.seed, 1);
    const std::vector<std::int64_t> order(visit.begin(), visit.end());
    // Every tapegrad model of the kind starts from the same values (seed 1): LibTorch copies them once.
    const std::unique_ptr<ts::Model> torch = torch_copy(*tt::make_model<float>(c.model_kind(), c.model_options, data.train.shape()[1], 1));
    std::vector<double> ours, theirs;
    double loss_ours = 0, loss_theirs = 0;
    for (int r = 0; r < rounds; ++r)
        for (int k = 0; k < 2; ++k)
            if ((r + k) % 2 == 0) {
                auto model = tt::make_model<float>(c.model_kind(), c.model_options, data.train.shape()[1], 1);
                auto adam = tt::make_optimizer<float>(c.optimizer_kind(), c.optimizer_options, model->parameters());
                tt::Trainer<float> trainer(*model, *adam, data.train, data.test, o);
                const tt::EpochRecord e = trainer.fit().history.back();
                ours.push_back(e.seconds);
                loss_ours += e.train_loss / rounds;
            } else {
                const ts::EpochResult e = ts::adam_epoch(*torch, view(data.train), order, o.batch, c.optimizer_options.real("lr"), masking);
                theirs.push_back(e.seconds);
                loss_theirs += e.mean_loss / rounds;
            }
    std::fprintf(stderr, "check: %s: mean training loss %.6g (tapegrad) and %.6g (LibTorch)%s\n", label.c_str(), loss_ours,
                 loss_theirs, masking > 0 ? ", each side with its own masks" : "");
    table.push_back({label, median(ours), median(theirs)});
}

void conv_step(const tt::Data& data, bool tied, int rounds) {
    tg::models::ConvAutoencoder<float> model(tg::models::ConvAutoencoderConfig{.code = 64, .tied = tied});
    std::unique_ptr<ts::Model> copy = torch_copy(model);
    const std::vector<std::size_t> order = tg::random::permutation(data.train.shape()[0], 1, 1);
    const tg::Matrix<float> x = gather(data.train, order, 0, 64);
    tg::SGD<float> sgd(model.parameters(), 0.01);
    tg::Tape<float> tape;
    auto ours = [&] {
        tape.clear();
        sgd.zero_grad();
        const tg::Var<float> loss = model.loss(tape, x);
        tape.backward(loss);
        sgd.step();
        return double(loss.value()(0, 0));
    };
    ts::FixedBatchSgd torch(*copy, view(x), {}, 0.01);
    const std::string label = std::string("conv ") + (tied ? "tied" : "untied") + " 16-32, code 64";
    check_loss(label, ours(), torch.step());
    const auto [a, b] = interleaved([&] { ours(); }, [&] { torch.step(); }, rounds);
    table.push_back({label + ": step, batch 64 (SGD)", a, b});
}

std::string ms(double seconds) {
    const double v = 1e3 * seconds;
    char s[32];
    std::snprintf(s, sizeof s, v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : v >= 1 ? "%.2f" : "%.4f", v);
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    int positional = 0;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--no-conv-epoch") == 0) {
            o.conv_epoch = false;
        } else if (argv[i][0] != '-' && positional < 2) {
            (positional++ == 0 ? o.rounds : o.epoch_rounds) = std::atoi(argv[i]);
        } else {
            std::fprintf(stderr, "usage: %s [rounds = 7] [epoch rounds = 3; 0: no epochs] [--no-conv-epoch]\n", argv[0]);
            return 2;
        }
    }
    if (o.rounds < 1 || o.epoch_rounds < 0) {
        std::fprintf(stderr, "bench_torch: rounds must be at least 1, epoch rounds at least 0\n");
        return 2;
    }
    tg::set_num_threads(1);
    ts::single_thread();
    try {
        standard_workload(o);
        const tt::Data data = tt::load_data({});
        if (o.epoch_rounds > 0) {
            const nlohmann::json code = {{"code", 64}};
            epochs(data, "tied sigmoid 784-64: Fashion-MNIST epoch (Adam)", "autoencoder", code, o.epoch_rounds);
            epochs(data, "the same, masking p = 0.3: Fashion-MNIST epoch (Adam)", "denoising",
                   {{"code", 64}, {"corruption", "masking"}, {"corruption_amount", 0.3}}, o.epoch_rounds);
        }
        conv_step(data, true, o.rounds);
        conv_step(data, false, o.rounds);
        if (o.epoch_rounds > 0 && o.conv_epoch) {
            epochs(data, "conv tied 16-32, code 64: Fashion-MNIST epoch (Adam)", "conv", {{"code", 64}}, o.epoch_rounds);
            epochs(data, "conv untied 16-32, code 64: Fashion-MNIST epoch (Adam)", "conv", {{"code", 64}, {"tied", false}},
                   o.epoch_rounds);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_torch: %s\n", e.what());
        return 1;
    }
    std::printf("| workload | tapegrad ms | LibTorch ms | LibTorch / tapegrad | tapegrad faster |\n|---|---|---|---|---|\n");
    for (const Row& r : table)
        std::printf("| %s | %s | %s | %.2f | %s |\n", r.label.c_str(), ms(r.tapegrad).c_str(), ms(r.torch).c_str(),
                    r.torch / r.tapegrad, r.torch > r.tapegrad ? "yes" : "**no**");
    if (failed) std::fprintf(stderr, "bench_torch: a first loss differs between the two sides by more than 1e-4 (above)\n");
    return failed ? 1 : 0;
}
