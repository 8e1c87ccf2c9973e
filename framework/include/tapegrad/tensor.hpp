#pragma once
// The one array type of the framework. Every value is a rank-2 array: a batch of row vectors
// is B x N, a bias is 1 x N, a scalar is 1 x 1. One fixed rank keeps shape logic trivial and
// lets every kernel index rows directly.
#include <xtensor/xtensor.hpp>

#include <array>
#include <cstddef>
#include <string>

namespace tg {

template <class T>
using Matrix = xt::xtensor<T, 2>;

using Shape = std::array<std::size_t, 2>;

template <class T>
Shape shape_of(const Matrix<T>& m) { return {m.shape()[0], m.shape()[1]}; }

inline std::string to_string(const Shape& s) {
    return "(" + std::to_string(s[0]) + "x" + std::to_string(s[1]) + ")";
}

// Allocates rows x cols without initialising (xtensor's `Matrix<T>({r, c})` would be the same,
// but `from_shape` cannot be mistaken for a list of values).
template <class T>
Matrix<T> make_matrix(std::size_t rows, std::size_t cols) {
    return Matrix<T>::from_shape({rows, cols});
}

}  // namespace tg
