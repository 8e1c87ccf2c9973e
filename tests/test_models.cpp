// The autoencoder models: each one learns on real data, the penalties compute what their
// formulas say (checked against values worked out here independently of the tape), and the
// configuration and bookkeeping promises hold (tying, freezing, corruption, bad configs).
#include <boost/test/unit_test.hpp>

#include "test_helpers.hpp"

#include <tapegrad/models/all.hpp>
#include "tapegrad/io/idx.hpp"
#include <tapegrad/blas.hpp>
#include <tapegrad/parallel.hpp>

#include <xtensor/xview.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

using namespace tg;
using namespace tg::models;

namespace {

// The first 256 test images: real pixel statistics (many exact zeros, skewed intensities)
// while keeping a step cheap enough for the sanitizer build.
const Matrix<float>& fashion_slice() {
    static const Matrix<float> slice = [] {
        constexpr std::size_t n = 256;
        const io::Dataset d = io::load_fashion_mnist("t10k");
        const std::size_t cols = d.images.shape()[1];
        Matrix<float> m = Matrix<float>::from_shape({n, cols});
        std::copy(d.images.data(), d.images.data() + n * cols, m.data());
        return m;
    }();
    return slice;
}

struct Trajectory { double first = 0, last = 0; };

// A few dozen full-batch steps of plain SGD (a wrong gradient scale changes the trajectory,
// which Adam's per-coordinate normalisation would hide); `last` is measured after the final
// update.
template <class T>
Trajectory train(Model<T>& model, const Matrix<T>& x, double lr, int steps = 30) {
    Tape<T> tape;
    SGD<T> opt(model.parameters(), lr);
    Trajectory r;
    for (int s = 0; s < steps; ++s) {
        tape.clear();
        opt.zero_grad();
        Var<T> loss = model.loss(tape, x);
        if (s == 0) r.first = double(loss.value()(0, 0));
        tape.backward(loss);
        opt.step();
    }
    tape.clear();
    r.last = double(model.loss(tape, x).value()(0, 0));
    BOOST_TEST_MESSAGE(model.describe() << ": " << r.first << " -> " << r.last << " (" << r.last / r.first << " of the first)");
    return r;
}

// 30 SGD steps at rate `lr` bring the loss to `ratio` of its first value, within 0.02: the
// ratios were measured (2-core AVX2 EPYC, float32; deterministic, and float32 rounding on other
// machines moves them far less than the band). The rates sit where the curves are steep: with the
// one-layer models' reconstruction gradient doubled, the plain, sparse and denoising ratios moved
// by 0.07 to 0.25 and failed; the contractive one, whose first loss is mostly its penalty, stayed
// inside the band (its penalty has its own check against finite differences).
void check_learns(Model<float>& model, double lr, double ratio) {
    const Trajectory r = train(model, fashion_slice(), lr);
    BOOST_TEST_CONTEXT(model.describe()) {
        BOOST_TEST(std::isfinite(r.last));
        BOOST_TEST(std::abs(r.last / r.first - ratio) <= 0.02, "ratio " << r.last / r.first << ", measured " << ratio);
    }
}

AutoencoderConfig fashion_config() { return AutoencoderConfig{.input = 784, .code = 16, .seed = 5}; }

double scalar(Var<double> v) { return v.value()(0, 0); }

using tg_test::random_matrix;

// Biases start at zero and weights small; move everything so slopes and signs are generic.
void perturb(Model<double>& m, std::mt19937_64& rng, double amount) {
    std::uniform_real_distribution<double> u(-amount, amount);
    for (Parameter<double>* p : m.parameters())
        for (double& v : p->value) v += u(rng);
}

// sum_b ||dcode_b/dx_b||_F^2 of the model's code, the Jacobian taken column by column by central
// differences through the code alone.
double finite_difference_jacobian_norm_sq(Model<double>& m, const Matrix<double>& x) {
    auto code_of = [&](const Matrix<double>& input) {
        Tape<double> t;
        return Matrix<double>(m.code(t, input).value());
    };
    const double step = 1e-5;
    double fd = 0;
    for (std::size_t b = 0; b < x.shape()[0]; ++b)
        for (std::size_t i = 0; i < x.shape()[1]; ++i) {
            Matrix<double> up = x, down = x;
            up(b, i) += step;
            down(b, i) -= step;
            const Matrix<double> hu = code_of(up), hd = code_of(down);
            for (std::size_t j = 0; j < hu.shape()[1]; ++j) fd += std::pow((hu(b, j) - hd(b, j)) / (2 * step), 2);
        }
    return fd;
}

// The encoder's input as recorded on the tape: the denoising model's corrupted batch.
const Matrix<float>& recorded_input(const Tape<float>& tape) {
    for (std::size_t i = 0; i < tape.size(); ++i)
        if (std::strcmp(tape.node(i).op, "x") == 0) return *tape.node(i).value;
    BOOST_FAIL("no input node named 'x' on the tape");
    throw std::logic_error("unreachable");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(models)

// ---- every kind learns -------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(undercomplete_tied_learns) {
    Autoencoder<float> m(fashion_config());
    check_learns(m, 0.5, 0.7194);
}

BOOST_AUTO_TEST_CASE(undercomplete_untied_learns) {
    AutoencoderConfig c = fashion_config();
    c.tied = false;
    Autoencoder<float> m(c);
    check_learns(m, 0.5, 0.7878);
}

BOOST_AUTO_TEST_CASE(cross_entropy_with_sigmoid_decoder_learns) {
    AutoencoderConfig c = fashion_config();
    c.sigmoid_decoder = true;
    c.loss = Reconstruction::binary_cross_entropy;
    Autoencoder<float> m(c);
    check_learns(m, 10.0, 0.7935);
}

BOOST_AUTO_TEST_CASE(sparse_l1_learns) {
    SparseAutoencoder<float> m(fashion_config(), SparsityPenalty::l1, 1e-3);
    check_learns(m, 0.5, 0.7849);
}

BOOST_AUTO_TEST_CASE(sparse_kl_learns) {
    SparseAutoencoder<float> m(fashion_config(), SparsityPenalty::kl, 0.01, 0.05);
    check_learns(m, 0.5, 0.7093);
}

BOOST_AUTO_TEST_CASE(denoising_masking_learns) {
    DenoisingAutoencoder<float> m(fashion_config(), Corruption{Corruption::Kind::masking, 0.25, 7});
    check_learns(m, 0.5, 0.7183);
}

BOOST_AUTO_TEST_CASE(denoising_gaussian_learns) {
    DenoisingAutoencoder<float> m(fashion_config(), Corruption{Corruption::Kind::gaussian, 0.1, 7});
    check_learns(m, 0.5, 0.7189);
}

BOOST_AUTO_TEST_CASE(contractive_learns) {
    ContractiveAutoencoder<float> m(fashion_config(), 0.1);
    check_learns(m, 0.5, 0.3649);
}

BOOST_AUTO_TEST_CASE(stacked_learns) {
    for (bool tied : {true, false}) {
        StackedAutoencoder<float> m({784, 32, 16}, Activation::sigmoid, tied, false, 5);
        check_learns(m, 0.5, tied ? 0.6752 : 0.6591);
    }
}

// The energy models learn by score matching like the denoising one (noise σ 0.1 here; the
// softplus energy retraces the Gaussian denoising model's trajectory above, 0.7189: same seeds,
// same noise, the same model derived).
BOOST_AUTO_TEST_CASE(energy_learns) {
    for (EnergyKind kind : {EnergyKind::softplus, EnergyKind::quadratic}) {
        EnergyAutoencoder<float> m({.sizes = {784, 16}, .kind = kind, .sigma = 0.1, .seed = 5});
        check_learns(m, 0.5, kind == EnergyKind::softplus ? 0.7189 : 0.4724);
    }
    EnergyAutoencoder<float> deep({.sizes = {784, 32, 16}, .sigma = 0.1, .seed = 5});
    check_learns(deep, 0.5, 0.5483);
}

// −ELBO in nats per image, 546 -> 406: a per-example sum, so a small rate.
BOOST_AUTO_TEST_CASE(vae_learns) {
    VariationalAutoencoder<float> m({.input = 784, .hidden = 64, .code = 8, .seed = 5});
    check_learns(m, 0.01, 0.7443);
}

// The conv models at rate 0.5 (at 2 they diverge): 0.214 -> 0.128.
BOOST_AUTO_TEST_CASE(conv_learns) {
    for (bool tied : {true, false}) {
        ConvAutoencoder<float> m(ConvAutoencoderConfig{.channels = {4, 8}, .code = 16, .tied = tied, .seed = 5});
        check_learns(m, 0.5, tied ? 0.5983 : 0.5954);
    }
}

// The conv model trains on exactly the noise the dense denoising model draws for the same
// samples: one corruption, keyed by (seed, epoch, sample, pixel), whatever the model.
BOOST_AUTO_TEST_CASE(conv_denoising_sees_the_dense_models_noise) {
    for (Corruption::Kind kind : {Corruption::Kind::masking, Corruption::Kind::gaussian}) {
        const Corruption c{kind, 0.3, 21};
        ConvAutoencoder<float> conv(ConvAutoencoderConfig{.channels = {2}, .code = 4, .corruption = c});
        DenoisingAutoencoder<float> dense(fashion_config(), c);
        Tape<float> tc, td;
        conv.loss(tc, fashion_slice());
        dense.loss(td, fashion_slice());
        BOOST_TEST((recorded_input(tc) == recorded_input(td)));
        BOOST_TEST((recorded_input(tc) != fashion_slice()));
    }
}

// A corruption the models do not know (an out-of-range kind) or an out-of-range amount is
// refused when the model is made, naming the model and the problem: never silently another
// noise (the conv model once fell through to Gaussian noise for any kind but masking).
BOOST_AUTO_TEST_CASE(unknown_or_out_of_range_corruption_is_refused_by_every_noisy_model) {
    const auto refused = [](const Corruption& c, const std::string& expected) {
        for (int model = 0; model < 2; ++model) {
            try {
                if (model == 0) DenoisingAutoencoder<float>(fashion_config(), c);
                else ConvAutoencoder<float>(ConvAutoencoderConfig{.channels = {2}, .code = 4, .corruption = c});
                BOOST_ERROR((model ? "conv" : "denoising") << " accepted " << expected);
            } catch (const std::invalid_argument& e) {
                BOOST_TEST(std::string(e.what()).find(model ? "conv autoencoder: " : "denoising: ") == 0, e.what());
                BOOST_TEST(std::string(e.what()).find(expected) != std::string::npos, e.what());
            }
        }
    };
    refused(Corruption{Corruption::Kind(7), 0.1, 1}, "unknown corruption kind 7 (masking or gaussian)");
    refused(Corruption{Corruption::Kind::masking, 1.5, 1}, "masking probability must lie in [0, 1], got 1.5");
    refused(Corruption{Corruption::Kind::gaussian, -0.1, 1}, "Gaussian noise sigma must not be negative");
}

// ---- contractive penalty ------------------------------------------------------------------

// jacobian_norm_sq recorded on the tape vs. sum_b ||dh_b/dx_b||_F^2 with the Jacobian taken
// column by column by central differences through the encoder alone.
BOOST_AUTO_TEST_CASE(contractive_penalty_matches_finite_difference_jacobian) {
    constexpr std::size_t D = 5, K = 3, B = 4;
    std::mt19937_64 rng(17);
    for (Activation a : {Activation::sigmoid, Activation::tanh, Activation::softplus})
    for (JacobianPenalty how : {JacobianPenalty::closed_form, JacobianPenalty::exact}) {
        BOOST_TEST_CONTEXT("encoder " << name(a) << (how == JacobianPenalty::exact ? ", exact Jacobian" : ", closed form")) {
            const double lambda = 0.7;
            ContractiveAutoencoder<double> m(AutoencoderConfig{.input = D, .code = K, .encoder = a, .seed = 3}, lambda, how);
            perturb(m, rng, 0.8);
            const Matrix<double> x = random_matrix(rng, B, D, -1, 1);

            const double fd = finite_difference_jacobian_norm_sq(m, x);

            Tape<double> t;
            const double recorded = scalar(m.jacobian_norm_sq(t, x, m.encode(t, t.constant(x)).h));
            BOOST_TEST(recorded > 1e-3);  // a vanishing penalty would make the comparison empty
            BOOST_TEST(recorded == fd, boost::test_tools::tolerance(1e-6));

            // And the loss adds it as lambda / B times the batch sum.
            t.clear();
            const double total = scalar(m.loss(t, x));
            t.clear();
            const double reconstruction = scalar(m.reconstruction_loss(t, x, x));
            BOOST_TEST(total - reconstruction == lambda / B * fd, boost::test_tools::tolerance(1e-6));
        }
    }
}

// The deep contractive code: Contractive puts the exact penalty on any model's code map. Its
// loss minus the wrapped model's loss is lambda / B times sum_b ||dcode_b/dx_b||_F^2, the
// Jacobian taken here by central differences through the code alone, for a stacked encoder and
// for a convolutional one (4x4 images, a dense code of 3).
BOOST_AUTO_TEST_CASE(deep_contractive_penalty_matches_finite_difference_jacobian) {
    constexpr std::size_t B = 3, D = 16;
    std::mt19937_64 rng(19);
    const Matrix<double> x = random_matrix(rng, B, D, 0, 1);
    ConvAutoencoderConfig conv{.image = {4, 4, 1}, .channels = {2}, .code = 3, .activation = Activation::tanh, .seed = 4};
    std::vector<std::pair<std::unique_ptr<Model<double>>, std::size_t>> encoders;
    encoders.emplace_back(std::make_unique<StackedAutoencoder<double>>(std::vector<std::size_t>{D, 5, 3}, Activation::sigmoid,
                                                                       true, false, 4), 3);
    encoders.emplace_back(std::make_unique<ConvAutoencoder<double>>(conv), 3);
    for (auto& [base, units] : encoders) {
        BOOST_TEST_CONTEXT(base->describe()) {
            perturb(*base, rng, 0.5);
            const double lambda = 0.3;
            Model<double>* inner = base.get();
            const double fd = finite_difference_jacobian_norm_sq(*inner, x);
            BOOST_TEST(fd > 1e-3);
            Tape<double> t;
            const double without = scalar(inner->loss(t, x));
            Contractive<double> penalised(std::move(base), units, lambda, JacobianPenalty::exact, 5);
            t.clear();
            BOOST_TEST(scalar(penalised.loss(t, x)) - without == lambda / B * fd, boost::test_tools::tolerance(1e-6));
        }
    }
    tg_test::expect_error<std::invalid_argument>(
        [] {
            Contractive<double>(std::make_unique<StackedAutoencoder<double>>(std::vector<std::size_t>{4, 2}, Activation::sigmoid,
                                                                             true, false, 1),
                                2, 0.1, JacobianPenalty::closed_form, 1);
        },
        {"closed-form penalty needs the one-layer encoder", "exact penalty or the estimate"});
}

// ---- tied weights -------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(tied_model_lists_w_once) {
    AutoencoderConfig c{.input = 6, .code = 3};
    Autoencoder<double> tied(c);
    const auto p = tied.parameters();
    BOOST_TEST(p.size() == 3u);
    BOOST_TEST(std::count(p.begin(), p.end(), &tied.W) == 1);
    c.tied = false;
    Autoencoder<double> untied(c);
    BOOST_TEST(untied.parameters().size() == 4u);
}

