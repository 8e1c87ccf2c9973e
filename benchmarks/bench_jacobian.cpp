// The contractive autoencoder's training step with its Jacobian penalty computed three ways:
// the one-layer closed form (one op), the generic exact Jacobian of the encoder (jacobian.hpp:
// one stacked pass, then the double backward through it), and the random-projection estimate.
// At the standard workload's four sizes (benchmarks/WORKLOAD.md), float, a tied sigmoid
// encoder, Adam. The steps of a size are timed interleaved, and the table gives each one's
// median over the rounds, and its ratio to the closed form measured in the same rounds.
//
// Built a second time as bench_jacobian_torch when CMake finds LibTorch (Debian's libtorch-dev;
// optional, never needed by the library): a fourth step, LibTorch 1.13's standard way
// (torch_contractive.cpp), from the same initial weights and batch, and the generic exact step's
// ratio to it. Before timing, the first step's loss of each side is compared (they start equal).
//
//   ./build/benchmarks/bench_jacobian [rounds] [threads]
//   ./build/benchmarks/bench_jacobian_torch [rounds] [threads]
#include <tapegrad/models/contractive.hpp>
#include <tapegrad/tapegrad.hpp>
#ifdef TAPEGRAD_WITH_TORCH
#include "torch_contractive.hpp"
#endif

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <vector>

using namespace tg;

namespace {

constexpr double lambda = 0.1, learning_rate = 1e-3;

struct Step {
    virtual ~Step() = default;
    virtual double run(const Matrix<float>& x) = 0;  // one training step; returns its loss
};

struct TapegradStep : Step {
    models::ContractiveAutoencoder<float> model;
    Adam<float> adam;
    Tape<float> tape;
    TapegradStep(std::size_t d, std::size_t k, models::JacobianPenalty how)
        : model({.input = d, .code = k, .seed = 5}, lambda, how), adam(model.parameters(), learning_rate) {}
    double run(const Matrix<float>& x) override {
        tape.clear();
        adam.zero_grad();
        const Var<float> loss = model.loss(tape, x);
        tape.backward(loss);
        adam.step();
        return loss.value()(0, 0);
    }
};

#ifdef TAPEGRAD_WITH_TORCH
struct TorchStep : Step {
    bench::TorchContractive torch;
    TorchStep(std::size_t d, std::size_t k, const Matrix<float>& w, const Matrix<float>& x)
        : torch(d, k, x.shape()[0], w.data(), x.data(), lambda, learning_rate) {}
    double run(const Matrix<float>&) override { return torch.step(); }
};
#endif

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 15;
    const int threads = argc > 2 ? std::atoi(argv[2]) : 1;
    set_num_threads(threads);
#ifdef TAPEGRAD_WITH_TORCH
    bench::torch_threads(threads);
#endif
    struct Size { std::size_t d, k, b; };
    const Size sizes[] = {{784, 64, 64}, {784, 256, 256}, {128, 1, 129}, {32, 16, 32}};
    const models::JacobianPenalty ways[] = {models::JacobianPenalty::closed_form, models::JacobianPenalty::exact,
                                            models::JacobianPenalty::estimate};
    std::vector<const char*> names = {"closed form", "exact (generic)", "estimate"};
#ifdef TAPEGRAD_WITH_TORCH
    names.push_back("LibTorch loop");
    const bool with_torch = true;
#else
    const bool with_torch = false;
#endif
    // A Markdown table (scripts/benchmark-tables.sh puts it in benchmarks/results/ as it is).
    std::printf("| size DxKxB | penalty | median ms | / closed form |%s\n", with_torch ? " LibTorch loop / this |" : "");
    std::printf("|---|---|---|---|%s\n", with_torch ? "---|" : "");
    for (const Size& s : sizes) {
        std::mt19937_64 rng(1);
        std::uniform_real_distribution<float> u(0, 1);
        Matrix<float> x = Matrix<float>::from_shape({s.b, s.d});
        for (float& v : x) v = u(rng);
        std::vector<std::unique_ptr<Step>> steps;
        for (auto how : ways) steps.push_back(std::make_unique<TapegradStep>(s.d, s.k, how));
#ifdef TAPEGRAD_WITH_TORCH
        steps.push_back(std::make_unique<TorchStep>(s.d, s.k, static_cast<TapegradStep&>(*steps[1]).model.W.value, x));
#endif
        const std::size_t n = steps.size();
        std::vector<std::vector<double>> times(n);
        // Warm-up (buffers sized), and the check that every step starts from the same loss: the
        // closed form, the exact Jacobian and LibTorch compute the same function (the estimate
        // is a random projection of it, so only the exact ones are compared).
        std::vector<double> first(n);
        for (std::size_t w = 0; w < n; ++w) first[w] = steps[w]->run(x);
        for (std::size_t w = 0; w < n; ++w)
            if (w != 2 && std::abs(first[w] - first[0]) > 1e-4 * std::abs(first[0])) {
                std::fprintf(stderr, "bench_jacobian: %s's first loss %.8g differs from the closed form's %.8g\n", names[w],
                             first[w], first[0]);
                return 1;
            }
        // Repeat each step until a round takes at least ~20 ms, so short steps are measured well.
        std::vector<int> reps(n, 1);
        for (std::size_t w = 0; w < n; ++w) {
            const auto t0 = std::chrono::steady_clock::now();
            steps[w]->run(x);
            const double once = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            reps[w] = std::max(1, int(0.02 / std::max(once, 1e-7)));
        }
        for (int r = 0; r < rounds; ++r)
            for (std::size_t w = 0; w < n; ++w) {
                const auto t0 = std::chrono::steady_clock::now();
                for (int i = 0; i < reps[w]; ++i) steps[w]->run(x);
                times[w].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps[w]);
            }
        const double closed = median(times[0]);
        char label[32];
        std::snprintf(label, sizeof label, "%zux%zux%zu", s.d, s.k, s.b);
        for (std::size_t w = 0; w < n; ++w) {
            std::printf("| %s | %s | %.3f | %.2f |", label, names[w], 1e3 * median(times[w]), median(times[w]) / closed);
            if (with_torch) std::printf(" %.2f |", median(times.back()) / median(times[w]));
            std::printf("\n");
        }
    }
    return 0;
}
