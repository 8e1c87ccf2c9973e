// After warm-up, a training step allocates nothing: for every trainable model kind of the
// registry (each of its gradcheck variants, the penalties and corruptions among them), the
// step-function autoencoder (not a `train` kind), and every optimizer of the registry, at 1 and 2
// threads. The counter (alloc_counter.cpp) sees operator new and the C allocators, xtensor's
// aligned buffers included; a standing control shows it catching one reallocated buffer.
#include "alloc_counter.hpp"
#include "test_helpers.hpp"

#include <tapegrad/models/all.hpp>
#include <tapegrad/tapegrad.hpp>
#include <tapegrad/train/registry.hpp>

#include <boost/test/unit_test.hpp>

#include <functional>
#include <memory>
#include <random>

using namespace tg;

namespace {

// Rows of 64 values (8x8 images for the convolutional kinds), 512 of them: a 512 x 64 op has
// 32,768 elements, two parts' worth, so at 2 threads the dense ops really split.
constexpr std::size_t input = 64, batch = 512;

// allocations during 10 steps after 3 of warm-up
std::size_t allocations_in_steps(const std::function<void()>& step) {
    for (int i = 0; i < 3; ++i) step();
    const std::size_t before = tg::testing::allocation_count();
    for (int i = 0; i < 10; ++i) step();
    return tg::testing::allocation_count() - before;  // read before BOOST_TEST allocates
}

std::size_t allocations_training(models::Model<float>& model, Optimizer<float>& optimizer, const Matrix<float>& x) {
    Tape<float> tape;
    return allocations_in_steps([&] {
        tape.clear();
        optimizer.zero_grad();
        tape.backward(model.loss(tape, x));
        optimizer.step();
    });
}

// An op whose forward gives its node a fresh buffer each step (the bug the test exists for):
// y = x, with `saved` reallocated.
Var<float> reallocating_identity(Var<float> x) {
    return x.tape->record(
        "reallocating_identity", x.shape(), {x},
        [&](Node<float>& y) {
            y.saved = Matrix<float>::from_shape(x.shape());  // new aligned buffer every time
            y.result = x.value();
        },
        [](Node<float>& y) { add_grad(y.in(0), *y.grad); }, nullptr);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(allocations)

BOOST_AUTO_TEST_CASE(no_training_step_allocates_after_warm_up) {
    std::mt19937_64 rng(5);
    const Matrix<float> x = tg_test::random_matrix<float>(rng, batch, input, 0, 1);
    std::size_t steps_checked = 0;
    for (const int threads : {1, 2}) {
        set_num_threads(threads);
        std::vector<std::pair<std::string, std::unique_ptr<models::Model<float>>>> zoo;
        for (const train::ModelKind& kind : train::model_kinds()) {
            if (!kind.trainable()) continue;
            for (const nlohmann::json& variant : kind.gradcheck_variants) {
                const train::OptionValues values(train::resolve_options(kind.options, variant, kind.name + ": "));
                zoo.emplace_back(kind.name + " " + variant.dump(), train::make_model<float>(kind, values, input, 3));
            }
        }
        zoo.emplace_back("step", std::make_unique<models::StepAutoencoder<float>>(models::StepAutoencoderConfig{.n = input}));
        for (auto& [name, model] : zoo)
            for (const train::OptimizerKind& kind : train::optimizer_kinds()) {
                const train::OptionValues values(train::resolve_options(kind.options, nlohmann::json::object(), kind.name + ": "));
                const auto optimizer = train::make_optimizer<float>(kind, values, model->parameters());
                const std::size_t n = allocations_training(*model, *optimizer, x);
                BOOST_TEST(n == 0u, name << ", " << kind.name << ", " << threads << " thread(s): " << n << " allocations in 10 steps");
                ++steps_checked;
            }
    }
    set_num_threads(1);
    BOOST_TEST_MESSAGE(steps_checked << " model x optimizer x thread combinations checked");
    BOOST_TEST(steps_checked >= 2 * 10 * train::optimizer_kinds().size());
}

// The control: the same measurement sees one node whose buffer is reallocated each step, an
// xtensor buffer (posix_memalign through xsimd), which operator new alone never saw.
BOOST_AUTO_TEST_CASE(the_counter_sees_a_reallocated_buffer) {
    std::mt19937_64 rng(6);
    const Matrix<float> x = tg_test::random_matrix<float>(rng, 8, input, 0, 1);
    models::Autoencoder<float> model({.input = input, .code = 4});
    SGD<float> sgd(model.parameters(), 0.01);
    Tape<float> tape;
    const std::size_t n = allocations_in_steps([&] {
        tape.clear();
        sgd.zero_grad();
        Var<float> h = reallocating_identity(model.encode(tape, tape.constant(x)).h);
        tape.backward(mse(model.decode(tape, h), tape.constant(x)));
        sgd.step();
    });
    BOOST_TEST(n == 10u, n << " allocations counted in 10 steps, one per step expected");
}

BOOST_AUTO_TEST_SUITE_END()
