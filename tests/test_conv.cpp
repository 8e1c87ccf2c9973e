// The convolutions: conv2d computes what a direct loop over the definition computes,
// conv_transpose2d is its exact adjoint, a tied kernel receives the sum of the encoder's and
// the decoder's gradients, bad geometry is refused at record time with every size named, and
// the convolutional autoencoder keeps the dense models' promises (noise keyed by sample; no
// allocation after warm-up: test_allocations.cpp). The finite-difference checks of every layout
// are in tools/gradcheck.
#include "test_helpers.hpp"

#include <tapegrad/gradcheck.hpp>
#include <tapegrad/models/all.hpp>
#include <tapegrad/tapegrad.hpp>

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

using namespace tg;
using tg_test::expect_error;
using tg_test::random_matrix;

namespace {

// The definition, written out: y[b, oy, ox, o] = bias[o] + sum over (ky, kx, c) of
// x[b, oy·s - p + ky, ox·s - p + kx, c] · K[(ky·kw + kx)·C + c, o], zero outside the image.
Matrix<double> direct_conv2d(const Matrix<double>& x, ImageShape in, const Matrix<double>& K, const Matrix<double>& bias,
                             ConvWindow w) {
    const std::size_t O = K.shape()[1];
    const std::size_t Ho = (in.height + 2 * w.padding - w.kernel_h) / w.stride + 1;
    const std::size_t Wo = (in.width + 2 * w.padding - w.kernel_w) / w.stride + 1;
    Matrix<double> y = Matrix<double>::from_shape({x.shape()[0], Ho * Wo * O});
    for (std::size_t b = 0; b < x.shape()[0]; ++b)
        for (std::size_t oy = 0; oy < Ho; ++oy)
            for (std::size_t ox = 0; ox < Wo; ++ox)
                for (std::size_t o = 0; o < O; ++o) {
                    double sum = bias(0, o);
                    for (std::size_t ky = 0; ky < w.kernel_h; ++ky)
                        for (std::size_t kx = 0; kx < w.kernel_w; ++kx)
                            for (std::size_t c = 0; c < in.channels; ++c) {
                                const long iy = long(oy * w.stride + ky) - long(w.padding);
                                const long ix = long(ox * w.stride + kx) - long(w.padding);
                                if (iy < 0 || ix < 0 || iy >= long(in.height) || ix >= long(in.width)) continue;
                                sum += x(b, (std::size_t(iy) * in.width + std::size_t(ix)) * in.channels + c) *
                                       K((ky * w.kernel_w + kx) * in.channels + c, o);
                            }
                    y(b, (oy * Wo + ox) * O + o) = sum;
                }
    return y;
}

double dot(const Matrix<double>& a, const Matrix<double>& b) {
    double s = 0;
    for (std::size_t i = 0; i < a.size(); ++i) s += a.data()[i] * b.data()[i];
    return s;
}

struct Geometry {
    ImageShape image;
    ConvWindow window;
    std::size_t out_channels;
};

// Stride 1 and 2, padding 0 and 1, 1 and 3 channels, non-square images and kernels, and a
// stride that leaves one padding row over (28x28, 3x3, stride 2, padding 1: PyTorch's usual
// encoder layer, whose transposed convolution needs output padding 1).
const std::vector<Geometry> geometries{
    {{5, 4, 1}, {3, 3, 1, 0}, 2}, {{6, 8, 3}, {3, 3, 2, 1}, 4}, {{4, 6, 2}, {2, 2, 2, 0}, 3},
    {{3, 4, 1}, {2, 3, 1, 1}, 2}, {{28, 28, 1}, {3, 3, 2, 1}, 2}, {{7, 10, 3}, {4, 4, 3, 2}, 5},
};

}  // namespace

BOOST_AUTO_TEST_SUITE(convolution)

