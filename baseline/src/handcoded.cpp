// Hand-coded backprop of the workload's autoencoders. Notation (benchmarks/WORKLOAD.md), all row-major:
//   Xin (B x D), W (K x D), b1 (1 x K), b2 (1 x D), W2 (D x K)
//   z = Xin W^T + b1,  h = sigmoid(z),  r = h W + b2 (tied) or h W2^T + b2 (untied)
//   L = mean (r - X)^2  [+ lambda/B sum |h|]  [+ lambda/B sum_b sum_j s_bj^2 c_j],
//   with s = h (1 - h) = dh/dz and c_j = sum_i W_ji^2.
// g++ 12.2 warns "'__Y' is / may be used uninitialized" inside its own AVX-512 intrinsic headers
// wherever xsimd::exp is inlined (GCC bug 105593, a false positive fixed in 12.3). The warning
// is attributed to the header lines, so it is silenced only for the headers: the pragma must
// come before the first include of <immintrin.h>, which xtensor pulls in through handcoded.hpp.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <tapegrad/baseline/handcoded.hpp>

#include <tapegrad/blas.hpp>
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>
#pragma GCC diagnostic pop

namespace tg::handcoded {
namespace {

using workload::Variant;

// Row-major C = op(A) op(B) + beta C (alpha = 1); the transpose flags spare any transposed copy.
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const float* A, std::size_t lda,
          const float* B, std::size_t ldb, float beta, float* C, std::size_t ldc) {
    blas::general_gemm(ta, tb, m, n, k, 1.0f, A, lda, B, ldb, beta, C, ldc);
}
void gemm(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const double* A, std::size_t lda,
          const double* B, std::size_t ldb, double beta, double* C, std::size_t ldc) {
    blas::general_gemm(ta, tb, m, n, k, 1.0, A, lda, B, ldb, beta, C, ldc);
}

// h = 1 / (1 + exp(-z)) in place with xsimd (g++ does not vectorise std::exp). The tail goes
// through a padded batch rather than std::exp, so every element gets bit-identical arithmetic
// whatever its position.
template <class T>
void sigmoid_inplace(T* p, std::size_t n) {
    using batch = xsimd::batch<T>;
    constexpr std::size_t L = batch::size;
    const batch one(T(1));
    auto sigmoid = [&one](batch z) { return one / (one + xsimd::exp(-z)); };
    std::size_t i = 0;
    for (; i + L <= n; i += L) sigmoid(batch::load_unaligned(p + i)).store_unaligned(p + i);
    if (i < n) {
        alignas(batch::arch_type::alignment()) T tail[L] = {};
        std::copy(p + i, p + n, tail);
        sigmoid(batch::load_aligned(tail)).store_aligned(tail);
        std::copy(tail, tail + (n - i), p + i);
    }
}

// Sums in double with several independent accumulators: g++ vectorises this pattern without
// -ffast-math (a single scalar accumulator would be a serial chain of dependent adds).
constexpr std::size_t kAcc = 16;

template <class T>
double sum_squares(const T* p, std::size_t n) {
    double acc[kAcc] = {};
    std::size_t i = 0;
    for (; i + kAcc <= n; i += kAcc)
        for (std::size_t l = 0; l < kAcc; ++l) acc[l] += double(p[i + l]) * double(p[i + l]);
    double s = 0;
    for (; i < n; ++i) s += double(p[i]) * double(p[i]);
    for (double a : acc) s += a;
    return s;
}

// Reconstruction error, fused into one pass: on entry R holds h W (or h W2^T); on exit it holds
// dL/dr = k (r - X) with r = R + b2, and db2 its column sums. Returns sum (r - X)^2 in double,
// with the accumulators kept across rows so that short rows do not pay a horizontal sum each.
template <class T>
double residual(T* __restrict R, const T* __restrict X, const T* __restrict b2, T* __restrict db2, std::size_t B,
                std::size_t D, T k) {
    std::fill(db2, db2 + D, T(0));
    double acc[kAcc] = {};
    double s = 0;
    for (std::size_t b = 0; b < B; ++b) {
        T* __restrict r = R + b * D;
        const T* __restrict x = X + b * D;
        std::size_t i = 0;
        for (; i + kAcc <= D; i += kAcc)
            for (std::size_t l = 0; l < kAcc; ++l) {
                const T d = (r[i + l] + b2[i + l]) - x[i + l];
                acc[l] += double(d) * double(d);
                r[i + l] = k * d;
                db2[i + l] += k * d;
            }
        for (; i < D; ++i) {
            const T d = (r[i] + b2[i]) - x[i];
            s += double(d) * double(d);
            r[i] = k * d;
            db2[i] += k * d;
        }
    }
    for (double a : acc) s += a;
    return s;
}

// Fills every row of the B x N matrix C with `row`, by doubling the filled block: log2(B)
// memcpy calls instead of B (which matters when N is 1).
template <class T>
void broadcast_rows(T* C, const T* row, std::size_t B, std::size_t N) {
    std::memcpy(C, row, N * sizeof(T));
    for (std::size_t filled = 1; filled < B;) {
        const std::size_t n = std::min(filled, B - filled);
        std::memcpy(C + filled * N, C, n * N * sizeof(T));
        filled += n;
    }
}

template <class T>
double sum_abs(const T* p, std::size_t n) {
    double acc[kAcc] = {};
    std::size_t i = 0;
    for (; i + kAcc <= n; i += kAcc)
        for (std::size_t l = 0; l < kAcc; ++l) acc[l] += std::abs(double(p[i + l]));
    double s = 0;
    for (; i < n; ++i) s += std::abs(double(p[i]));
    for (double a : acc) s += a;
    return s;
}

template <class T>
void check_shape(const xt::xtensor<T, 2>& a, std::size_t rows, std::size_t cols, const char* what) {
    if (a.shape()[0] != rows || a.shape()[1] != cols)
        throw std::invalid_argument(std::string("handcoded::Autoencoder: initial value ") + what + " is " +
                                    std::to_string(a.shape()[0]) + "x" + std::to_string(a.shape()[1]) +
                                    ", expected " + std::to_string(rows) + "x" + std::to_string(cols));
}

template <class T>
xt::xtensor<T, 2> zeros(std::size_t rows, std::size_t cols) {
    auto a = xt::xtensor<T, 2>::from_shape({rows, cols});
    std::fill(a.begin(), a.end(), T(0));
    return a;
}

}  // namespace

