// The classifier pieces: softmax_cross_entropy's value and record-time errors, the linear probe
// (it must separate what is separable and must not find structure in random labels), and the
// models' codes.
#include "tapegrad/train/probe.hpp"
#include "tapegrad/models/all.hpp"

#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>

using namespace tg;

namespace {

// Three classes of points around three centres in 5 dimensions; `noise` sets how much they overlap.
void blobs(std::size_t n, double noise, std::uint64_t seed, Matrix<float>& x, std::vector<std::int32_t>& labels) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g(0, noise);
    const double centres[3][5] = {{2, 0, 0, 1, 0}, {0, 2, 0, -1, 0}, {0, 0, 2, 0, 1}};
    x = make_matrix<float>(n, 5);
    labels.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        labels[i] = std::int32_t(i % 3);
        for (std::size_t j = 0; j < 5; ++j) x(i, j) = float(centres[i % 3][j] + g(rng));
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(probe)

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_is_the_mean_negative_log_likelihood) {
    Tape<double> t;
    const Matrix<double> z{{1.0, 2.0, 3.0}, {1000.0, 0.0, -1000.0}};  // the second row overflows a naive exp
    const Matrix<double> labels{{0}, {0}};
    const double row0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 1.0;
    const double row1 = 0.0;  // ln(e^1000 + ...) - 1000, to double precision
    const Var<double> loss = softmax_cross_entropy(t.constant(z), labels);
    BOOST_TEST(loss.value()(0, 0) == (row0 + row1) / 2, boost::test_tools::tolerance(1e-14));
}

BOOST_AUTO_TEST_CASE(softmax_cross_entropy_errors_name_the_problem) {
    Tape<float> t;
    const Matrix<float> z = make_matrix<float>(2, 3);
    auto message = [&](const Matrix<float>& labels) {
        try {
            softmax_cross_entropy(t.constant(z), labels);
        } catch (const ShapeError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    BOOST_TEST(message(Matrix<float>{{0}, {3}}).find("label 3.000000 of row 1 is not a class index in 0..2") != std::string::npos);
    BOOST_TEST(message(Matrix<float>{{0}, {-1}}).find("row 1") != std::string::npos);
    BOOST_TEST(message(Matrix<float>{{0.5f}, {1}}).find("row 0") != std::string::npos);
    BOOST_TEST(message(Matrix<float>{{0, 1}}).find("must have shape (2x1), not (1x2)") != std::string::npos, message(Matrix<float>{{0, 1}}));
    Parameter<float> p("labels", Matrix<float>{{0}, {1}});
    BOOST_CHECK_THROW(softmax_cross_entropy(t.constant(z), t.parameter(p)), ShapeError);
}

BOOST_AUTO_TEST_CASE(probe_separates_separable_classes) {
    Matrix<float> train, test;
    std::vector<std::int32_t> train_labels, test_labels;
    blobs(600, 0.3, 1, train, train_labels);
    blobs(300, 0.3, 2, test, test_labels);
    const train::ProbeResult r = train::linear_probe(train, train_labels, test, test_labels, 3);
    BOOST_TEST(r.test_accuracy >= 0.99);
    BOOST_TEST(r.train_accuracy >= 0.99);
    BOOST_TEST(r.features == 5u);
    BOOST_TEST(r.classes == 3u);
}

// Labels that have nothing to do with the features: the test accuracy must stay near chance (a
// probe that leaked test labels, or scored on the training set, would not).
BOOST_AUTO_TEST_CASE(probe_finds_nothing_in_random_labels) {
    Matrix<float> train, test;
    std::vector<std::int32_t> train_labels, test_labels;
    blobs(900, 0.3, 3, train, train_labels);
    blobs(900, 0.3, 4, test, test_labels);
    std::mt19937_64 rng(5);
    for (auto* labels : {&train_labels, &test_labels})
        for (std::int32_t& l : *labels) l = std::int32_t(rng() % 3);
    const train::ProbeResult r = train::linear_probe(train, train_labels, test, test_labels, 3);
    BOOST_TEST(r.test_accuracy > 0.25);
    BOOST_TEST(r.test_accuracy < 0.42);
}

BOOST_AUTO_TEST_CASE(probe_refuses_labels_that_do_not_fit) {
    Matrix<float> x;
    std::vector<std::int32_t> labels;
    blobs(30, 0.3, 1, x, labels);
    std::vector<std::int32_t> short_labels(labels.begin(), labels.end() - 1), bad = labels;
    bad[7] = 3;
    BOOST_CHECK_THROW(train::linear_probe(x, short_labels, x, labels, 3), std::invalid_argument);
    try {
        train::linear_probe(x, labels, x, bad, 3);
        BOOST_FAIL("a test label outside 0..2 was accepted");
    } catch (const std::invalid_argument& e) {
        BOOST_TEST(std::string(e.what()).find("test label 3 at row 7 is outside 0..2") != std::string::npos, e.what());
    }
}

BOOST_AUTO_TEST_CASE(codes_are_the_encoders_output_in_any_chunking) {
    models::Autoencoder<float> ae(models::AutoencoderConfig{.input = 6, .code = 4, .seed = 3});
    std::mt19937_64 rng(1);
    Matrix<float> x = make_matrix<float>(2500, 6);  // more than one chunk of 1000 rows
    for (float& v : x) v = float(std::uniform_real_distribution<double>(0, 1)(rng));
    const Matrix<float> codes = train::codes_of(ae, x);
    BOOST_REQUIRE(codes.shape()[0] == 2500u);
    BOOST_REQUIRE(codes.shape()[1] == 4u);
    Tape<float> t;
    const Matrix<float> whole = ae.code(t, x).value();
    BOOST_TEST(xt::amax(xt::abs(codes - whole))() <= 1e-6f);
    const Matrix<float> reconstructions = train::reconstructions_of(ae, x);
    BOOST_TEST(reconstructions.shape()[1] == 6u);
}

BOOST_AUTO_TEST_SUITE_END()
