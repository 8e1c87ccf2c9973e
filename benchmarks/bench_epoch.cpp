// One Fashion-MNIST training epoch through the library's Trainer, per model kind: the cost of
// corruption noise and of convolutions at the scale users wait for. Reported time: the epoch's
// training steps as the Trainer measures them (batch gathering, noise, forward, backward,
// Adam); evaluation (train and test MSE) is reported apart as the eval_s counter. One BLAS
// thread.
//   ./build/benchmarks/bench_epoch --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <tapegrad/blas.hpp>
#include <tapegrad/train/config.hpp>
#include <tapegrad/train/data.hpp>
#include <tapegrad/train/trainer.hpp>

#include <benchmark/benchmark.h>

namespace {

namespace tt = tg::train;

const tt::Data& fashion() {
    static const tt::Data data = tt::load_data({});
    return data;
}

// kind and options as `train` would get them from the command line
void epoch(benchmark::State& state, const char* kind, nlohmann::json options) {
    tg::blas::set_num_threads(1);
    const tt::Data& data = fashion();
    const tt::RunConfig c = tt::resolve_config(kind, options, "adam", nlohmann::json::object(), nlohmann::json::object());
    double eval = 0;
    for (auto _ : state) {
        auto model = tt::make_model<float>(c.model_kind(), c.model_options, data.train.shape()[1], 1);
        auto adam = tt::make_optimizer<float>(c.optimizer_kind(), c.optimizer_options, model->parameters());
        tt::TrainerOptions o;
        o.epochs = 1;
        o.batch = 64;
        o.progress = tt::ProgressMode::none;
        o.verbose = false;
        tt::Trainer<float> trainer(*model, *adam, data.train, data.test, o);
        const tt::TrainResult r = trainer.fit();
        state.SetIterationTime(r.history.back().seconds);
        eval = r.history.back().eval_seconds;
    }
    state.counters["eval_s"] = eval;
}

const nlohmann::json code64 = {{"code", 64}};
BENCHMARK_CAPTURE(epoch, tied_sigmoid_784x64, "autoencoder", code64)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(epoch, denoising_masking30_784x64, "denoising", {{"code", 64}, {"corruption", "masking"}, {"corruption_amount", 0.3}})
    ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
BENCHMARK_CAPTURE(epoch, denoising_gaussian30_784x64, "denoising", {{"code", 64}, {"corruption", "gaussian"}, {"corruption_amount", 0.3}})
    ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);

// The zoo's convolutional rows: 28x28 -> 14x14x16 -> 7x7x32 -> 64, tied and untied.
BENCHMARK_CAPTURE(epoch, conv_tied_16-32_code64, "conv", code64)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK_CAPTURE(epoch, conv_untied_16-32_code64, "conv", {{"code", 64}, {"tied", false}})
    ->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
