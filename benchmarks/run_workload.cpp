// Runs the standard workload (benchmarks/WORKLOAD.md) by its protocol: fresh initial values,
// 20 warm-up steps (the first step's loss is loss_first), 200 timed steps; prints one CSV row
// per configuration: impl,threads,dtype,variant,D,K,B,us_per_step,loss_first,loss_last.
#include "benchmarks/framework_impl.hpp"
#include "benchmarks/gemm_only.hpp"
#include <tapegrad/baseline/handcoded.hpp>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>

namespace {
using namespace tg;

struct Row {
    double us_per_step, loss_first, loss_last;
};

template <class Impl>
Row run(Impl& impl, int warmup, int steps) {
    Row row{};
    row.loss_first = double(impl.step());
    for (int i = 1; i < warmup; ++i) impl.step();
    const auto start = std::chrono::steady_clock::now();
    double last = 0;
    for (int i = 0; i < steps; ++i) last = double(impl.step());
    const auto stop = std::chrono::steady_clock::now();
    row.us_per_step = std::chrono::duration<double, std::micro>(stop - start).count() / steps;
    row.loss_last = last;
    return row;
}

template <class T>
Row run_impl(const std::string& impl, workload::Variant variant, workload::Size size, int warmup, int steps) {
    const auto init = workload::make_initial_values<T>(variant, size);
    if (impl == "framework") {
        bench::FrameworkAutoencoder<T> a(variant, size, init);
        return run(a, warmup, steps);
    }
    if (impl == "handcoded") {
        handcoded::Autoencoder<T> a(variant, size, init);
        return run(a, warmup, steps);
    }
    bench::GemmOnly<T> a(variant, size, init);
    Row r = run(a, warmup, steps);
    r.loss_first = r.loss_last = std::nan("");
    return r;
}

workload::Size parse_size(const std::string& s) {
    workload::Size size{};
    char x1 = 0, x2 = 0;
    std::istringstream in(s);
    if (!(in >> size.D >> x1 >> size.K >> x2 >> size.B) || x1 != 'x' || x2 != 'x' || !in.eof())
        throw CLI::ValidationError("--size", "'" + s + "' is not DxKxB, e.g. 784x64x64");
    return size;
}
}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Run the standard training-step workload and print CSV rows (see benchmarks/README.md)."};
    std::vector<std::string> impls{"handcoded", "framework"}, dtypes{"float", "double"};
    std::vector<std::string> variants{"tied", "untied", "sparse", "contractive", "denoising"};
    std::vector<std::string> sizes{"784x64x64", "784x256x256", "128x1x129", "32x16x32"};
    std::vector<int> threads{1};
    int warmup = 20, steps = 200;
    app.add_option("--impl", impls, "handcoded, framework, gemm (the GEMMs of a step alone)")
        ->check(CLI::IsMember({"handcoded", "framework", "gemm"}));
    app.add_option("--dtype", dtypes, "float, double")->check(CLI::IsMember({"float", "double"}));
    app.add_option("--variant", variants, "tied, untied, sparse, contractive, denoising")
        ->check(CLI::IsMember({"tied", "untied", "sparse", "contractive", "denoising"}));
    app.add_option("--size", sizes, "DxKxB");
    app.add_option("--threads", threads, "BLAS thread counts")->check(CLI::Range(1, 256));
    app.add_option("--warmup", warmup, "warm-up steps (the first gives loss_first)")->check(CLI::Range(1, 1000000));
    app.add_option("--steps", steps, "timed steps")->check(CLI::Range(1, 100000000));
    try {
        app.parse(argc, argv);
        for (const auto& s : sizes) parse_size(s);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    fmt::print("impl,threads,dtype,variant,D,K,B,us_per_step,loss_first,loss_last\n");
    for (int t : threads) {
        blas::set_num_threads(t);
        for (const auto& size_text : sizes)
            for (const auto& v : variants)
                for (const auto& dtype : dtypes)
                    for (const auto& impl : impls) {
                        const workload::Size size = parse_size(size_text);
                        const auto variant = workload::parse_variant(v);
                        const Row r = dtype == "float" ? run_impl<float>(impl, variant, size, warmup, steps)
                                                       : run_impl<double>(impl, variant, size, warmup, steps);
                        fmt::print("{},{},{},{},{},{},{},{:.3f},{:.17g},{:.17g}\n", impl, t, dtype, v, size.D, size.K,
                                   size.B, r.us_per_step, r.loss_first, r.loss_last);
                        std::fflush(stdout);
                    }
    }
}
