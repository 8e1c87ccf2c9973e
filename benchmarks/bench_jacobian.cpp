// The contractive autoencoder's training step with its Jacobian penalty computed three ways:
// the one-layer closed form (one op), the generic exact Jacobian of the encoder (jacobian.hpp:
// one stacked pass, then the double backward through it), and the random-projection estimate.
// At the standard workload's four sizes (benchmarks/WORKLOAD.md), float, a tied sigmoid
// encoder, Adam. The three steps of a size are timed interleaved, and the table gives
// each one's median over the rounds, and its ratio to the closed form measured in the same rounds.
//
//   ./build/benchmarks/bench_jacobian [rounds] [threads]
#include <tapegrad/models/contractive.hpp>
#include <tapegrad/tapegrad.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

using namespace tg;

namespace {

struct Step {
    models::ContractiveAutoencoder<float> model;
    Adam<float> adam;
    Tape<float> tape;
    Step(std::size_t d, std::size_t k, models::JacobianPenalty how)
        : model({.input = d, .code = k, .seed = 5}, 0.1, how), adam(model.parameters(), 1e-3) {}
    void run(const Matrix<float>& x) {
        tape.clear();
        adam.zero_grad();
        tape.backward(model.loss(tape, x));
        adam.step();
    }
};

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 15;
    set_num_threads(argc > 2 ? std::atoi(argv[2]) : 1);
    struct Size { std::size_t d, k, b; };
    const Size sizes[] = {{784, 64, 64}, {784, 256, 256}, {128, 1, 129}, {32, 16, 32}};
    const models::JacobianPenalty ways[] = {models::JacobianPenalty::closed_form, models::JacobianPenalty::exact,
                                            models::JacobianPenalty::estimate};
    const char* names[] = {"closed form", "exact (generic)", "estimate"};
    std::printf("%-12s %-16s %12s %10s\n", "size DxKxB", "penalty", "median ms", "/ closed");
    for (const Size& s : sizes) {
        std::mt19937_64 rng(1);
        std::uniform_real_distribution<float> u(0, 1);
        Matrix<float> x = Matrix<float>::from_shape({s.b, s.d});
        for (float& v : x) v = u(rng);
        std::vector<Step*> steps;
        for (auto how : ways) steps.push_back(new Step(s.d, s.k, how));
        std::vector<std::vector<double>> times(3);
        // Repeat each step until a round takes at least ~20 ms, so short steps are measured well.
        for (Step* st : steps) st->run(x);  // warm-up: buffers sized
        std::vector<int> reps(3, 1);
        for (std::size_t w = 0; w < 3; ++w) {
            const auto t0 = std::chrono::steady_clock::now();
            steps[w]->run(x);
            const double once = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            reps[w] = std::max(1, int(0.02 / std::max(once, 1e-7)));
        }
        for (int r = 0; r < rounds; ++r)
            for (std::size_t w = 0; w < 3; ++w) {
                const auto t0 = std::chrono::steady_clock::now();
                for (int i = 0; i < reps[w]; ++i) steps[w]->run(x);
                times[w].push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / reps[w]);
            }
        const double closed = median(times[0]);
        char label[32];
        std::snprintf(label, sizeof label, "%zux%zux%zu", s.d, s.k, s.b);
        for (std::size_t w = 0; w < 3; ++w)
            std::printf("%-12s %-16s %12.3f %10.2f\n", label, names[w], 1e3 * median(times[w]), median(times[w]) / closed);
        for (Step* st : steps) delete st;
    }
    return 0;
}