BOOST_AUTO_TEST_CASE(conv2d_matches_the_definition) {
    std::mt19937_64 rng(3);
    for (const Geometry& g : geometries) {
        const std::size_t rows = g.window.kernel_h * g.window.kernel_w * g.image.channels;
        const Matrix<double> x = random_matrix(rng, 3, g.image.size());
        const Matrix<double> K = random_matrix(rng, rows, g.out_channels), bias = random_matrix(rng, 1, g.out_channels);
        Tape<double> t;
        const Var<double> y = conv2d(t.constant(x), g.image, t.constant(K), t.constant(bias), g.window);
        const Matrix<double> expected = direct_conv2d(x, g.image, K, bias, g.window);
        BOOST_TEST_CONTEXT(to_string(g.image) << ", " << detail::describe(g.window)) {
            BOOST_REQUIRE(y.shape() == shape_of(expected));
            BOOST_TEST(xt::amax(xt::abs(y.value() - expected))() < 1e-12);
        }
    }
}

BOOST_AUTO_TEST_CASE(conv_transpose2d_is_the_adjoint_of_conv2d) {
    // <conv2d(x, K), y> = <x, conv_transpose2d(y, K)> for every x, y: the transposed
    // convolution is the transpose of the linear map, output padding included.
    std::mt19937_64 rng(4);
    for (const Geometry& g : geometries) {
        const ImageShape map = conv2d_output_shape("test", g.image, g.window, g.out_channels);
        const std::size_t extra = (g.image.height + 2 * g.window.padding - g.window.kernel_h) % g.window.stride;
        BOOST_TEST_CONTEXT(to_string(g.image) << " -> " << to_string(map) << ", " << detail::describe(g.window)) {
            const std::size_t rows = g.window.kernel_h * g.window.kernel_w * g.image.channels;
            const Matrix<double> x = random_matrix(rng, 2, g.image.size()), y = random_matrix(rng, 2, map.size());
            const Matrix<double> K = random_matrix(rng, rows, g.out_channels);
            Tape<double> t;
            const Var<double> cx = conv2d(t.constant(x), g.image, t.constant(K), g.window);
            BOOST_REQUIRE((g.image.width + 2 * g.window.padding - g.window.kernel_w) % g.window.stride == extra);
            const Var<double> ty = conv_transpose2d(t.constant(y), map, t.constant(K), g.window, extra);
            BOOST_REQUIRE(ty.shape() == shape_of(x));
            const double left = dot(cx.value(), y), right = dot(x, ty.value());
            BOOST_TEST(std::abs(left - right) <= 1e-12 * (std::abs(left) + 1));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_tied_kernel_gets_the_sum_of_both_contributions) {
    // L = mse(conv_transpose2d(sigmoid(conv2d(X, K) + b1), K') + b2, X), once with K' = K (one
    // parameter read twice) and once with K' a separate copy of K: dK_tied = dK + dK'.
    std::mt19937_64 rng(5);
    const ImageShape image{6, 8, 2};
    const ConvWindow w{3, 3, 2, 1};
    const ImageShape map = conv2d_output_shape("test", image, w, 3);
    const Matrix<double> X = random_matrix(rng, 4, image.size(), 0, 1);
    Parameter<double> K{"K", random_matrix(rng, 18, 3)}, copy{"K'", K.value};
    Parameter<double> b1{"b1", random_matrix(rng, 1, 3)}, b2{"b2", random_matrix(rng, 1, 2)};
    auto loss = [&](Tape<double>& t, Parameter<double>& encoder, Parameter<double>& decoder) {
        const Var<double> h = sigmoid(conv2d(t.constant(X), image, t.parameter(encoder), t.parameter(b1), w));
        return mse(conv_transpose2d(h, map, t.parameter(decoder), t.parameter(b2), w, 1), X);
    };
    Tape<double> t;
    K.zero_grad();
    t.backward(loss(t, K, K));
    const Matrix<double> tied = K.grad;
    Tape<double> u;
    K.zero_grad();
    copy.zero_grad();
    u.backward(loss(u, K, copy));
    BOOST_TEST(xt::amax(xt::abs(copy.grad))() > 1e-3);  // the decoder's share is not negligible
    BOOST_TEST(xt::amax(xt::abs(tied - (K.grad + copy.grad)))() < 1e-14);
    // And both agree with finite differences.
    for (const GradcheckResult& r : gradcheck<double>([&](Tape<double>& tape) { return loss(tape, K, K); }, {&K, &b1, &b2}))
        BOOST_TEST(r.passed, r.parameter << ": max relative error " << r.max_rel_error);
}

BOOST_AUTO_TEST_CASE(bad_geometry_is_refused_at_record_time_with_every_size_named) {
    Tape<double> t;
    const Matrix<double> x = Matrix<double>::from_shape({2, 784});
    Parameter<double> K{"K", Matrix<double>::from_shape({9, 4})}, bias{"b", Matrix<double>::from_shape({1, 4})};
    auto conv = [&](ImageShape image, ConvWindow w) { conv2d(t.constant(x), image, t.parameter(K), t.parameter(bias), w); };
    expect_error<ShapeError>([&] { conv({28, 28, 1}, {31, 31, 1, 1}); },
                             {"conv2d", "28x28x1", "31x31 kernel", "exceeds the padded input height 30"});
    expect_error<ShapeError>([&] { conv({28, 28, 1}, {3, 3, 2, 0}); },
                             {"conv2d", "stride 2 does not divide", "(28 - 3)", "last 1 input pixel"});
    expect_error<ShapeError>([&] { conv({14, 14, 4}, {3, 3, 1, 1}); },
                             {"conv2d", "kernel has shape (9x4)", "from 4 image channel(s)", "(36x4)"});
    expect_error<ShapeError>([&] { conv({28, 27, 1}, {3, 3, 1, 1}); },
                             {"conv2d", "(2x784)", "28x27x1", "H·W·C = 756"});
    expect_error<ShapeError>([&] { conv({28, 28, 1}, {3, 3, 1, 3}); }, {"padding 3 must be smaller than the kernel"});
    expect_error<ShapeError>([&] { conv({28, 28, 1}, {3, 3, 0, 1}); }, {"stride must be positive"});
    Parameter<double> wrong_bias{"b", Matrix<double>::from_shape({1, 3})};
    expect_error<ShapeError>([&] { conv2d(t.constant(x), {28, 28, 1}, t.parameter(K), t.parameter(wrong_bias), {3, 3, 1, 1}); },
                             {"conv2d", "bias has shape (1x3)", "(1x4)"});
    const Matrix<double> map = Matrix<double>::from_shape({2, 14 * 14 * 4});
    Parameter<double> K5{"K5", Matrix<double>::from_shape({9, 5})};
    expect_error<ShapeError>([&] { conv_transpose2d(t.constant(map), {14, 14, 4}, t.parameter(K5), ConvWindow{3, 3, 2, 1}, 1); },
                             {"conv_transpose2d", "14x14x4", "kernel has shape (9x5)", "one column per map channel (4)"});
    expect_error<ShapeError>([&] { conv_transpose2d(t.constant(map), {14, 14, 4}, t.parameter(K), ConvWindow{3, 3, 2, 1}, 2); },
                             {"conv_transpose2d", "output padding 2", "smaller than the stride"});
    expect_error<ShapeError>([&] { conv_transpose2d(t.constant(map), {7, 7, 4}, t.parameter(K), ConvWindow{3, 3, 2, 1}, 1); },
                             {"conv_transpose2d", "(2x784)", "7x7x4", "H·W·C = 196"});
}

BOOST_AUTO_TEST_CASE(the_conv_autoencoder_restores_the_image_geometry) {
    using namespace tg::models;
    // 28x28 -> 14x14 -> 7x7 -> 4x4 under 3x3 stride 2 padding 1: two layers need output
    // padding 1, one none; the reconstruction has the input's shape whatever the code.
    std::mt19937_64 rng(7);
    const Matrix<double> X = random_matrix(rng, 2, 784, 0, 1);
    for (std::size_t code : {std::size_t(0), std::size_t(10)}) {
        ConvAutoencoder<double> model(ConvAutoencoderConfig{.channels = {2, 3, 4}, .code = code});
        BOOST_TEST((model.output_padding == std::vector<std::size_t>{1, 1, 0}));
        Tape<double> t;
        BOOST_TEST((model.reconstruct(t, X).shape() == Shape{2, 784}));
        BOOST_TEST(model.code(t, X).cols() == (code ? code : 4 * 4 * 4));
    }
    // A geometry the decoder could not undo is refused when the model is built.
    expect_error<std::invalid_argument>([] { ConvAutoencoder<double>(ConvAutoencoderConfig{.image = {28, 27, 1}}); },
                                        {"layer 1", "28x27x1", "1 row(s) but 0 column(s)"});
}

BOOST_AUTO_TEST_SUITE_END()
