// Data parallelism in your own loop (README, "Training on several machines"): any Model<T> and
// optimizer, made data-parallel with tg::train::DataParallel over MPI. Run it as
//   mpirun -np 2 ./build/examples/data_parallel_example
// Every rank takes its slice of each global batch; after the reduction every rank holds the
// gradient of the whole batch, so the ranks' parameters stay identical. The last line checks it.
#include <tapegrad/distributed/mpi.hpp>
#include <tapegrad/models/autoencoder.hpp>

#include <cstdio>
#include <random>

int main(int argc, char** argv) {
    tg::mpi::Communicator world(argc, argv);  // MPI_Init; rank() and size() of the job
    tg::models::Autoencoder<float> model({.input = 64, .code = 8, .seed = 1});
    tg::Adam<float> adam(model.parameters(), 1e-2);
    tg::train::DataParallel<float> dp(world, model.parameters());
    dp.broadcast_parameters();  // every rank starts from rank 0's values

    const std::size_t global_batch = 32;
    std::mt19937_64 rng(5);  // the same data on every rank; each takes its own rows of it
    std::uniform_real_distribution<float> u(0, 1);
    tg::Matrix<float> data = tg::Matrix<float>::from_shape({global_batch, 64});
    for (float& v : data) v = u(rng);
    const auto [lo, hi] = dp.shard(global_batch);
    tg::Matrix<float> mine = tg::Matrix<float>::from_shape({hi - lo, 64});
    std::copy(data.data() + lo * 64, data.data() + hi * 64, mine.data());

    tg::Tape<float> tape;
    double loss = 0;
    for (int step = 0; step < 200; ++step) {
        tape.clear();
        adam.zero_grad();
        tg::Var<float> l = model.loss(tape, mine);
        tape.backward(l);
        loss = dp.reduce_gradients(hi - lo, global_batch, double(l.value()(0, 0)));  // the global batch's loss
        adam.step();
    }
    // The ranks' weights agree: their sum over ranks is size() times rank 0's.
    tg::Matrix<float> w = model.W.value, sum = model.W.value;
    world.sum(sum.data(), sum.size());
    world.broadcast(w.data(), w.size() * sizeof(float), 0);
    double worst = 0;
    for (std::size_t i = 0; i < w.size(); ++i) worst = std::max(worst, double(std::abs(sum.data()[i] - world.size() * w.data()[i])));
    if (world.rank() == 0) std::printf("%d processes: loss %.5f after 200 steps; ranks' weights differ by %.2g\n", world.size(), loss, worst);
    return worst < 1e-6 ? 0 : 1;
}
