#pragma once
// The BLAS ceiling of a step: only the matrix products a tied or untied step performs
// (forward Z = X W^T and R = H W; backward dH = dR W^T, dW = H^T dR, dW += dZ^T X), on
// buffers of the right shapes with no elementwise work at all. Only tied vs untied matters:
// every other variant (sparse, denoising, contractive) adds elementwise work and no product,
// so they share the tied step's five GEMMs as their floor.
#include <tapegrad/baseline/workload.hpp>

#include <tapegrad/blas.hpp>

namespace tg::bench {

template <class T>
class GemmOnly {
public:
    GemmOnly(workload::Variant variant, workload::Size s, const workload::InitialValues<T>& init)
        : untied_(variant == workload::Variant::untied), x_(init.X), w_(init.W), w2_(init.W2),
          z_(make_matrix<T>(s.B, s.K)), r_(make_matrix<T>(s.B, s.D)), dw_(make_matrix<T>(s.K, s.D)),
          dw2_(make_matrix<T>(s.D, s.K)) {}

    T step() {
        // Values are irrelevant here: the gradient buffers stand in for dZ, dR.
        blas::general_gemm(x_, false, w_, true, z_, T(1), T(0));                       // Z = X W^T
        if (untied_) blas::general_gemm(z_, false, w2_, true, r_, T(1), T(0));          // R = H W2^T
        else         blas::general_gemm(z_, false, w_, false, r_, T(1), T(0));          // R = H W
        if (untied_) {
            blas::general_gemm(r_, false, w2_, false, z_, T(1), T(0));                  // dH = dR W2
            blas::general_gemm(r_, true, z_, false, dw2_, T(1), T(0));                  // dW2 = dR^T H
            blas::general_gemm(z_, true, x_, false, dw_, T(1), T(0));                   // dW = dZ^T X
        } else {
            blas::general_gemm(r_, false, w_, true, z_, T(1), T(0));                    // dH = dR W^T
            blas::general_gemm(z_, true, r_, false, dw_, T(1), T(0));                   // dW = H^T dR
            blas::general_gemm(z_, true, x_, false, dw_, T(1), T(1));                   // dW += dZ^T X
        }
        return T(0);
    }

private:
    bool untied_;
    Matrix<T> x_, w_, w2_, z_, r_, dw_, dw2_;
};

}  // namespace tg::bench
