// Data-parallel training step, split into its parts, as the README's MPI section reports it:
//   mpirun -np 2 ./build/benchmarks/bench_data_parallel                 (one BLAS thread each)
//   ./build/benchmarks/bench_data_parallel --threads 2                  (one process, two threads)
// The tied sigmoid autoencoder 784 x K with a global batch of B random rows (default 784x256x256,
// float, Adam). Per step: compute (this rank's slice: forward and backward), reduce (the one
// allreduce of every gradient and the loss, including any wait for a slower rank), update
// (Adam), and, measured apart after a synchronisation, the bare allreduce of the same buffer.
// Rank 0 prints medians over --steps steps after --warmup steps.
//
// A plain timing loop, not Google Benchmark: every rank must run the same number of steps in
// lockstep (each step is a collective), which Google Benchmark's adaptive iteration counts do not.
#include <tapegrad/blas.hpp>
#include <tapegrad/distributed/mpi.hpp>
#include <tapegrad/models/autoencoder.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
double micros(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::micro>(b - a).count(); }
double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
    std::unique_ptr<tg::mpi::Communicator> mpi;
    tg::train::Communicator* world = &tg::train::single_process();
    if (tg::mpi::launched_by_mpi()) {
        mpi = std::make_unique<tg::mpi::Communicator>(argc, argv);
        world = mpi.get();
    }
    std::size_t D = 784, K = 256, B = 256, steps = 300, warmup = 30;
    int threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        const std::size_t v = std::strtoull(argv[i + 1], nullptr, 10);
        if (flag == "--code") K = v;
        else if (flag == "--batch") B = v;
        else if (flag == "--steps") steps = v;
        else if (flag == "--warmup") warmup = v;
        else if (flag == "--threads") threads = int(v);
        else {
            std::fprintf(stderr, "usage: bench_data_parallel [--code K] [--batch B] [--steps S] [--warmup W] [--threads T]\n");
            return 2;
        }
    }
    tg::blas::set_num_threads(threads);

    tg::models::Autoencoder<float> model(tg::models::AutoencoderConfig{.input = D, .code = K, .seed = 1});
    tg::Adam<float> adam(model.parameters(), 1e-3);
    tg::train::DataParallel<float> dp(*world, model.parameters());
    dp.broadcast_parameters();
    const auto [lo, hi] = dp.shard(B);
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<float> u(0, 1);
    tg::Matrix<float> slice = tg::Matrix<float>::from_shape({hi - lo, D});
    for (float& v : slice) v = u(rng);

    tg::Tape<float> tape;
    std::vector<double> compute, reduce, update, bare, total;
    std::vector<float> buffer(dp.reduced_values(), 1.0f);
    for (std::size_t s = 0; s < warmup + steps; ++s) {
        const auto t0 = Clock::now();
        tape.clear();
        adam.zero_grad();
        tg::Var<float> loss = model.loss(tape, slice);
        tape.backward(loss);
        const auto t1 = Clock::now();
        if (world->size() > 1) dp.reduce_gradients(hi - lo, B, double(loss.value()(0, 0)));
        const auto t2 = Clock::now();
        adam.step();
        const auto t3 = Clock::now();
        world->any(false);  // everyone here: the bare allreduce below waits for no one
        const auto t4 = Clock::now();
        world->sum(buffer.data(), buffer.size());
        const auto t5 = Clock::now();
        if (s < warmup) continue;
        compute.push_back(micros(t0, t1));
        reduce.push_back(micros(t1, t2));
        update.push_back(micros(t2, t3));
        total.push_back(micros(t0, t3));
        bare.push_back(micros(t4, t5));
    }
    if (world->rank() == 0) {
        std::printf("tied sigmoid autoencoder %zux%zu, global batch %zu (rank 0's slice %zu rows), float, Adam\n", D, K, B, hi - lo);
        std::printf("%d process(es) x %d BLAS thread(s); %zu values = %zu bytes reduced per step; medians of %zu steps\n",
                    world->size(), threads, dp.reduced_values(), dp.reduced_values() * sizeof(float), steps);
        std::printf("%-36s %10s\n", "part of a step", "us");
        std::printf("%-36s %10.1f\n", "compute (forward + backward)", median(compute));
        std::printf("%-36s %10.1f\n", "reduce (allreduce, with waiting)", median(reduce));
        std::printf("%-36s %10.1f\n", "update (Adam)", median(update));
        std::printf("%-36s %10.1f\n", "step (the three)", median(total));
        std::printf("%-36s %10.1f\n", "bare allreduce of the same buffer", world->size() > 1 ? median(bare) : 0.0);
    }
    return 0;
}
