#pragma once
// Hand-coded backpropagation of the five autoencoder variants of the standard workload
// (benchmarks/WORKLOAD.md): the performance floor the framework is measured against.
//
// Every buffer is allocated once in the constructor; a step is five raw CBLAS gemms on the
// xtensor buffers plus fused, vectorised elementwise loops, with no heap allocation.
// Instantiated for float and double in handcoded.cpp (which keeps <cblas.h> out of this header).
#include <tapegrad/baseline/workload.hpp>

#include <xtensor/xtensor.hpp>

#include <vector>

namespace tg::handcoded {

template <class T>
class Autoencoder {
   public:
    using Matrix = xt::xtensor<T, 2>;

    // Copies the initial values (W2 only if untied, M only if denoising) and allocates every buffer.
    // Throws std::invalid_argument if the shapes of `init` do not match the variant and size.
    Autoencoder(workload::Variant variant, workload::Size size, const workload::InitialValues<T>& init);

    // Forward and backward pass at the current parameters: overwrites the gradient buffers and
    // returns the loss (summed in double, rounded once to T).
    T loss_and_gradients();

    // Plain SGD, p -= learning_rate * dp, for W, b1, b2 (and W2 if untied).
    void sgd_update(T learning_rate);

    T step() {
        T l = loss_and_gradients();
        sgd_update(T(workload::learning_rate));
        return l;
    }

    workload::Variant variant() const { return variant_; }
    workload::Size size() const { return size_; }

    const Matrix& W() const { return W_; }    // K x D
    const Matrix& b1() const { return b1_; }  // 1 x K
    const Matrix& b2() const { return b2_; }  // 1 x D
    const Matrix& W2() const { return W2_; }  // D x K if untied, else 0 x 0

    const Matrix& grad_W() const { return dW_; }
    const Matrix& grad_b1() const { return db1_; }
    const Matrix& grad_b2() const { return db2_; }
    const Matrix& grad_W2() const { return dW2_; }

    // Mutable access to the parameters, for finite-difference checks and tests.
    Matrix& W() { return W_; }
    Matrix& b1() { return b1_; }
    Matrix& b2() { return b2_; }
    Matrix& W2() { return W2_; }

   private:
    double forward();  // returns the loss; leaves H and dR filled (and c_, g_ if contractive)
    void backward();

    workload::Variant variant_;
    workload::Size size_;
    bool tied_;

    Matrix X_;    // B x D, the target (always the clean batch)
    Matrix Xin_;  // B x D, X * M for denoising, else empty: the input is then X_ itself
    // The network's input. Looked up, not stored, so that copies of the object stay valid.
    const T* xin() const { return Xin_.size() != 0 ? Xin_.data() : X_.data(); }

    Matrix W_, b1_, b2_, W2_;      // parameters
    Matrix dW_, db1_, db2_, dW2_;  // their gradients

    Matrix H_;   // B x K, pre-activation then h = sigmoid(z), in place
    Matrix dH_;  // B x K, dL/dh then dL/dz, in place
    Matrix R_;   // B x D, the gemm part of the reconstruction, then dL/dr, in place

    // Contractive penalty only (K entries each, else empty).
    std::vector<double> c_;  // c_j = sum_i W_ji^2
    std::vector<double> g_;  // g_j = sum_b (h_bj (1 - h_bj))^2
};

extern template class Autoencoder<float>;
extern template class Autoencoder<double>;

}  // namespace tg::handcoded
