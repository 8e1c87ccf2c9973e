#pragma once
// The linear-autoencoder-finds-PCA study: data, training and the comparison of the decoder's
// SVD with PCA, shared by the lae_pca tool and its test. PCA itself is tg::fit_pca.
#include <tapegrad/models/linear_ae.hpp>

#include <tapegrad/pca.hpp>

#include <xtensor-blas/xlinalg.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <numbers>
#include <random>

namespace tg::studies {

// Each column minus its mean.
inline Matrix<double> centre(const Matrix<double>& x) {
    const std::size_t rows = x.shape()[0], cols = x.shape()[1];
    std::vector<double> mean(cols, 0.0);
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) mean[j] += x(i, j);
    Matrix<double> c = x;
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) c(i, j) -= mean[j] / double(rows);
    return c;
}

// N samples in D dimensions whose population variances are ratio^i (i = 0 .. D-1) along the
// columns of a random rotation: every eigengap is a fixed fraction of its eigenvalue, so each
// principal direction is well determined. Centred.
inline Matrix<double> synthetic_data(std::size_t N, std::size_t D, double ratio, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> gauss;
    Matrix<double> g = make_matrix<double>(D, D), z = make_matrix<double>(N, D);
    for (double& v : g) v = gauss(rng);
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = 0; j < D; ++j) z(i, j) = gauss(rng) * std::pow(ratio, 0.5 * double(j));
    const auto [q, r] = xt::linalg::qr(g);  // q: a random orthogonal D x D
    Matrix<double> Q = q, x = make_matrix<double>(N, D);
    blas::gemm(z, false, Q, true, x, 1.0, 0.0);
    return centre(x);
}

template <class T>
Matrix<T> cast(const Matrix<double>& x) {
    Matrix<T> y = make_matrix<T>(x.shape()[0], x.shape()[1]);
    std::transform(x.begin(), x.end(), y.begin(), [](double v) { return T(v); });
    return y;
}

// The decoder's singular values at the optimum (models/linear_ae.hpp): sqrt(1 - lambda D / mu_i)
// with mu_i = s_i^2 / N; 0 where lambda is too strong for that direction to survive.
inline std::vector<double> closed_form_sigma(const Pca& pca, double lambda, std::size_t D) {
    std::vector<double> out;
    for (double s : pca.singular_values)
        out.push_back(std::sqrt(std::max(0.0, 1.0 - lambda * double(D) * double(pca.samples) / (s * s))));
    return out;
}

struct Comparison {
    std::vector<double> principal_cosines;  // cosines of the principal angles, largest first
    std::vector<double> abs_cos;            // |cos| of recovered direction i with PCA direction i
    std::vector<double> sigma, sigma_expected;
    double max_angle_deg = 0, min_abs_cos = 0, median_abs_cos = 0, max_sigma_error = 0;
    Matrix<double> directions;  // k x D, the decoder's left singular vectors, signs matched to PCA
};

// Left singular vectors of the decoder W2 (D x k) against the PCA components (k x D).
template <class T>
Comparison compare_decoder(const Matrix<T>& W2, const Pca& pca, double lambda) {
    const std::size_t D = W2.shape()[0], k = W2.shape()[1];
    Matrix<double> w = make_matrix<double>(D, k);
    std::copy(W2.begin(), W2.end(), w.begin());
    const auto [u_, s_, vt_] = xt::linalg::svd(w, false, true);  // descending singular values
    Matrix<double> U = u_;                                       // D x k
    Comparison c;
    c.sigma.assign(s_.begin(), s_.end());
    c.sigma_expected = closed_form_sigma(pca, lambda, D);
    c.directions = make_matrix<double>(k, D);
    Matrix<double> m = make_matrix<double>(k, k);  // C U: its singular values are the cosines
    blas::gemm(pca.components, false, U, false, m, 1.0, 0.0);
    for (std::size_t i = 0; i < k; ++i) {
        const double sign = m(i, i) < 0 ? -1.0 : 1.0;
        c.abs_cos.push_back(std::abs(m(i, i)));
        for (std::size_t d = 0; d < D; ++d) c.directions(i, d) = sign * U(d, i);
        c.max_sigma_error = std::max(c.max_sigma_error, std::abs(c.sigma[i] - c.sigma_expected[i]));
    }
    const auto [mu, ms, mvt] = xt::linalg::svd(m, false, false);
    (void)mu, (void)mvt;
    c.principal_cosines.assign(ms.begin(), ms.end());
    const double smallest = std::clamp(c.principal_cosines.back(), -1.0, 1.0);
    c.max_angle_deg = std::acos(smallest) * 180.0 / std::numbers::pi;
    std::vector<double> sorted = c.abs_cos;
    std::sort(sorted.begin(), sorted.end());
    c.min_abs_cos = sorted.front();
    c.median_abs_cos = sorted[sorted.size() / 2];
    return c;
}

struct LaeTrainOptions {
    long steps = 2000;         // optimizer updates
    double lr = 1e-2;          // Adam, decayed geometrically ...
    double lr_final = 1e-4;    // ... to this at the last step: a constant rate would leave Adam
                               // jittering around the optimum, blurring the directions
    std::size_t batch = 0;     // rows per update (0: full batch)
    long eval_every = 0;       // call `on_eval` every this many updates (and at the end)
};

// Trains with Adam; the clock excludes the evaluations. `on_eval(step, train_seconds)`.
template <class T>
double train_lae(models::LinearAutoencoder<T>& model, const Matrix<T>& X, const LaeTrainOptions& o,
                 const std::function<void(long, double)>& on_eval = {}) {
    const std::size_t N = X.shape()[0], D = X.shape()[1];
    const std::size_t batch = o.batch == 0 || o.batch >= N ? N : o.batch;
    std::vector<Matrix<T>> batches;  // contiguous row blocks, copied once
    if (batch < N)
        for (std::size_t start = 0; start + batch <= N; start += batch) {
            batches.push_back(make_matrix<T>(batch, D));
            std::copy(X.data() + start * D, X.data() + (start + batch) * D, batches.back().data());
        }
    Tape<T> tape;
    Adam<T> adam(model.parameters(), o.lr);
    const double decay = o.steps > 1 ? std::pow(o.lr_final / o.lr, 1.0 / double(o.steps - 1)) : 1.0;
    double seconds = 0;
    for (long s = 0; s < o.steps; ++s) {
        const auto start = std::chrono::steady_clock::now();
        adam.learning_rate = o.lr * std::pow(decay, double(s));
        tape.clear();
        adam.zero_grad();
        Var<T> loss = model.loss(tape, batches.empty() ? X : batches[std::size_t(s) % batches.size()]);
        tape.backward(loss);
        adam.step();
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (on_eval && ((o.eval_every > 0 && (s + 1) % o.eval_every == 0) || s + 1 == o.steps)) on_eval(s + 1, seconds);
    }
    return seconds;
}

}  // namespace tg::studies
