// Google Benchmark: every (implementation, variant, size, dtype, threads: tg::set_num_threads) of the standard
// workload, one training step per iteration, and at the end a table of each configuration's
// framework / hand-coded and GEMMs-only / hand-coded time ratios, all measured in this run.
#include "benchmarks/framework_impl.hpp"
#include "benchmarks/gemm_only.hpp"
#include <tapegrad/baseline/handcoded.hpp>

#include <benchmark/benchmark.h>
#include <fmt/core.h>

#include <map>

namespace {
using namespace tg;

template <class Impl, class T>
void run_steps(benchmark::State& state, workload::Variant variant, workload::Size size, int threads) {
    blas::set_num_threads(threads);
    const auto init = workload::make_initial_values<T>(variant, size);
    Impl impl(variant, size, init);
    for (int i = 0; i < 20; ++i) impl.step();  // the protocol's warm-up
    for (auto _ : state) benchmark::DoNotOptimize(impl.step());  // one iteration = one step
}

std::string config_name(workload::Variant v, workload::Size s, const char* dtype, int threads) {
    return fmt::format("{}/{}x{}x{}/{}/threads:{}", workload::name(v), s.D, s.K, s.B, dtype, threads);
}

// Prints the usual console output, remembers each run's time per step, and adds the ratio table.
class RatioReporter : public benchmark::ConsoleReporter {
public:
    void ReportRuns(const std::vector<Run>& runs) override {
        ConsoleReporter::ReportRuns(runs);
        for (const Run& r : runs) {
            // Single runs, or with --benchmark_repetitions the median of the repetitions.
            const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
            if ((r.run_type != Run::RT_Iteration && !median) || r.error_occurred) continue;
            std::string name = r.benchmark_name();
            if (const auto suffix = name.rfind("/real_time"); suffix != std::string::npos) name.erase(suffix);
            const auto slash = name.find('/');
            seconds_[name.substr(slash + 1)][name.substr(0, slash)] = r.GetAdjustedRealTime();
        }
    }
    void Finalize() override {
        ConsoleReporter::Finalize();
        auto& out = GetOutputStream();
        out << fmt::format("\n{:<44} {:>12} {:>12} {:>12} {:>10} {:>10}\n", "configuration (time unit: us)",
                           "hand-coded", "framework", "GEMMs only", "fw / hc", "gemm / hc");
        for (const auto& [config, times] : seconds_) {
            auto at = [&](const char* impl) { auto it = times.find(impl); return it == times.end() ? NAN : it->second; };
            const double hc = at("handcoded"), fw = at("framework"), gemm = at("gemm");
            out << fmt::format("{:<44} {:>12.2f} {:>12.2f} {:>12.2f} {:>10.3f} {:>10.3f}\n", config, hc, fw, gemm,
                               fw / hc, gemm / hc);
        }
    }

private:
    std::map<std::string, std::map<std::string, double>> seconds_;
};

template <class T>
void register_config(workload::Variant v, workload::Size s, int threads) {
    const char* dtype = sizeof(T) == 4 ? "float" : "double";
    const std::string config = config_name(v, s, dtype, threads);
    auto reg = [&](const char* impl, auto fn) {
        benchmark::RegisterBenchmark((std::string(impl) + "/" + config).c_str(), fn)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
    };
    reg("handcoded", [=](benchmark::State& st) { run_steps<handcoded::Autoencoder<T>, T>(st, v, s, threads); });
    reg("framework", [=](benchmark::State& st) { run_steps<bench::FrameworkAutoencoder<T>, T>(st, v, s, threads); });
    reg("gemm", [=](benchmark::State& st) { run_steps<bench::GemmOnly<T>, T>(st, v, s, threads); });
}
}  // namespace

int main(int argc, char** argv) {
    for (int threads : {1, 2})
        for (const workload::Size& size : workload::standard_sizes)
            for (workload::Variant v : workload::all_variants) {
                register_config<float>(v, size, threads);
                register_config<double>(v, size, threads);
            }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    RatioReporter reporter;
    benchmark::RunSpecifiedBenchmarks(&reporter);
    benchmark::Shutdown();
}
