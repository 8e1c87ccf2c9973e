// One training step of the tied convolutional autoencoder (the `conv` model kind: relu, a
// dense code, linear output, MSE, plain SGD) on the tape, against the same step written by hand
// (baseline/conv_handcoded.hpp: the same im2col lowering and the same GEMMs, fused loops).
// float, one BLAS thread, one batch of Fashion-MNIST-sized random images. After the usual
// output, a table gives each configuration's median step time and framework/hand-coded.
//   ./build/benchmarks/bench_conv --benchmark_repetitions=5
#include <tapegrad/baseline/conv_handcoded.hpp>
#include <tapegrad/blas.hpp>
#include <tapegrad/models/conv_ae.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <string>

namespace {

using tg::handcoded::ConvConfig;

struct Named {
    const char* name;
    ConvConfig config;
};
// The zoo's architecture (28x28 -> 14x14x16 -> 7x7x32 -> 64), a narrower one, and batch 256.
const Named configs[] = {
    {"28x28_16-32_code64_batch64", {.batch = 64, .channels = {16, 32}, .code = 64}},
    {"28x28_8-16_code64_batch64", {.batch = 64, .channels = {8, 16}, .code = 64}},
    {"28x28_16-32_code64_batch256", {.batch = 256, .channels = {16, 32}, .code = 64}},
};

tg::Matrix<float> batch_of(const ConvConfig& c) {
    std::mt19937_64 rng(1);
    std::uniform_real_distribution<float> u(0, 1);
    tg::Matrix<float> x = tg::Matrix<float>::from_shape({c.batch, c.height * c.width * c.image_channels});
    for (float& v : x) v = u(rng);
    return x;
}

void handcoded_step(benchmark::State& state, ConvConfig c) {
    tg::handcoded::ConvAutoencoder<float> model(c, 1);
    const tg::Matrix<float> x = batch_of(c);
    for (auto _ : state) {
        benchmark::DoNotOptimize(model.loss_and_gradients(x));
        model.sgd_update(0.01f);
    }
}

void framework_step(benchmark::State& state, ConvConfig c) {
    tg::models::ConvAutoencoder<float> model(tg::models::ConvAutoencoderConfig{
        .image = {c.height, c.width, c.image_channels}, .channels = c.channels,
        .window = {c.kernel, c.kernel, c.stride, c.padding}, .code = c.code});
    tg::SGD<float> sgd(model.parameters(), 0.01);
    tg::Tape<float> tape;
    const tg::Matrix<float> x = batch_of(c);
    for (auto _ : state) {
        tape.clear();
        sgd.zero_grad();
        tg::Var<float> loss = model.loss(tape, x);
        tape.backward(loss);
        benchmark::DoNotOptimize(loss.value()(0, 0));
        sgd.step();
    }
}

// The usual output, then per configuration the median real time of each implementation over
// the repetitions (one iteration run's time when there are none) and their ratio.
class RatioReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs)
            if (!r.error_occurred && r.run_type == Run::RT_Iteration)
                times_[r.run_name.function_name].push_back(r.GetAdjustedRealTime());
    }
    void Finalize() override {
        ConsoleReporter::Finalize();
        auto median = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
        };
        std::printf("\n%-32s %14s %14s %18s\n", "median step (us)", "hand-coded", "framework", "framework/hand");
        for (const Named& n : configs) {
            const auto h = times_.find(std::string("conv_step/handcoded/") + n.name);
            const auto f = times_.find(std::string("conv_step/framework/") + n.name);
            if (h == times_.end() || f == times_.end()) continue;
            const double hm = median(h->second), fm = median(f->second);
            std::printf("%-32s %14.1f %14.1f %18.3f\n", n.name, hm, fm, fm / hm);
        }
        std::printf("(goal: framework/hand-coded <= 1.15 at a Fashion-MNIST-sized configuration)\n");
        std::fflush(stdout);
    }

private:
    std::map<std::string, std::vector<double>> times_;
};

}  // namespace

int main(int argc, char** argv) {
    tg::blas::set_num_threads(1);
    // Alternate the two implementations per configuration so that slow drifts of the machine
    // touch both alike.
    for (const Named& n : configs) {
        benchmark::RegisterBenchmark((std::string("conv_step/handcoded/") + n.name).c_str(), handcoded_step, n.config)
            ->Unit(benchmark::kMicrosecond)->UseRealTime();
        benchmark::RegisterBenchmark((std::string("conv_step/framework/") + n.name).c_str(), framework_step, n.config)
            ->Unit(benchmark::kMicrosecond)->UseRealTime();
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
}
