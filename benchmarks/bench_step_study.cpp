// Google Benchmark for the step-function study (129 step functions of length 128, one latent
// unit, a 128 x 128 decoder): (a) the framework's full training step (tape, ops, RMSProp) and
// (b) only the GEMMs of that step, through tg::blas::gemm on buffers of the same shapes. The
// ratio a / b is the framework's overhead over the BLAS floor; the study's budget is 1.3.
#include <tapegrad/studies/step.hpp>

#include <benchmark/benchmark.h>
#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <vector>

namespace {
using namespace tg;

constexpr std::size_t n = 128, B = n + 1;

// The eight products of one step of models/step_ae.hpp, in the order the tape runs them.
template <class T>
class StepGemms {
public:
    StepGemms()
        : x_(studies::step_functions<T>(n)), w1_(filled(1, n)), w2_(filled(n, 1)), W3_(filled(n, n)),
          z_(filled(B, 1)), a_(filled(B, n)), y_(filled(B, n)), dW3_(filled(n, n)), dw2_(filled(n, 1)),
          dw1_(filled(1, n)) {}

    void step() {
        // The gradient buffers double as the values they stand for: only shapes matter here.
        blas::gemm(x_, false, w1_, true, z_, T(1), T(1));     // Z = X w1^T (+ b1)
        blas::gemm(z_, false, w2_, true, a_, T(1), T(1));     // A = Z w2^T (+ b2)
        blas::gemm(a_, false, W3_, true, y_, T(1), T(0));     // Y = relu(A) W3^T
        blas::gemm(y_, false, W3_, false, a_, T(1), T(0));    // dH = dY W3
        blas::gemm(y_, true, a_, false, dW3_, T(1), T(1));    // dW3 += dY^T H
        blas::gemm(a_, false, w2_, false, z_, T(1), T(0));    // dZ = dA w2
        blas::gemm(a_, true, z_, false, dw2_, T(1), T(1));    // dw2 += dA^T Z
        blas::gemm(z_, true, x_, false, dw1_, T(1), T(1));    // dw1 += dZ^T X
        benchmark::DoNotOptimize(dw1_.data());
    }

private:
    static Matrix<T> filled(std::size_t r, std::size_t c) {
        Matrix<T> m = make_matrix<T>(r, c);
        m.fill(T(1e-3));  // small values: nothing overflows however often the step repeats
        return m;
    }
    Matrix<T> x_, w1_, w2_, W3_, z_, a_, y_, dW3_, dw2_, dw1_;
};

template <class T>
void framework_step(benchmark::State& state, bool frozen) {
    blas::set_num_threads(int(state.range(0)));
    studies::StepRunOptions o;
    o.model.frozen_encoder = frozen;
    studies::StepTrainer<T> trainer(o);
    for (int i = 0; i < 50; ++i) trainer.step();
    for (auto _ : state) benchmark::DoNotOptimize(trainer.step());
}

template <class T>
void gemms_only(benchmark::State& state) {
    blas::set_num_threads(int(state.range(0)));
    StepGemms<T> g;
    for (int i = 0; i < 50; ++i) g.step();
    for (auto _ : state) g.step();
}

// The usual console output, then framework / GEMMs-only per configuration. With
// --benchmark_repetitions each cell is the median over the repetitions (interleave them with
// --benchmark_enable_random_interleaving=true so that a busy moment hits every variant alike).
class RatioReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs) {
            if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
            const std::string name = r.run_name.function_name + "/" + r.run_name.args;  // impl/dtype/threads:k
            const auto slash = name.find('/');
            us_[name.substr(slash + 1)][name.substr(0, slash)].push_back(r.GetAdjustedRealTime());
        }
    }
    void Finalize() override {
        ConsoleReporter::Finalize();
        auto& out = GetOutputStream();
        out << fmt::format("\n{:<18} {:>10} {:>14} {:>11} {:>8} {:>12} {:>15}\n", "us/step (median)", "framework",
                           "frozen encoder", "GEMMs only", "fw/gemm", "frozen/gemm", "557,600 steps");
        for (auto& [config, t] : us_) {
            auto at = [&](const char* k) {
                auto it = t.find(k);
                if (it == t.end()) return double(NAN);
                std::vector<double>& v = it->second;
                std::sort(v.begin(), v.end());
                return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
            };
            const double fw = at("framework"), fz = at("framework_frozen"), g = at("gemms");
            out << fmt::format("{:<18} {:>10.2f} {:>14.2f} {:>11.2f} {:>8.3f} {:>12.3f} {:>13.1f} s\n", config, fw, fz,
                               g, fw / g, fz / g, fw * 557600e-6);
        }
    }

private:
    std::map<std::string, std::map<std::string, std::vector<double>>> us_;
};

template <class T>
void register_all(const char* dtype) {
    for (int threads : {1, 2}) {
        const std::string suffix = std::string("/") + dtype;
        auto reg = [&](const std::string& name, auto fn) {
            benchmark::RegisterBenchmark(name.c_str(), fn)->Arg(threads)->ArgName("threads")->Unit(benchmark::kMicrosecond)->UseRealTime();
        };
        reg("framework" + suffix, [](benchmark::State& s) { framework_step<T>(s, false); });
        reg("framework_frozen" + suffix, [](benchmark::State& s) { framework_step<T>(s, true); });
        reg("gemms" + suffix, [](benchmark::State& s) { gemms_only<T>(s); });
    }
}
}  // namespace

int main(int argc, char** argv) {
    register_all<float>("float");
    register_all<double>("double");
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
}
