#include "tapegrad/pca.hpp"

#include "tapegrad/blas.hpp"

// xlinalg.hpp first: it includes xblas.hpp, which sets up the CBLAS declarations xlapack.hpp needs.
#include <xtensor-blas/xlinalg.hpp>
#include <xtensor-blas/xlapack.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace tg {
namespace {

using ColMajor = xt::xtensor<double, 2, xt::layout_type::column_major>;

Matrix<double> column_means(const Matrix<double>& X) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    // Accumulated in one pass over rows (cache-friendly for row-major data).
    std::vector<double> acc(d, 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        const double* row = X.data() + i * d;
        for (std::size_t j = 0; j < d; ++j) acc[j] += row[j];
    }
    Matrix<double> mean = make_matrix<double>(1, d);
    for (std::size_t j = 0; j < d; ++j) mean(0, j) = acc[j] / double(n);
    return mean;
}

// A sign is arbitrary for an eigenvector or singular vector, and LAPACK's choice differs between
// routines (and could differ between library versions): fix it so that results are comparable.
void canonical_sign(double* row, std::size_t d) {
    std::size_t arg = 0;
    for (std::size_t j = 1; j < d; ++j)
        if (std::abs(row[j]) > std::abs(row[arg])) arg = j;
    if (row[arg] < 0)
        for (std::size_t j = 0; j < d; ++j) row[j] = -row[j];
}

void fit_by_covariance(const Matrix<double>& X, const Matrix<double>& mean, std::size_t k, Pca& out) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    Matrix<double> centred = make_matrix<double>(n, d);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) centred(i, j) = X(i, j) - mean(0, j);
    // Xc^T Xc, not the covariance: the eigenvalues are then the squared singular values of Xc.
    Matrix<double> gram = make_matrix<double>(d, d);
    blas::gemm(centred, true, centred, false, gram, 1.0, 0.0);
    // syevd reads only one triangle; a symmetric row-major matrix is its own column-major form.
    auto [eigenvalues, eigenvectors] = xt::linalg::eigh(gram, 'L');  // ascending
    double trace = 0;
    for (std::size_t j = 0; j < d; ++j) trace += gram(j, j);
    out.total_variance = trace / double(n - 1);
    for (std::size_t c = 0; c < k; ++c) {
        const std::size_t col = d - 1 - c;
        // Rounding can leave an eigenvalue of a rank-deficient Gram matrix slightly negative.
        const double lambda = std::max(eigenvalues(col), 0.0);
        out.singular_values[c] = std::sqrt(lambda);
        for (std::size_t j = 0; j < d; ++j) out.components(c, j) = eigenvectors(j, col);
    }
}

void fit_by_svd(const Matrix<double>& X, const Matrix<double>& mean, std::size_t k, Pca& out) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    // Built column-major directly so LAPACK works on it in place (xt::linalg::svd would copy it
    // once more); jobz 'O' overwrites it with U instead of allocating U as well.
    ColMajor A = ColMajor::from_shape({n, d});
    double sum_sq = 0;
    for (std::size_t j = 0; j < d; ++j)
        for (std::size_t i = 0; i < n; ++i) {
            const double v = X(i, j) - mean(0, j);
            A(i, j) = v;
            sum_sq += v * v;
        }
    out.total_variance = sum_sq / double(n - 1);
    const char jobz = n >= d ? 'O' : 'S';
    auto [info, u, s, vt] = xt::lapack::gesdd(A, jobz);
    if (info != 0) throw std::runtime_error("fit_pca: the SVD did not converge (LAPACK gesdd info " + std::to_string(info) + ")");
    // With jobz 'O' and n >= d, V^T comes back in vt; with 'S' too. Rows of V^T are components.
    for (std::size_t c = 0; c < k; ++c) {
        out.singular_values[c] = s(c);
        for (std::size_t j = 0; j < d; ++j) out.components(c, j) = vt(c, j);
    }
}

template <class T>
Matrix<T> centred_copy(const Pca& pca, const Matrix<T>& X) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    if (d != pca.mean.shape()[1])
        throw std::invalid_argument("pca: data has " + std::to_string(d) + " columns but the PCA was fitted to " +
                                    std::to_string(pca.mean.shape()[1]));
    Matrix<T> c = make_matrix<T>(n, d);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) c(i, j) = X(i, j) - T(pca.mean(0, j));
    return c;
}

template <class T>
Matrix<T> components_as(const Pca& pca) {
    Matrix<T> c = make_matrix<T>(pca.components.shape()[0], pca.components.shape()[1]);
    std::transform(pca.components.begin(), pca.components.end(), c.begin(), [](double v) { return T(v); });
    return c;
}

}  // namespace

Pca fit_pca(const Matrix<double>& X, std::size_t k, PcaMethod method) {
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    if (n < 2) throw std::invalid_argument("fit_pca: needs at least 2 rows, got " + std::to_string(n));
    if (k == 0 || k > std::min(n, d))
        throw std::invalid_argument("fit_pca: asked for " + std::to_string(k) + " components of " + std::to_string(n) +
                                    " x " + std::to_string(d) + " data; need 1 <= k <= min(rows, columns)");
    for (double v : X)
        if (!std::isfinite(v)) throw std::runtime_error("fit_pca: the data contains NaN or Inf");
    Pca out;
    out.samples = n;
    out.mean = column_means(X);
    out.components = make_matrix<double>(k, d);
    out.singular_values.assign(k, 0.0);
    if (method == PcaMethod::svd)
        fit_by_svd(X, out.mean, k, out);
    else
        fit_by_covariance(X, out.mean, k, out);
    out.explained_variance.resize(k);
    for (std::size_t c = 0; c < k; ++c) {
        canonical_sign(&out.components(c, 0), d);
        out.explained_variance[c] = out.singular_values[c] * out.singular_values[c] / double(n - 1);
    }
    return out;
}

template <class T>
Matrix<T> pca_encode(const Pca& pca, const Matrix<T>& X) {
    const Matrix<T> centred = centred_copy(pca, X);
    const Matrix<T> C = components_as<T>(pca);
    Matrix<T> codes = make_matrix<T>(X.shape()[0], C.shape()[0]);
    blas::gemm(centred, false, C, true, codes, T(1), T(0));
    return codes;
}

template <class T>
Matrix<T> pca_reconstruct(const Pca& pca, const Matrix<T>& X) {
    const Matrix<T> codes = pca_encode(pca, X);
    const Matrix<T> C = components_as<T>(pca);
    const std::size_t n = X.shape()[0], d = X.shape()[1];
    Matrix<T> out = make_matrix<T>(n, d);
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < d; ++j) out(i, j) = T(pca.mean(0, j));
    blas::gemm(codes, false, C, false, out, T(1), T(1));
    return out;
}

template Matrix<float> pca_encode<float>(const Pca&, const Matrix<float>&);
template Matrix<double> pca_encode<double>(const Pca&, const Matrix<double>&);
template Matrix<float> pca_reconstruct<float>(const Pca&, const Matrix<float>&);
template Matrix<double> pca_reconstruct<double>(const Pca&, const Matrix<double>&);

}  // namespace tg