BOOST_AUTO_TEST_CASE(tied_weight_is_one_graph_node_with_two_consumers) {
    Autoencoder<double> m(AutoencoderConfig{.input = 6, .code = 3});
    const Matrix<double> x = zeros<double>(2, 6);
    Tape<double> tape;
    m.loss(tape, x);
    const std::string dot = to_dot(tape);
    BOOST_TEST_MESSAGE(dot);

    // Node ids labelled "W", and the ops each edge leaving them feeds.
    std::vector<std::string> w_nodes;
    std::map<std::string, std::vector<std::string>> consumers;
    std::map<std::string, std::string> op_of;
    const std::regex node(R"(\s+(n\d+) \[label="([^\\"]*)\\n)"), edge(R"(\s+(n\d+) -> (n\d+);)");
    std::smatch s;
    for (std::sregex_iterator it(dot.begin(), dot.end(), node), end; it != end; ++it) {
        op_of[(*it)[1]] = (*it)[2];
        if ((*it)[2] == "W") w_nodes.push_back((*it)[1]);
    }
    for (std::sregex_iterator it(dot.begin(), dot.end(), edge), end; it != end; ++it)
        consumers[(*it)[1]].push_back(op_of[(*it)[2]]);

    BOOST_TEST_REQUIRE(w_nodes.size() == 1u, "expected one W node in the graph, found " << w_nodes.size());
    const std::vector<std::string> expected{"affine", "affine"};
    BOOST_TEST(consumers[w_nodes[0]] == expected, boost::test_tools::per_element());
}

// ---- denoising ----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(masking_zeroes_about_p_of_the_inputs) {
    const double p = 0.3;
    DenoisingAutoencoder<float> m(AutoencoderConfig{.input = 100, .code = 4},
                                  Corruption{Corruption::Kind::masking, p, 11});
    Matrix<float> ones = Matrix<float>::from_shape({200, 100});
    ones.fill(1.0f);
    Tape<float> tape;
    m.loss(tape, ones);
    const Matrix<float>& c = recorded_input(tape);
    std::size_t zeros = 0, kept = 0;
    for (float v : c) {
        zeros += v == 0.0f;
        kept += v == 1.0f;
    }
    BOOST_TEST(zeros + kept == c.size());  // entries are dropped or passed through, nothing else
    // 20,000 Bernoulli draws: sd of the fraction is 0.0032; 0.02 is > 6 sd.
    BOOST_TEST(std::abs(double(zeros) / double(c.size()) - p) < 0.02);
}

BOOST_AUTO_TEST_CASE(gaussian_noise_has_the_configured_sigma) {
    DenoisingAutoencoder<float> m(AutoencoderConfig{.input = 100, .code = 4},
                                  Corruption{Corruption::Kind::gaussian, 0.2, 11});
    Matrix<float> x = Matrix<float>::from_shape({200, 100});
    x.fill(0.5f);
    Tape<float> tape;
    m.loss(tape, x);
    double s = 0, s2 = 0;
    for (float v : recorded_input(tape)) s += v - 0.5, s2 += (v - 0.5) * (v - 0.5);
    const double n = double(x.size()), mean = s / n;
    BOOST_TEST(std::abs(mean) < 0.01);                                // sd of the mean: 0.0014
    BOOST_TEST(std::abs(std::sqrt(s2 / n - mean * mean) - 0.2) < 0.01);  // sd of the sd: 0.001
}

BOOST_AUTO_TEST_CASE(same_seed_gives_the_same_masks_and_losses) {
    const Matrix<float>& x = fashion_slice();
    const Corruption noise{Corruption::Kind::masking, 0.25, 21};
    DenoisingAutoencoder<float> a(fashion_config(), noise), b(fashion_config(), noise);
    Corruption other = noise;
    other.seed = 22;
    DenoisingAutoencoder<float> c(fashion_config(), other);
    Tape<float> ta, tb, tc;
    for (int step = 0; step < 3; ++step) {
        ta.clear(), tb.clear(), tc.clear();
        const double la = a.loss(ta, x).value()(0, 0), lb = b.loss(tb, x).value()(0, 0);
        c.loss(tc, x);
        BOOST_TEST(la == lb);
        BOOST_TEST((recorded_input(ta) == recorded_input(tb)));
        BOOST_TEST((recorded_input(ta) != recorded_input(tc)));
    }
}

// The corruption of a sample is a function of (seed, epoch, sample id, element): the same
// sample gets the same noise wherever it sits in a batch, in a batch of any size, whatever the
// BLAS thread count, and different noise in another epoch.
BOOST_AUTO_TEST_CASE(a_samples_corruption_does_not_depend_on_its_batch) {
    const Matrix<float>& all = fashion_slice();
    for (auto kind : {Corruption::Kind::masking, Corruption::Kind::gaussian}) {
        DenoisingAutoencoder<float> m(fashion_config(), Corruption{kind, 0.3, 17});
        // 48 rows of 784: 37,632 elements, enough for two parts, so the 2-thread run below really
        // splits (with 12 rows it ran inline on one thread; checked below).
        constexpr std::size_t B = 48;
        Matrix<float> x = Matrix<float>::from_shape({B, all.shape()[1]}), reversed = x;
        std::vector<std::uint64_t> ids(B), reversed_ids(B);
        for (std::size_t r = 0; r < B; ++r) {
            ids[r] = 1000 + 7 * r;
            reversed_ids[B - 1 - r] = ids[r];
            std::copy(all.data() + r * x.shape()[1], all.data() + (r + 1) * x.shape()[1], x.data() + r * x.shape()[1]);
            std::copy(all.data() + r * x.shape()[1], all.data() + (r + 1) * x.shape()[1],
                      reversed.data() + (B - 1 - r) * x.shape()[1]);
        }
        Matrix<float> a, b, head, other_epoch, two_threads;
        BOOST_REQUIRE(m.corrupt(Batch<float>(x, ids, 3), a));
        m.corrupt(Batch<float>(reversed, reversed_ids, 3), b);
        const Matrix<float> first5 = xt::view(x, xt::range(0, 5), xt::all());
        m.corrupt(Batch<float>(first5, std::span<const std::uint64_t>(ids).first(5), 3), head);
        m.corrupt(Batch<float>(x, ids, 4), other_epoch);
        tg::blas::set_num_threads(2);
        BOOST_TEST(tg::parallel::parts_for(x.size(), tg::parallel::min_elements_per_part) == 2);
        m.corrupt(Batch<float>(x, ids, 3), two_threads);
        tg::blas::set_num_threads(1);
        const std::size_t d = x.shape()[1];
        for (std::size_t r = 0; r < B; ++r) {
            BOOST_TEST(std::equal(a.data() + r * d, a.data() + (r + 1) * d, b.data() + (B - 1 - r) * d), "row " << r);
            if (r < 5) BOOST_TEST(std::equal(a.data() + r * d, a.data() + (r + 1) * d, head.data() + r * d), "row " << r);
        }
        BOOST_TEST((a == two_threads));
        BOOST_TEST((a != other_epoch));
        BOOST_TEST((a != x));
    }
}

BOOST_AUTO_TEST_CASE(denoising_target_is_the_clean_input) {
    const Matrix<float>& x = fashion_slice();
    // p = 0: nothing corrupted, so the loss is the plain autoencoder's with the same weights.
    DenoisingAutoencoder<float> none(fashion_config(), Corruption{Corruption::Kind::masking, 0.0, 3});
    Autoencoder<float> plain(fashion_config());
    Tape<float> t1, t2;
    BOOST_TEST(none.loss(t1, x).value()(0, 0) == plain.loss(t2, x).value()(0, 0));

    // p = 0.5: the loss is the reconstruction of the corrupted input against the clean one.
    DenoisingAutoencoder<float> half(fashion_config(), Corruption{Corruption::Kind::masking, 0.5, 3});
    t1.clear(), t2.clear();
    const double denoising = half.loss(t1, x).value()(0, 0);
    const Matrix<float> corrupted = recorded_input(t1);
    const double vs_clean = plain.reconstruction_loss(t2, corrupted, x).value()(0, 0);
    t2.clear();
    const double vs_corrupted = plain.reconstruction_loss(t2, corrupted, corrupted).value()(0, 0);
    BOOST_TEST(denoising == vs_clean);
    BOOST_TEST(std::abs(denoising - vs_corrupted) > 1e-3 * denoising);
}

// ---- sparse penalties ---------------------------------------------------------------------

// The whole loss worked out by hand from the parameters: tied, tanh encoder (so |h| differs
// from h), linear decoder, mse.
BOOST_AUTO_TEST_CASE(sparse_penalties_match_hand_computation) {
    constexpr std::size_t D = 6, K = 3, B = 4;
    std::mt19937_64 rng(5);
    const Matrix<double> x = random_matrix(rng, B, D, 0, 1);
    for (SparsityPenalty kind : {SparsityPenalty::l1, SparsityPenalty::kl}) {
        const double strength = 0.3, rho = 0.1;
        const Activation act = kind == SparsityPenalty::l1 ? Activation::tanh : Activation::sigmoid;
        SparseAutoencoder<double> m(AutoencoderConfig{.input = D, .code = K, .encoder = act}, kind, strength, rho);
        perturb(m, rng, 0.5);
        const Matrix<double>&W = m.W.value, &b1 = m.b1.value, &b2 = m.b2.value;

        double h[B][K], mse = 0, l1 = 0, kl = 0;
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t j = 0; j < K; ++j) {
                double z = b1(0, j);
                for (std::size_t i = 0; i < D; ++i) z += x(b, i) * W(j, i);
                h[b][j] = act == Activation::tanh ? std::tanh(z) : 1 / (1 + std::exp(-z));
                l1 += std::abs(h[b][j]);
            }
        for (std::size_t b = 0; b < B; ++b)
            for (std::size_t i = 0; i < D; ++i) {
                double r = b2(0, i);
                for (std::size_t j = 0; j < K; ++j) r += h[b][j] * W(j, i);
                mse += (r - x(b, i)) * (r - x(b, i)) / double(B * D);
            }
        for (std::size_t j = 0; j < K; ++j) {
            double q = 0;
            for (std::size_t b = 0; b < B; ++b) q += h[b][j] / B;
            kl += rho * std::log(rho / q) + (1 - rho) * std::log((1 - rho) / (1 - q));
        }
        const double penalty = kind == SparsityPenalty::l1 ? strength / B * l1 : strength * kl;

        Tape<double> t;
        BOOST_TEST(scalar(m.loss(t, x)) == mse + penalty, boost::test_tools::tolerance(1e-12));
        t.clear();
        BOOST_TEST(scalar(m.reconstruction_loss(t, x, x)) == mse, boost::test_tools::tolerance(1e-12));
    }
}

