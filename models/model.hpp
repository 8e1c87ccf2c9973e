#pragma once
// What every model offers a training loop: its parameters, a loss recorded on a tape, and a
// reconstruction for evaluation. Models only compose framework ops; none has backprop code.
#include <tapegrad/tapegrad.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

namespace tg::models {

template <class T>
class Model {
public:
    virtual ~Model() = default;
    virtual std::vector<Parameter<T>*> parameters() = 0;
    // Records the training loss for a batch x (rows are examples).
    virtual Var<T> loss(Tape<T>& tape, const Matrix<T>& x) = 0;
    // The reconstruction of x without training-time noise, recorded on `tape`.
    virtual Var<T> reconstruct(Tape<T>& tape, const Matrix<T>& x) = 0;
    // The first layer's weights, one row per code unit (drawn as filters).
    virtual const Matrix<T>& filters() const = 0;
    virtual std::string describe() const = 0;
};

// Uniform in [-limit, limit], seeded: the same seed gives the same model.
template <class T>
Matrix<T> uniform_matrix(std::size_t rows, std::size_t cols, double limit, std::mt19937_64& rng) {
    std::uniform_real_distribution<double> u(-limit, limit);
    Matrix<T> m = Matrix<T>::from_shape({rows, cols});
    for (T& v : m) v = T(u(rng));
    return m;
}

template <class T>
Matrix<T> zeros(std::size_t rows, std::size_t cols) {
    Matrix<T> m = Matrix<T>::from_shape({rows, cols});
    m.fill(T(0));
    return m;
}

// Glorot-style scale for a layer fan_in -> fan_out.
inline double init_limit(std::size_t fan_in, std::size_t fan_out) { return std::sqrt(6.0 / double(fan_in + fan_out)); }

}  // namespace tg::models