template <class T>
Autoencoder<T>::Autoencoder(Variant variant, workload::Size n, const workload::InitialValues<T>& init)
    : variant_(variant), size_(n), tied_(workload::is_tied(variant)) {
    const auto [D, K, B] = n;
    if (D == 0 || K == 0 || B == 0) throw std::invalid_argument("handcoded::Autoencoder: empty size");
    check_shape(init.X, B, D, "X");
    check_shape(init.W, K, D, "W");
    check_shape(init.b1, 1, K, "b1");
    check_shape(init.b2, 1, D, "b2");
    if (!tied_) check_shape(init.W2, D, K, "W2");
    if (variant == Variant::denoising) check_shape(init.M, B, D, "M");

    X_ = init.X;
    W_ = init.W;
    b1_ = init.b1;
    b2_ = init.b2;
    W2_ = tied_ ? xt::xtensor<T, 2>::from_shape({0, 0}) : init.W2;
    // The mask and the batch are fixed for the whole run, so the corrupted input is made once.
    if (variant == Variant::denoising) {
        Xin_ = xt::xtensor<T, 2>::from_shape({B, D});
        for (std::size_t i = 0; i < B * D; ++i) Xin_.data()[i] = X_.data()[i] * init.M.data()[i];
    } else {
        Xin_ = xt::xtensor<T, 2>::from_shape({0, 0});
    }

    dW_ = zeros<T>(K, D);
    db1_ = zeros<T>(1, K);
    db2_ = zeros<T>(1, D);
    dW2_ = tied_ ? zeros<T>(0, 0) : zeros<T>(D, K);
    H_ = zeros<T>(B, K);
    dH_ = zeros<T>(B, K);
    R_ = zeros<T>(B, D);
    if (variant == Variant::contractive) {
        c_.assign(K, 0.0);
        g_.assign(K, 0.0);
    }
}

template <class T>
double Autoencoder<T>::forward() {
    const auto [D, K, B] = size_;
    T* H = H_.data();
    T* R = R_.data();

    // z = Xin W^T + b1: C starts as b1 in every row and the gemm adds into it (beta = 1). That
    // costs about what beta = 0 costs (OpenBLAS then zeroes C first) and lets the sigmoid run over
    // one contiguous block instead of row by row, which matters when K is small.
    broadcast_rows(H, b1_.data(), B, K);
    gemm(false, true, B, K, D, xin(), D, W_.data(), D, T(1), H, K);
    sigmoid_inplace(H, B * K);

    // r - b2 = h W (tied) or h W2^T (untied)
    if (tied_)
        gemm(false, false, B, D, K, H, K, W_.data(), D, T(0), R, D);
    else
        gemm(false, true, B, D, K, H, K, W2_.data(), K, T(0), R, D);

    // L = mean (r - X)^2, so dL/dr = 2/(BD) (r - X); R is overwritten with it.
    const T k = T(2.0 / (double(B) * double(D)));
    const double squared_error = residual(R, X_.data(), b2_.data(), db2_.data(), B, D, k);
    double loss = squared_error / (double(B) * double(D));

    if (variant_ == Variant::sparse) loss += workload::lambda / double(B) * sum_abs(H, B * K);

    if (variant_ == Variant::contractive) {
        // ||dh_b/dx_b||_F^2 = sum_j s_bj^2 c_j, so the penalty is lambda/B sum_j g_j c_j.
        for (std::size_t j = 0; j < K; ++j) c_[j] = sum_squares(W_.data() + j * D, D);
        std::fill(g_.begin(), g_.end(), 0.0);
        for (std::size_t b = 0; b < B; ++b) {
            const T* h = H + b * K;
            for (std::size_t j = 0; j < K; ++j) {
                const double s = double(h[j]) * (1.0 - double(h[j]));
                g_[j] += s * s;
            }
        }
        double penalty = 0;
        for (std::size_t j = 0; j < K; ++j) penalty += g_[j] * c_[j];
        loss += workload::lambda / double(B) * penalty;
    }
    return loss;
}