// The weight decay and the linear model's "sum" penalty add what they say: lambda times the
// squared Frobenius norms of the weights, summed here from the values (the untied decoder's
// too). The same model without the penalty gives the rest of the loss.
BOOST_AUTO_TEST_CASE(weight_penalties_match_hand_computation) {
    std::mt19937_64 rng(31);
    const Matrix<double> x = random_matrix(rng, 4, 6, 0, 1);
    auto squares = [](const Parameter<double>& p) {
        double s = 0;
        for (double v : p.value) s += v * v;
        return s;
    };
    auto penalty_of = [&](Model<double>& with, Model<double>& without) {
        perturb(with, rng, 0.5);
        const auto from = with.parameters(), to = without.parameters();
        for (std::size_t k = 0; k < to.size(); ++k) to[k]->value = from[k]->value;
        Tape<double> t;
        const double penalised = scalar(with.loss(t, x));
        t.clear();
        return penalised - scalar(without.loss(t, x));
    };
    for (bool tied : {true, false}) {
        BOOST_TEST_CONTEXT((tied ? "tied" : "untied")) {
            const AutoencoderConfig plain{.input = 6, .code = 3, .tied = tied, .seed = 2};
            AutoencoderConfig decayed = plain;
            decayed.weight_decay = 0.3;
            Autoencoder<double> with(decayed), without(plain);
            const double added = penalty_of(with, without);
            BOOST_TEST(added == 0.3 * (squares(with.W) + (tied ? 0.0 : squares(*with.W2))), boost::test_tools::tolerance(1e-10));
        }
    }
    LinearAutoencoder<double> with({.input = 6, .code = 2, .lambda = 0.2, .seed = 2}), without({.input = 6, .code = 2, .seed = 2});
    const double added = penalty_of(with, without);
    BOOST_TEST(added == 0.2 * (squares(with.W1) + squares(with.W2)), boost::test_tools::tolerance(1e-10));
}

