// The framework and the hand-coded backprop compute the same losses and gradients on the
// standard workload: every variant, every size, float64 to 1e-12 and float32 to 1e-4 relative.
#include "benchmarks/framework_impl.hpp"
#include <tapegrad/baseline/conv_handcoded.hpp>
#include <tapegrad/baseline/handcoded.hpp>
#include <tapegrad/models/conv_ae.hpp>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

namespace {
using namespace tg;
using workload::Variant;

// Largest elementwise difference relative to the largest magnitude of the reference.
template <class T>
double relative_difference(const Matrix<T>& a, const Matrix<T>& reference) {
    BOOST_REQUIRE(a.shape() == reference.shape());
    double diff = 0, scale = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        diff = std::max(diff, std::abs(double(a.data()[i]) - double(reference.data()[i])));
        scale = std::max(scale, std::abs(double(reference.data()[i])));
    }
    return scale > 0 ? diff / scale : diff;
}

template <class T>
void check_agreement(Variant variant, workload::Size size, double tolerance) {
    const auto init = workload::make_initial_values<T>(variant, size);
    handcoded::Autoencoder<T> reference(variant, size, init);
    bench::FrameworkAutoencoder<T> framework(variant, size, init);
    const std::string what = std::string(workload::name(variant)) + " " + std::to_string(size.D) + "x" +
                             std::to_string(size.K) + "x" + std::to_string(size.B) + (sizeof(T) == 4 ? " float" : " double");
    for (int step = 0; step < 3; ++step) {
        const double expected = reference.loss_and_gradients();
        const double got = framework.loss_and_gradients();
        BOOST_TEST(std::abs(got - expected) <= tolerance * std::abs(expected),
                   what << " step " << step << ": loss " << got << " vs hand-coded " << expected);
        auto& m = framework.model();
        BOOST_TEST(relative_difference(m.W.grad, reference.grad_W()) <= tolerance, what << " dW");
        BOOST_TEST(relative_difference(m.b1.grad, reference.grad_b1()) <= tolerance, what << " db1");
        BOOST_TEST(relative_difference(m.b2.grad, reference.grad_b2()) <= tolerance, what << " db2");
        if (m.W2) BOOST_TEST(relative_difference(m.W2->grad, reference.grad_W2()) <= tolerance, what << " dW2");
        reference.sgd_update(T(workload::learning_rate));
        framework.sgd_update();
    }
    BOOST_TEST(relative_difference(framework.model().W.value, reference.W()) <= tolerance, what << " W after 3 steps");
}

// The tied conv model (its defaults: relu, linear output, MSE) and the hand-coded conv step
// from the same initial values: the same loss and gradients at each of three SGD steps.
template <class T>
void check_conv_agreement(const handcoded::ConvConfig& c, double tolerance) {
    handcoded::ConvAutoencoder<T> reference(c, 3);
    models::ConvAutoencoder<T> framework(models::ConvAutoencoderConfig{
        .image = {c.height, c.width, c.image_channels}, .channels = c.channels,
        .window = {c.kernel, c.kernel, c.stride, c.padding}, .code = c.code});
    const std::vector<Parameter<T>*> params = framework.parameters();
    const auto values = reference.parameters();
    const auto grads = reference.gradients();
    BOOST_REQUIRE_EQUAL(params.size(), values.size());
    for (std::size_t k = 0; k < params.size(); ++k) params[k]->value = *values[k];
    std::mt19937_64 rng(8);
    std::uniform_real_distribution<double> u(0, 1);
    Matrix<T> x = Matrix<T>::from_shape({c.batch, c.height * c.width * c.image_channels});
    for (T& v : x) v = T(u(rng));
    Tape<T> tape;
    SGD<T> sgd(params, 0.05);
    const std::string what = framework.describe() + (sizeof(T) == 4 ? " float" : " double");
    for (int step = 0; step < 3; ++step) {
        const double expected = reference.loss_and_gradients(x);
        tape.clear();
        sgd.zero_grad();
        const Var<T> loss = framework.loss(tape, x);
        tape.backward(loss);
        BOOST_TEST(std::abs(double(loss.value()(0, 0)) - expected) <= tolerance * expected, what << " step " << step);
        for (std::size_t k = 0; k < params.size(); ++k)
            BOOST_TEST(relative_difference(params[k]->grad, *grads[k]) <= tolerance, what << " d" << params[k]->name);
        sgd.step();
        reference.sgd_update(T(0.05));
    }
}

const Variant variants[] = {Variant::tied, Variant::untied, Variant::sparse, Variant::contractive, Variant::denoising};
}  // namespace

namespace tg::workload {
// Boost.Test names data-driven cases by printing the sample.
inline std::ostream& operator<<(std::ostream& out, Variant v) { return out << name(v); }
}  // namespace tg::workload

BOOST_AUTO_TEST_SUITE(agreement)

BOOST_DATA_TEST_CASE(framework_matches_hand_coded_backprop, boost::unit_test::data::make(variants), variant) {
    for (const workload::Size& size : workload::standard_sizes) {
        check_agreement<double>(variant, size, 1e-12);
        check_agreement<float>(variant, size, 1e-4);
    }
}

BOOST_AUTO_TEST_CASE(the_conv_model_matches_the_hand_coded_conv_step) {
    // 28x28 -> 14x14x4 -> 7x7x8 (output paddings 1 and 1) with a 32-unit code, and a map code.
    for (std::size_t code : {std::size_t(32), std::size_t(0)}) {
        const handcoded::ConvConfig c{.batch = 5, .channels = {4, 8}, .code = code};
        check_conv_agreement<double>(c, 1e-12);
        check_conv_agreement<float>(c, 1e-4);
    }
}

BOOST_AUTO_TEST_SUITE_END()
