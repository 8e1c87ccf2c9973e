// Helpers built on gradients of gradients (jacobian.hpp): the stacked Jacobian against the
// closed form, the Hessian-vector product, the random-projection estimate (unbiased, keyed by
// sample), and the contractive penalty three ways: closed form == generic exact Jacobian.
#include "test_helpers.hpp"

#include <tapegrad/jacobian.hpp>
#include <tapegrad/models/contractive.hpp>
#include <tapegrad/tapegrad.hpp>

#include <xtensor-blas/xlinalg.hpp>
#include <xtensor/xview.hpp>

#include <boost/test/unit_test.hpp>

#include <numeric>
#include <random>

using namespace tg;

namespace {

Matrix<double> random_matrix(std::size_t r, std::size_t c, std::uint64_t seed, double lo = -1, double hi = 1) {
    std::mt19937_64 rng(seed);
    return tg_test::random_matrix<double>(rng, r, c, lo, hi);
}

double relative(const Matrix<double>& a, const Matrix<double>& b) {
    return std::sqrt(double(xt::sum(xt::square(a - b))())) / std::sqrt(double(xt::sum(xt::square(b))()));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(jacobians)

BOOST_AUTO_TEST_CASE(stacked_jacobian_of_a_layer_is_diag_of_slopes_times_w) {
    const std::size_t B = 3, D = 5, K = 4;
    const Matrix<double> X = random_matrix(B, D, 1), Wv = random_matrix(K, D, 2), bv = random_matrix(1, K, 3);
    Parameter<double> W("W", Wv), b("b", bv);
    Tape<double> tape;
    auto f = [&](Var<double> x) { return sigmoid(affine(x, tape.parameter(W), tape.parameter(b))); };
    const Matrix<double> J = jacobian(f, tape.constant(X), K).value();
    BOOST_TEST(J.shape()[0] == K * B);
    const Matrix<double> z = xt::linalg::dot(X, xt::transpose(Wv)) + bv;
    const Matrix<double> s = 1.0 / (1.0 + xt::exp(-z));
    double worst = 0;
    for (std::size_t k = 0; k < K; ++k)
        for (std::size_t r = 0; r < B; ++r)
            for (std::size_t i = 0; i < D; ++i)
                worst = std::max(worst, std::abs(J(k * B + r, i) - s(r, k) * (1 - s(r, k)) * Wv(k, i)));
    BOOST_TEST(worst < 1e-15);
}

BOOST_AUTO_TEST_CASE(hessian_vector_product_matches_central_differences_of_the_gradient) {
    const Matrix<double> X = random_matrix(6, 4, 4), V = random_matrix(3, 4, 5);
    Parameter<double> W("W", random_matrix(3, 4, 6));
    auto gradient_at = [&](const Matrix<double>& w, Matrix<double>* hv) {
        W.value = w;
        Tape<double> t;
        Var<double> L = sum(square(tanh(matmul(t.constant(X), t.parameter(W), Trans::N, Trans::T))));
        if (hv) *hv = hvp(L, {t.parameter(W)}, {t.constant(V)}, {.retain_graph = true})[0].value();
        return Matrix<double>(grad(L, {t.parameter(W)}, {.retain_graph = true})[0].value());
    };
    const Matrix<double> W0 = W.value;
    Matrix<double> hv;
    gradient_at(W0, &hv);
    const double e = 1e-5;
    const Matrix<double> central = (gradient_at(W0 + e * V, nullptr) - gradient_at(W0 - e * V, nullptr)) / (2 * e);
    BOOST_TEST(relative(hv, central) < 1e-8);
}

BOOST_AUTO_TEST_CASE(projection_estimate_is_unbiased_and_keyed_by_sample) {
    const std::size_t B = 4, D = 6, K = 5;
    const Matrix<double> X = random_matrix(B, D, 7);
    Parameter<double> W("W", random_matrix(K, D, 8));
    Tape<double> tape;
    auto f = [&](Var<double> x) { return tanh(matmul(x, tape.parameter(W), Trans::N, Trans::T)); };
    const double exact = sum(square(jacobian(f, tape.constant(X), K))).value()(0, 0);
    std::vector<std::uint64_t> ids(B);
    std::iota(ids.begin(), ids.end(), std::uint64_t{100});
    Matrix<double> u;
    // The mean of many epochs' estimates converges on the exact value (standard error ~1.5 %).
    double total = 0;
    const int epochs = 2000;
    for (int e = 0; e < epochs; ++e) {
        tape.clear();
        unit_sphere_rows<double>(ids, 3, std::uint64_t(e), K, u);
        total += jacobian_norm_sq_estimate(f, tape.constant(X), u).value()(0, 0);
    }
    BOOST_TEST(std::abs(total / epochs - exact) / exact < 0.06, "mean " << total / epochs << " exact " << exact);
    // Directions are unit vectors, and a sample's direction does not depend on its row.
    unit_sphere_rows<double>(ids, 3, 9, K, u);
    BOOST_TEST(std::abs(double(xt::sum(xt::square(xt::view(u, 2, xt::all())))()) - 1.0) < 1e-12);
    std::vector<std::uint64_t> reversed(ids.rbegin(), ids.rend());
    Matrix<double> v;
    unit_sphere_rows<double>(reversed, 3, 9, K, v);
    BOOST_TEST(xt::amax(xt::abs(xt::view(u, 0, xt::all()) - xt::view(v, B - 1, xt::all())))() == 0.0);
    unit_sphere_rows<double>(ids, 3, 10, K, v);  // another epoch, other directions
    BOOST_TEST(xt::amax(xt::abs(u - v))() > 0.1);
}

// The one-layer closed form is the fast path of the generic exact penalty: the same value and
// the same parameter gradients (second derivatives through the recorded Jacobian), for every
// encoder activation, tied and untied.
BOOST_AUTO_TEST_CASE(contractive_closed_form_equals_the_generic_exact_penalty) {
    const Matrix<double> X = random_matrix(6, 7, 9, 0, 1);
    for (const ActivationEntry<double>& a : activation_table<double>)
        for (bool tied : {true, false}) {
            const models::AutoencoderConfig c{.input = 7, .code = 4, .encoder = a.id, .tied = tied, .seed = 3};
            models::ContractiveAutoencoder<double> closed(c, 0.7), exact(c, 0.7, models::JacobianPenalty::exact);
            auto value_and_gradients = [&](models::ContractiveAutoencoder<double>& m) {
                Tape<double> t;
                for (Parameter<double>* p : m.parameters()) p->zero_grad();
                Var<double> L = m.loss(t, X);
                t.backward(L);
                std::vector<Matrix<double>> out{Matrix<double>(L.value())};
                for (Parameter<double>* p : m.parameters()) out.push_back(p->grad);
                return out;
            };
            const auto a1 = value_and_gradients(closed), a2 = value_and_gradients(exact);
            for (std::size_t k = 0; k < a1.size(); ++k) {
                const double scale = std::max(1e-300, double(xt::amax(xt::abs(a1[k]))()));
                BOOST_TEST(double(xt::amax(xt::abs(a1[k] - a2[k]))()) / scale < 1e-12,
                           a.name << (tied ? " tied" : " untied") << " entry " << k);
            }
        }
}

// The stacked Jacobian's products take the kernels of ops/patterned.hpp (a repeated left operand:
// one block's product; unit rows: one column per row). Against the same products with the
// pattern hidden (the numbers read densely): the value and every gradient, numeric and recorded,
// for both ways of reading the right operand.
BOOST_AUTO_TEST_CASE(patterned_products_equal_the_dense_products) {
    const std::size_t B = 3, K = 4, D = 5;
    for (const bool transposed : {false, true}) {
        const Trans tb = transposed ? Trans::T : Trans::N;
        const Matrix<double> Rv = random_matrix(K * B, K, 7), Wv = transposed ? random_matrix(D, K, 8) : random_matrix(K, D, 8),
                             Xv = random_matrix(B, D, 10), Vv = transposed ? random_matrix(K, D, 11) : random_matrix(D, K, 11),
                             bv = random_matrix(1, K, 12), Gv = random_matrix(K * B, D, 9), Hv = random_matrix(K * B, K, 13);
        const Matrix<double> ones = xt::ones<double>({K * B, D});
        // unit rows: (U * R) op(W), U the unit cotangents; repeated: affine(tile(X), V, b)
        auto run = [&](bool patterned, bool create_graph) {
            Tape<double> t;
            Var<double> R = t.variable(Rv, "R"), W = t.variable(Wv, "W"), X = t.variable(Xv, "X"), V = t.variable(Vv, "V"),
                        b = t.variable(bv, "b");
            Var<double> U = unit_cotangents(t, B, K), S = tile_rows(X, K);
            if (!patterned) {
                U = t.constant(U.value(), "dense U");
                S = S * t.constant(ones);
            }
            Var<double> A = U * R;
            Var<double> C = matmul(A, W, Trans::N, tb);
            Var<double> Y = affine(S, V, b, tb);
            BOOST_TEST((A.node->pattern == (patterned ? Pattern::unit_rows : Pattern::dense)));
            BOOST_TEST((Y.node->pattern == (patterned ? Pattern::repeated : Pattern::dense)));
            Var<double> L = sum(C * t.constant(Gv)) + sum(Y * t.constant(Hv));
            std::vector<Matrix<double>> out{C.value(), Y.value()};
            for (const Var<double>& g : grad(L, {R, W, X, V, b}, {.create_graph = create_graph})) out.push_back(g.value());
            return out;
        };
        for (const bool create_graph : {false, true}) {
            const auto fast = run(true, create_graph), dense = run(false, create_graph);
            for (std::size_t k = 0; k < fast.size(); ++k)
                BOOST_TEST(relative(fast[k], dense[k]) < 1e-14, (transposed ? "op(B) = B^T" : "op(B) = B")
                                                                  << (create_graph ? ", recorded" : ", numeric") << ", entry " << k);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()
