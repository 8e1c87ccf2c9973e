#pragma once
// A trainable array. The model owns it; a tape refers to it (never copies it) for one step,
// and every op that reads it adds its contribution into `grad`. That accumulation is what
// makes a tied weight, read by two ops, receive the sum of both gradients.
#include "tapegrad/parallel.hpp"
#include "tapegrad/tensor.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace tg {

template <class T>
struct Parameter {
    std::string name;
    Matrix<T> value;
    Matrix<T> grad;
    bool frozen = false;  // a frozen parameter takes part in the forward pass but gets no gradient
    // True from zero_grad() until a tape records this parameter: the first gradient contribution
    // may then overwrite instead of add (gemm beta = 0, the faster kernel, no read of `grad`).
    bool grad_is_zero = true;

    Parameter(std::string name_, Matrix<T> initial)
        : name(std::move(name_)), value(std::move(initial)), grad(Matrix<T>::from_shape(value.shape())) {
        zero_grad();
    }

    void zero_grad() {
        T* g = grad.data();
        parallel::for_range(grad.size(), parallel::min_elements_per_part,
                            [g](std::size_t lo, std::size_t hi) { std::fill(g + lo, g + hi, T(0)); });
        grad_is_zero = true;
    }
    Shape shape() const { return shape_of(value); }
};

}  // namespace tg