template <class T>
void Autoencoder<T>::backward() {
    const auto [D, K, B] = size_;
    const T* H = H_.data();
    const T* dR = R_.data();
    T* dH = dH_.data();
    T* dW = dW_.data();

    // dL/dh = dR W^T (tied) or dR W2 (untied)
    if (tied_)
        gemm(false, true, B, K, D, dR, D, W_.data(), D, T(0), dH, K);
    else
        gemm(false, false, B, K, D, dR, D, W2_.data(), K, T(0), dH, K);

    // Decoder weight gradient. Tied: dW = h^T dR now, the encoder part is added by the last gemm.
    // Contractive: the penalty depends on W directly too, d/dW_ji = 2 lambda/B g_j W_ji; writing
    // that term first and accumulating both gemms onto it (beta = 1) saves a read-modify-write
    // pass over dW afterwards.
    if (tied_) {
        T beta = T(0);
        if (variant_ == Variant::contractive) {
            for (std::size_t j = 0; j < K; ++j) {
                const T coef = T(2.0 * workload::lambda / double(B) * g_[j]);
                const T* w = W_.data() + j * D;
                T* dw = dW + j * D;
                for (std::size_t i = 0; i < D; ++i) dw[i] = coef * w[i];
            }
            beta = T(1);
        }
        gemm(true, false, K, D, B, H, K, dR, D, beta, dW, D);
    } else {
        gemm(true, false, D, K, B, dR, D, H, K, T(0), dW2_.data(), K);  // dW2 = dR^T h
    }

    // dL/dz = (dL/dh + penalty terms) * s, in place over dH; db1 is its column sum.
    const T lb = T(workload::lambda / double(B));
    T* db1 = db1_.data();
    std::fill(db1, db1 + K, T(0));
    for (std::size_t b = 0; b < B; ++b) {
        const T* h = H + b * K;
        T* d = dH + b * K;
        switch (variant_) {
            case Variant::sparse:  // d|h|/dh = sign(h)
                for (std::size_t j = 0; j < K; ++j) {
                    const T s = h[j] * (T(1) - h[j]);
                    const T sign = T(h[j] > T(0)) - T(h[j] < T(0));
                    const T dz = (d[j] + lb * sign) * s;
                    d[j] = dz;
                    db1[j] += dz;
                }
                break;
            case Variant::contractive:  // d(s^2)/dh = 2 s (1 - 2h)
                for (std::size_t j = 0; j < K; ++j) {
                    const T s = h[j] * (T(1) - h[j]);
                    const T cj = T(c_[j]);
                    const T dz = (d[j] + T(2) * lb * cj * s * (T(1) - T(2) * h[j])) * s;
                    d[j] = dz;
                    db1[j] += dz;
                }
                break;
            default:
                for (std::size_t j = 0; j < K; ++j) {
                    const T dz = d[j] * (h[j] * (T(1) - h[j]));
                    d[j] = dz;
                    db1[j] += dz;
                }
        }
    }

    // Encoder weight gradient dz^T Xin: accumulates onto the decoder part when tied.
    gemm(true, false, K, D, B, dH, K, xin(), D, tied_ ? T(1) : T(0), dW, D);
}

template <class T>
T Autoencoder<T>::loss_and_gradients() {
    const double loss = forward();
    backward();
    return T(loss);
}

template <class T>
void Autoencoder<T>::sgd_update(T lr) {
    auto update = [lr](Matrix& p, const Matrix& dp) {
        T* a = p.data();
        const T* g = dp.data();
        const std::size_t n = p.size();
        for (std::size_t i = 0; i < n; ++i) a[i] -= lr * g[i];
    };
    update(W_, dW_);
    update(b1_, db1_);
    update(b2_, db2_);
    if (!tied_) update(W2_, dW2_);
}

template class Autoencoder<float>;
template class Autoencoder<double>;

}  // namespace tg::handcoded