// ---- freezing -----------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(frozen_weight_stays_while_the_rest_trains) {
    for (bool tied : {true, false}) {
        AutoencoderConfig c{.input = 20, .code = 4, .tied = tied};
        Autoencoder<double> m(c);
        m.W.frozen = true;
        std::vector<Matrix<double>> before;
        for (Parameter<double>* p : m.parameters()) before.push_back(p->value);
        std::mt19937_64 rng(1);
        train<double>(m, random_matrix(rng, 8, 20, 0, 1), 0.5, 5);
        const auto ps = m.parameters();
        for (std::size_t k = 0; k < ps.size(); ++k)
            BOOST_TEST_CONTEXT((tied ? "tied " : "untied ") << ps[k]->name) {
                if (ps[k] == &m.W) BOOST_TEST((ps[k]->value == before[k]));
                else BOOST_TEST((ps[k]->value != before[k]));
            }
        BOOST_TEST(std::all_of(m.W.grad.begin(), m.W.grad.end(), [](double g) { return g == 0; }));
    }
}

// ---- configuration errors -----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(bad_configurations_throw) {
    AutoencoderConfig bce{.input = 6, .code = 3, .loss = Reconstruction::binary_cross_entropy};
    BOOST_CHECK_THROW(Autoencoder<double>{bce}, std::invalid_argument);
    BOOST_CHECK_THROW((DenoisingAutoencoder<double>{bce, Corruption{}}), std::invalid_argument);
    bce.sigmoid_decoder = true;
    BOOST_CHECK_NO_THROW(Autoencoder<double>{bce});

    AutoencoderConfig tanh_encoder{.input = 6, .code = 3, .encoder = Activation::tanh};
    BOOST_CHECK_THROW((SparseAutoencoder<double>{tanh_encoder, SparsityPenalty::kl, 0.1}), std::invalid_argument);
    BOOST_CHECK_NO_THROW((SparseAutoencoder<double>{tanh_encoder, SparsityPenalty::l1, 0.1}));
}

BOOST_AUTO_TEST_SUITE_END()
