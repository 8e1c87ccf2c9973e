#pragma once
// The study "Is the reconstruction a gradient field?" (docs/studies.md). A smooth vector field
// r: R^D -> R^D is the gradient of some scalar exactly when its Jacobian J = ∂r/∂x is symmetric
// everywhere. The one-layer tied sigmoid autoencoder's J = W^T diag(σ'(z)) W is symmetric; an
// energy model's J = I − ∇²E is too; other reconstructions need not be. Measured here: the
// relative asymmetry ‖J − J^T‖_F / ‖J‖_F at given inputs, and the spectrum of the symmetric part.
#include <tapegrad/jacobian.hpp>
#include <tapegrad/models/model.hpp>

#include <xtensor-blas/xlinalg.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

namespace tg::studies {

/// J_b = ∂r/∂x at each row x_b of x (D x D each, row k = ∂r_k/∂x), from the model's
/// reconstruction map: one stacked pass (tg::jacobian) per `chunk` rows.
template <class T>
std::vector<Matrix<T>> reconstruction_jacobians(models::Model<T>& model, const Matrix<T>& x, std::size_t chunk = 8) {
    const std::size_t rows = x.shape()[0], d = x.shape()[1];
    std::vector<Matrix<T>> out;
    Tape<T> tape;
    Matrix<T> part;
    for (std::size_t begin = 0; begin < rows; begin += chunk) {
        const std::size_t n = std::min(chunk, rows - begin);
        part = Matrix<T>::from_shape({n, d});
        std::copy(x.data() + begin * d, x.data() + (begin + n) * d, part.data());
        tape.clear();
        const Matrix<T>& stacked = jacobian([&](Var<T> s) { return model.reconstruction_map(tape, s); },
                                            tape.constant(part, "x"), d)
                                       .value();
        for (std::size_t b = 0; b < n; ++b) {
            Matrix<T> j = Matrix<T>::from_shape({d, d});
            for (std::size_t k = 0; k < d; ++k) std::copy_n(stacked.data() + (k * n + b) * d, d, j.data() + k * d);
            out.push_back(std::move(j));
        }
    }
    return out;
}

/// ‖J − J^T‖_F / ‖J‖_F (0 for a zero J).
template <class T>
double relative_asymmetry(const Matrix<T>& j) {
    const std::size_t d = j.shape()[0];
    double skew = 0, total = 0;
    for (std::size_t a = 0; a < d; ++a)
        for (std::size_t b = 0; b < d; ++b) {
            const double v = double(j(a, b)), diff = v - double(j(b, a));
            skew += diff * diff;
            total += v * v;
        }
    return total > 0 ? std::sqrt(skew / total) : 0.0;
}

/// The eigenvalues of the symmetric part (J + J^T) / 2, ascending (LAPACK syevd).
template <class T>
std::vector<double> symmetric_part_eigenvalues(const Matrix<T>& j) {
    const Matrix<double> jd = xt::cast<double>(j);
    const Matrix<double> sym = 0.5 * (jd + xt::transpose(jd));
    const auto w = xt::linalg::eigvalsh(sym);
    return std::vector<double>(w.begin(), w.end());
}

/// Mean, standard deviation, least and greatest of a sample.
struct Spread {
    double mean = 0, sd = 0, min = 0, max = 0;
};
inline Spread spread_of(const std::vector<double>& v) {
    Spread s;
    if (v.empty()) return s;
    s.min = *std::min_element(v.begin(), v.end());
    s.max = *std::max_element(v.begin(), v.end());
    for (double a : v) s.mean += a;
    s.mean /= double(v.size());
    for (double a : v) s.sd += (a - s.mean) * (a - s.mean);
    s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0.0;
    return s;
}

}  // namespace tg::studies
