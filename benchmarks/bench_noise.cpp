// Google Benchmark for the training noise and shuffle (tapegrad/random.hpp) against what they
// replace (std::mt19937_64 with std::bernoulli_distribution / std::normal_distribution, the loop
// the denoising model ran before, and the trainer's old mt19937_64 Fisher-Yates), with one tied
// 784x64x64 float training step through the public API as the yardstick. The goal: corrupting a
// 64 x 784 float batch costs at most 5 % of that step. One BLAS thread, one thread throughout.
//
//   ./bench_noise --benchmark_min_time=0.5 --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// After the usual console output a table gives each row's median real time and its ratio to the
// step's median real time (both from Google Benchmark's own measurements).
#include <tapegrad/blas.hpp>
#include <tapegrad/random.hpp>
#include <tapegrad/tapegrad.hpp>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace {
using namespace tg;

constexpr std::size_t D = 784, K = 64, B = 64, N = 60000;
// p = 0.3 as the zoo's masking30: its threshold is not a multiple of 2^24, so ties take their draws.
constexpr double drop_p = 0.3, sigma = 0.3;
constexpr std::uint64_t seed = 7;

Matrix<float> uniform_matrix(std::size_t r, std::size_t c, float lo, float hi, unsigned s) {
    std::mt19937 rng(s);
    std::uniform_real_distribution<float> u(lo, hi);
    Matrix<float> m = make_matrix<float>(r, c);
    for (float& v : m) v = u(rng);
    return m;
}

// A batch as the trainer hands it over: rows are samples at scattered global indices.
std::vector<std::uint64_t> batch_ids() {
    const std::vector<std::size_t> order = random::permutation(N, 1, 0);
    return {order.begin(), order.begin() + B};
}

// ---- the yardstick: one tied autoencoder step, as examples/tied_autoencoder.cpp writes it ----
void tied_step(benchmark::State& state) {
    blas::set_num_threads(1);
    const Matrix<float> X = uniform_matrix(B, D, 0, 1, 1);
    const float scale = 1 / std::sqrt(float(D));
    Parameter<float> W("W", uniform_matrix(K, D, -scale, scale, 2)), b1("b1", uniform_matrix(1, K, -0.1f, 0.1f, 3)),
        b2("b2", uniform_matrix(1, D, -0.1f, 0.1f, 4));
    SGD<float> sgd({&W, &b1, &b2}, 0.01);
    Tape<float> tape;
    auto step = [&] {
        tape.clear();
        sgd.zero_grad();
        Var<float> h = sigmoid(affine(tape.constant(X), tape.parameter(W), tape.parameter(b1)));
        Var<float> r = affine(h, tape.parameter(W), tape.parameter(b2), Trans::N);
        Var<float> loss = mse(r, X);
        tape.backward(loss);
        sgd.step();
        return loss.value()(0, 0);
    };
    for (int i = 0; i < 20; ++i) step();
    for (auto _ : state) benchmark::DoNotOptimize(step());
}

// ---- the counter-based noise ----
// Corrupts the same batch again and again (a new epoch each time, so no draw is reused).
template <class Corrupt>
void corrupt_batch(benchmark::State& state, Corrupt corrupt) {
    const Matrix<float> x = uniform_matrix(B, D, 0, 1, 5);
    Matrix<float> out = make_matrix<float>(B, D);
    const std::vector<std::uint64_t> ids = batch_ids();
    std::uint64_t epoch = 0;
    for (auto _ : state) {
        corrupt(x, ids, epoch++ % 1000, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * B * D));
}

void masking_philox(benchmark::State& state) {
    corrupt_batch(state, [](const Matrix<float>& x, const std::vector<std::uint64_t>& ids, std::uint64_t e, Matrix<float>& out) {
        random::mask_rows(x, ids, seed, e, drop_p, out);
    });
}

void gaussian_philox(benchmark::State& state) {
    corrupt_batch(state, [](const Matrix<float>& x, const std::vector<std::uint64_t>& ids, std::uint64_t e, Matrix<float>& out) {
        random::add_gaussian_rows(x, ids, seed, e, sigma, out);
    });
}

void permutation_philox(benchmark::State& state) {
    std::vector<std::size_t> order;
    std::uint64_t epoch = 0;
    for (auto _ : state) {
        random::permutation(N, seed, epoch++ % 1000, order);
        benchmark::DoNotOptimize(order.data());
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * N));
}

// ---- before: the loops this replaces, copied from models/denoising.hpp (corrupt) and
// tools/train/trainer.cpp (shuffled_indices) as they were ----
void masking_mt19937(benchmark::State& state) {
    const Matrix<float> x = uniform_matrix(B, D, 0, 1, 5);
    Matrix<float> corrupted = make_matrix<float>(B, D);
    std::mt19937_64 noise(seed);
    for (auto _ : state) {
        const float* in = x.data();
        float* out = corrupted.data();
        const std::size_t n = x.size();
        std::bernoulli_distribution drop(drop_p);
        for (std::size_t i = 0; i < n; ++i) out[i] = drop(noise) ? float(0) : in[i];
        benchmark::DoNotOptimize(corrupted.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * B * D));
}

