// The dropout op (tapegrad/ops/dropout.hpp): its gradients against finite differences to second
// order and its rule against its fast backward; the mask's statistics; a sample's mask row is
// the same wherever it sits in the batch, rows differ, and seed, epoch and layer each change the
// draws; evaluation is exactly the identity; p = 0 and p = 1; a step allocates nothing after
// warm-up; misuse is named.
#include "alloc_counter.hpp"
#include "test_helpers.hpp"

#include <tapegrad/gradcheck.hpp>
#include <tapegrad/tapegrad.hpp>

#include <boost/test/unit_test.hpp>
#include <xtensor/xview.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <numeric>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

using namespace tg;

namespace {

Matrix<double> random_matrix(std::size_t r, std::size_t c, std::uint64_t seed, double lo = -1, double hi = 1) {
    std::mt19937_64 rng(seed);
    return tg_test::random_matrix<double>(rng, r, c, lo, hi);
}

std::vector<std::uint64_t> ids_from(std::uint64_t first, std::size_t n) {
    std::vector<std::uint64_t> ids(n);
    std::iota(ids.begin(), ids.end(), first);
    return ids;
}

double max_abs_diff(const Matrix<double>& a, const Matrix<double>& b) { return xt::amax(xt::abs(a - b))(); }

// Row r of m, as a 1 x cols matrix (a 1-D view would not convert to a Matrix).
Matrix<double> row_of(const Matrix<double>& m, std::size_t r) { return xt::view(m, xt::range(r, r + 1), xt::all()); }

std::size_t count_zeros(const Matrix<double>& m) { return std::size_t(std::count(m.begin(), m.end(), 0.0)); }

// 1 where m is 0, else 0: a mask's dropped elements.
Matrix<double> zeros_of(const Matrix<double>& m) { return xt::where(xt::equal(m, 0.0), 1.0, 0.0); }

// Dropout's value on data X (train mode).
Matrix<double> dropped(const Matrix<double>& X, double p, const DropoutKey& key) {
    Tape<double> tape;
    return tg::dropout(tape.constant(X), p, key, Mode::train).value();
}

// The fraction of elements where two masks (read as dropout of all-ones data) disagree.
double disagreement(const Matrix<double>& a, const Matrix<double>& b) {
    std::size_t differ = 0;
    for (std::size_t i = 0; i < a.size(); ++i) differ += (a.data()[i] == 0) != (b.data()[i] == 0);
    return double(differ) / double(a.size());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dropout)

// A tied sigmoid autoencoder with dropout on its code: first derivatives against central
// differences, then phi = <V, dL/dW> (second derivatives, through the rule) against central
// differences of phi, and the rule's gradient against the fast backward's.
BOOST_AUTO_TEST_CASE(gradients_match_finite_differences_to_second_order) {
    const Matrix<double> X = random_matrix(6, 5, 1, 0, 1), V = random_matrix(3, 5, 5);
    Parameter<double> W("W", random_matrix(3, 5, 2)), b("b", random_matrix(1, 3, 3)), c("c", random_matrix(1, 5, 4));
    const std::vector<std::uint64_t> ids = ids_from(40, 6);
    const DropoutKey key{.seed = 11, .epoch = 2, .sample_ids = ids, .layer = 1};
    auto loss = [&](Tape<double>& t) {
        Var<double> h = sigmoid(affine(t.constant(X), t.parameter(W), t.parameter(b)));
        Var<double> d = tg::dropout(h, 0.4, key, Mode::train);
        return mse(affine(d, t.parameter(W), t.parameter(c), Trans::N), X);
    };
    auto phi = [&](Tape<double>& t) {
        Var<double> g = grad(loss(t), {t.parameter(W)}, {.create_graph = true})[0];
        return sum(g * t.constant(V));
    };
    for (const auto& [what, f] : {std::pair<const char*, std::function<Var<double>(Tape<double>&)>>{"loss", loss},
                                  {"<V, dL/dW>", phi}})
        for (const GradcheckResult& r : gradcheck<double>(f, {&W, &b, &c}))
            BOOST_TEST(r.passed, what << ", " << r.parameter << ": rel err " << r.max_rel_error);

    // Some code units are dropped and some kept, so the check saw both kinds (not all of one).
    Tape<double> tape;
    const Matrix<double> code = sigmoid(affine(tape.constant(X), tape.parameter(W), tape.parameter(b))).value();
    const Matrix<double> kept = dropped(xt::ones_like(code), 0.4, key);
    BOOST_TEST(count_zeros(kept) > 0u);
    BOOST_TEST(count_zeros(kept) < kept.size());

    // The rule in ops gives the fast backward's numbers.
    for (Parameter<double>* p : {&W, &b, &c}) {
        tape.clear();
        const Matrix<double> fast = grad(loss(tape), {tape.parameter(*p)})[0].value();
        tape.clear();
        const Matrix<double> rule = grad(loss(tape), {tape.parameter(*p)}, {.create_graph = true})[0].value();
        BOOST_TEST(max_abs_diff(fast, rule) <= 1e-12 * xt::amax(xt::abs(fast))(), p->name);
    }
}

// dx = dy ⊙ M exactly, M being the op's mask (y / x where x is all ones).
BOOST_AUTO_TEST_CASE(the_gradient_is_the_cotangent_times_the_mask) {
    const Matrix<double> X = random_matrix(4, 7, 6, 0.5, 1.5), G = random_matrix(4, 7, 7);
    const std::vector<std::uint64_t> ids = ids_from(3, 4);
    const DropoutKey key{.seed = 5, .epoch = 1, .sample_ids = ids};
    const Matrix<double> M = dropped(xt::ones_like(X), 0.3, key);
    Tape<double> tape;
    Var<double> x = tape.variable(X);
    Var<double> y = tg::dropout(x, 0.3, key, Mode::train);
    const Matrix<double> XM = X * M, GM = G * M;  // stored: a - X * M could be contracted into an fma
    BOOST_TEST(max_abs_diff(y.value(), XM) == 0.0);
    tape.backward(y, G);
    BOOST_TEST(max_abs_diff(x.grad(), GM) == 0.0);
}

// Over 10^6 elements: the kept fraction is 1 - p and kept values are x / (1 - p), so the mean
// of y is the mean of x (both to within 5 standard deviations); the rows differ.
BOOST_AUTO_TEST_CASE(kept_fraction_and_mean_are_those_of_the_distribution) {
    const std::size_t rows = 1000, cols = 1000;
    const double p = 0.3, n = double(rows * cols);
    const Matrix<double> X = random_matrix(rows, cols, 8, 0.5, 1.5);
    const std::vector<std::uint64_t> ids = ids_from(1000, rows);
    const Matrix<double> Y = dropped(X, p, {.seed = 3, .epoch = 4, .sample_ids = ids});
    std::size_t kept = 0;
    double worst = 0;  // largest deviation of a kept value from x / (1 - p)
    for (std::size_t i = 0; i < Y.size(); ++i)
        if (Y.data()[i] != 0) {
            ++kept;
            worst = std::max(worst, std::abs(Y.data()[i] - X.data()[i] / (1 - p)));
        }
    BOOST_TEST(std::abs(double(kept) / n - (1 - p)) < 5 * std::sqrt(p * (1 - p) / n));
    BOOST_TEST(worst < 1e-15);
    const double mean_x = xt::mean(X)(), mean_y = xt::mean(Y)();
    const double sd = std::sqrt(xt::mean(X * X)() * p / (1 - p) / n);  // of mean(y) given x
    BOOST_TEST(std::abs(mean_y - mean_x) < 5 * sd, "mean y " << mean_y << ", mean x " << mean_x << ", sd " << sd);
    const Matrix<double> zero = zeros_of(Y);
    std::size_t rows_equal_to_first = 0;
    for (std::size_t r = 1; r < rows; ++r)
        rows_equal_to_first += max_abs_diff(row_of(zero, r), row_of(zero, 0)) == 0;
    BOOST_TEST(rows_equal_to_first == 0u);
}

// Permuting the rows (with their ids) permutes y's rows: a sample's mask row does not depend on
// its position; a batch of one sample gets that row too. Different samples get different rows.
BOOST_AUTO_TEST_CASE(a_sample_keeps_its_mask_row_wherever_it_sits) {
    const std::size_t rows = 8, cols = 37;  // odd: the last column is half of a 16-bit pair
    const Matrix<double> X = random_matrix(rows, cols, 9, 0.5, 1.5);
    const std::vector<std::uint64_t> ids = ids_from(100, rows);
    const std::vector<std::size_t> perm{5, 2, 7, 0, 3, 6, 1, 4};
    Matrix<double> Xp = X;
    std::vector<std::uint64_t> idsp(rows);
    for (std::size_t r = 0; r < rows; ++r) {
        xt::view(Xp, r, xt::all()) = xt::view(X, perm[r], xt::all());
        idsp[r] = ids[perm[r]];
    }
    const DropoutKey key{.seed = 21, .epoch = 3, .layer = 2};
    DropoutKey k = key, kp = key;
    k.sample_ids = ids;
    kp.sample_ids = idsp;
    const Matrix<double> Y = dropped(X, 0.5, k), Yp = dropped(Xp, 0.5, kp);
    for (std::size_t r = 0; r < rows; ++r) {
        BOOST_TEST(max_abs_diff(row_of(Yp, r), row_of(Y, perm[r])) == 0.0, "row " << r);
        DropoutKey one = key;
        one.sample_ids = std::span(ids).subspan(r, 1);
        BOOST_TEST(max_abs_diff(dropped(row_of(X, r), 0.5, one), row_of(Y, r)) == 0.0, "row " << r);
    }
    const Matrix<double> zero = zeros_of(Y);
    for (std::size_t r = 1; r < rows; ++r)
        BOOST_TEST(max_abs_diff(row_of(zero, r), row_of(zero, 0)) > 0.0, "row " << r);
}

// Each field of the key changes the draws (about 2p(1-p) = 1/2 of the elements disagree at
// p = 1/2, as for independent masks). Layer 0 draws random::dropout_mask_rows's mask with the
// seed itself, layer L with the seed + L 0x9E3779B97F4A7C15 the header documents.
BOOST_AUTO_TEST_CASE(seed_epoch_and_layer_each_change_the_mask) {
    const Matrix<double> ones = xt::ones<double>({std::size_t(64), std::size_t(64)});
    const std::vector<std::uint64_t> ids = ids_from(7, 64);
    const DropoutKey base{.seed = 17, .epoch = 5, .sample_ids = ids, .layer = 0};
    const Matrix<double> M = dropped(ones, 0.5, base);
    DropoutKey other_seed = base, other_epoch = base, other_layer = base;
    other_seed.seed = 18;
    other_epoch.epoch = 6;
    other_layer.layer = 1;
    for (const auto& [what, key] : {std::pair{"seed", other_seed}, {"epoch", other_epoch}, {"layer", other_layer}}) {
        const double d = disagreement(M, dropped(ones, 0.5, key));
        BOOST_TEST((d > 0.45 && d < 0.55), what << ": masks disagree in " << d << " of the elements");
    }
    Matrix<double> expected;
    random::dropout_mask_rows<double>(ids, 17, 5, 0.5, 64, expected);
    BOOST_TEST(max_abs_diff(M, expected) == 0.0);
    DropoutKey layer3 = base;
    layer3.layer = 3;
    random::dropout_mask_rows<double>(ids, 17 + 3 * 0x9E3779B97F4A7C15ull, 5, 0.5, 64, expected);
    BOOST_TEST(max_abs_diff(dropped(ones, 0.5, layer3), expected) == 0.0);
}

// Evaluation returns x itself: the same node, the same values, and dy as its gradient, with the
// training key or with none (it needs no sample ids).
BOOST_AUTO_TEST_CASE(evaluation_is_exactly_the_identity) {
    const Matrix<double> X = random_matrix(3, 4, 10), G = random_matrix(3, 4, 11);
    const std::vector<std::uint64_t> ids = ids_from(0, 3);
    for (const DropoutKey& key : {DropoutKey{.seed = 1, .sample_ids = ids}, DropoutKey{}}) {
        Tape<double> tape;
        Var<double> x = tape.variable(X);
        Var<double> y = tg::dropout(x, 0.5, key, Mode::eval);
        BOOST_TEST(y.node == x.node);
        BOOST_TEST(max_abs_diff(y.value(), X) == 0.0);
        tape.backward(y, G);
        BOOST_TEST(max_abs_diff(x.grad(), G) == 0.0);
    }
}

// p = 0 keeps everything (value and gradient exactly); p = 1 drops everything, and neither its
// value nor its gradient holds a NaN (1 / (1 - p) is never taken).
BOOST_AUTO_TEST_CASE(p_zero_is_the_identity_and_p_one_gives_zeros) {
    const Matrix<double> X = random_matrix(5, 9, 12), G = random_matrix(5, 9, 13);
    const std::vector<std::uint64_t> ids = ids_from(0, 5);
    for (double p : {0.0, 1.0}) {
        Tape<double> tape;
        tape.anomaly_mode = true;  // a NaN or Inf in the value or a gradient throws
        Var<double> x = tape.variable(X);
        Var<double> y = tg::dropout(x, p, {.seed = 2, .sample_ids = ids}, Mode::train);
        tape.backward(y, G);
        const Matrix<double> zeros = xt::zeros_like(X);
        BOOST_TEST(max_abs_diff(y.value(), p == 0 ? X : zeros) == 0.0, "p = " << p);
        BOOST_TEST(max_abs_diff(x.grad(), p == 0 ? G : zeros) == 0.0, "p = " << p);
        BOOST_TEST(all_finite(x.grad()), "p = " << p);
    }
}

// The float instantiation computes the same op: x times random.hpp's float mask.
BOOST_AUTO_TEST_CASE(float_is_x_times_the_float_mask) {
    std::mt19937_64 rng(14);
    const Matrix<float> X = tg_test::random_matrix<float>(rng, 6, 10);
    const std::vector<std::uint64_t> ids = ids_from(50, 6);
    Tape<float> tape;
    Var<float> y = tg::dropout(tape.constant(X), 0.25, {.seed = 9, .epoch = 1, .sample_ids = ids}, Mode::train);
    Matrix<float> M;
    random::dropout_mask_rows<float>(ids, 9, 1, 0.25, 10, M);
    const Matrix<float> expected = X * M;  // stored: y - X * M could be contracted into an fma
    BOOST_TEST(xt::amax(xt::abs(y.value() - expected))() == 0.0f);
}

// After warm-up, a step through dropout allocates nothing: the mask reuses its node's buffer.
BOOST_AUTO_TEST_CASE(a_step_allocates_nothing_after_warm_up) {
    std::mt19937_64 rng(16);
    const Matrix<float> X = tg_test::random_matrix<float>(rng, 32, 20);
    Parameter<float> W("W", tg_test::random_matrix<float>(rng, 10, 20)), b("b", tg_test::random_matrix<float>(rng, 1, 10));
    const std::vector<std::uint64_t> ids = ids_from(0, 32);
    Tape<float> tape;
    auto step = [&](std::uint64_t epoch) {
        tape.clear();
        W.zero_grad();
        b.zero_grad();
        Var<float> h = sigmoid(affine(tape.constant(X), tape.parameter(W), tape.parameter(b)));
        tape.backward(sum(tg::dropout(h, 0.5, {.seed = 1, .epoch = epoch, .sample_ids = ids}, Mode::train)));
    };
    for (std::uint64_t epoch = 0; epoch < 3; ++epoch) step(epoch);
    const std::size_t before = tg::testing::allocation_count();
    for (std::uint64_t epoch = 3; epoch < 13; ++epoch) step(epoch);
    const std::size_t n = tg::testing::allocation_count() - before;
    BOOST_TEST(n == 0u, n << " allocations in 10 steps");
}

BOOST_AUTO_TEST_CASE(misuse_is_named) {
    const Matrix<double> X = random_matrix(3, 4, 15);
    const std::vector<std::uint64_t> two = ids_from(0, 2);
    Tape<double> tape;
    Var<double> x = tape.constant(X);
    tg_test::expect_error<ShapeError>([&] { tg::dropout(x, 0.5, {.sample_ids = two}, Mode::train); },
                                      {"dropout", "(3x4)", "(2x4)"});
    for (Mode mode : {Mode::train, Mode::eval})
        for (double p : {-0.1, 1.5, std::nan("")})
            tg_test::expect_error<std::invalid_argument>([&] { tg::dropout(x, p, {.sample_ids = two}, mode); },
                                                         {"dropout", "probability"});
}

BOOST_AUTO_TEST_SUITE_END()
