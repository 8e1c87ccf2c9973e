#pragma once
// Principal component analysis, the linear baseline every undercomplete autoencoder is measured
// against: the best rank-k reconstruction in squared error (Eckart-Young), so a linear
// autoencoder with k code units can at best match it.
//
// Two ways to compute the same thing (LAPACK through xtensor-blas):
//  * covariance_eigh: eigendecomposition of the D x D matrix Xc^T Xc (syevd). Cheap when there
//    are many more samples than dimensions (Fashion-MNIST: 60000 x 784 costs one gemm and a
//    784 x 784 eigenproblem), but squares the condition number, so tiny singular values lose
//    relative accuracy (around sqrt(machine epsilon) times the largest).
//  * svd: thin SVD of the centred data Xc = U S V^T (gesdd). Accurate for every singular value,
//    but needs a column-major copy of the data plus U (about 3 x N x D doubles).
// Both return components sorted by decreasing variance with a deterministic sign, so the two
// methods, and two runs, give the same numbers up to rounding.
#include "tapegrad/tensor.hpp"

#include <cstddef>
#include <vector>

namespace tg {

enum class PcaMethod { covariance_eigh, svd };

struct Pca {
    Matrix<double> mean;        // 1 x D, the training data's mean row
    Matrix<double> components;  // k x D, orthonormal rows, sorted by decreasing variance; the
                                // largest-magnitude entry of each row is positive
    std::vector<double> singular_values;     // top k singular values of the centred data
    std::vector<double> explained_variance;  // s_i^2 / (N - 1): the variance along component i
    double total_variance = 0;  // sum over all D dimensions of the sample variance, for ratios
    std::size_t samples = 0;    // N, the number of rows fitted
};

// Fits k components to the rows of X (N x D). Throws std::invalid_argument if N < 2, k == 0 or
// k > min(N, D), and std::runtime_error if LAPACK does not converge or the data is not finite.
Pca fit_pca(const Matrix<double>& X, std::size_t k, PcaMethod method = PcaMethod::covariance_eigh);

// The codes (X - mean) C^T, N x k.
template <class T>
Matrix<T> pca_encode(const Pca& pca, const Matrix<T>& X);

// Projection onto the components and back: (X - mean) C^T C + mean, N x D.
template <class T>
Matrix<T> pca_reconstruct(const Pca& pca, const Matrix<T>& X);

extern template Matrix<float> pca_encode<float>(const Pca&, const Matrix<float>&);
extern template Matrix<double> pca_encode<double>(const Pca&, const Matrix<double>&);
extern template Matrix<float> pca_reconstruct<float>(const Pca&, const Matrix<float>&);
extern template Matrix<double> pca_reconstruct<double>(const Pca&, const Matrix<double>&);

}  // namespace tg