void gaussian_mt19937(benchmark::State& state) {
    const Matrix<float> x = uniform_matrix(B, D, 0, 1, 5);
    Matrix<float> corrupted = make_matrix<float>(B, D);
    std::mt19937_64 noise(seed);
    for (auto _ : state) {
        const float* in = x.data();
        float* out = corrupted.data();
        const std::size_t n = x.size();
        std::normal_distribution<double> gauss(0.0, sigma);
        for (std::size_t i = 0; i < n; ++i) out[i] = float(in[i] + gauss(noise));
        benchmark::DoNotOptimize(corrupted.data());
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * B * D));
}

std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;
    for (;;) {
        const std::uint64_t r = rng();
        if (r >= threshold) return r % n;
    }
}

std::vector<std::size_t> shuffled_indices(std::size_t n, std::mt19937_64& rng) {
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[uniform_below(rng, i)]);
    return order;
}

void permutation_mt19937(benchmark::State& state) {
    std::mt19937_64 rng(seed);
    for (auto _ : state) {
        std::vector<std::size_t> order = shuffled_indices(N, rng);
        benchmark::DoNotOptimize(order.data());
    }
    state.SetItemsProcessed(std::int64_t(state.iterations() * N));
}

// The usual console output, then every row's median real and CPU time (over the repetitions;
// with --benchmark_report_aggregates_only the medians Google Benchmark computed) and its ratio
// to the training step's.
class RatioReporter : public benchmark::ConsoleReporter {
public:
    // Colours only on a terminal (a custom reporter does not see --benchmark_color).
    RatioReporter() : ConsoleReporter(isatty(fileno(stdout)) ? OO_Defaults : OO_Tabular) {}

    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs) {
            if (r.error_occurred) continue;
            Times& t = times_[r.run_name.function_name];
            if (r.run_type == Run::RT_Iteration) {
                t.real.push_back(r.GetAdjustedRealTime());
                t.cpu.push_back(r.GetAdjustedCPUTime());
            } else if (r.aggregate_name == "median") {
                t.median_real = r.GetAdjustedRealTime();
                t.median_cpu = r.GetAdjustedCPUTime();
            }
        }
    }
    void Finalize() override {
        ConsoleReporter::Finalize();
        auto median = [](std::vector<double> v) {
            std::sort(v.begin(), v.end());
            return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
        };
        auto medians = [&](const Times& t) {
            return t.real.empty() ? std::pair{t.median_real, t.median_cpu} : std::pair{median(t.real), median(t.cpu)};
        };
        const auto step_it = times_.find(step_name);
        const auto [step_real, step_cpu] =
            step_it == times_.end() ? std::pair{double(NAN), double(NAN)} : medians(step_it->second);
        std::FILE* out = stdout;
        std::fprintf(out, "\n%-44s %10s %8s %10s %8s\n", "median (us)", "real", "/ step", "cpu", "/ step");
        for (const char* name : order) {
            const auto it = times_.find(name);
            if (it == times_.end()) continue;
            const auto [real, cpu] = medians(it->second);
            std::fprintf(out, "%-44s %10.2f %7.1f%% %10.2f %7.1f%%\n", name, real, 100 * real / step_real, cpu,
                         100 * cpu / step_cpu);
        }
        std::fprintf(out, "(goal: each 64 x %zu noise row at most 5%% of the step)\n", D);
        std::fflush(out);
    }

    static constexpr const char* step_name = "step/tied_784x64x64/float";
    static constexpr const char* order[] = {
        "step/tied_784x64x64/float",       "noise/masking_64x784/philox",   "noise/masking_64x784/mt19937_64_before",
        "noise/gaussian_64x784/philox",    "noise/gaussian_64x784/mt19937_64_before",
        "shuffle/permutation_60000/philox", "shuffle/permutation_60000/mt19937_64_before"};

private:
    struct Times {
        std::vector<double> real, cpu;
        double median_real = NAN, median_cpu = NAN;
    };
    std::map<std::string, Times> times_;
};

}  // namespace

int main(int argc, char** argv) {
    blas::set_num_threads(1);
    auto reg = [](const char* name, void (*fn)(benchmark::State&)) {
        benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kMicrosecond)->UseRealTime();
    };
    reg(RatioReporter::order[0], tied_step);
    reg(RatioReporter::order[1], masking_philox);
    reg(RatioReporter::order[2], masking_mt19937);
    reg(RatioReporter::order[3], gaussian_philox);
    reg(RatioReporter::order[4], gaussian_mt19937);
    reg(RatioReporter::order[5], permutation_philox);
    reg(RatioReporter::order[6], permutation_mt19937);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
}
