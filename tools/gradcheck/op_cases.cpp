#include "cases.hpp"

#include <string>
#include <tuple>

namespace tg::gradcheck_cases {

namespace {

template <class T>
using Vars = std::vector<Var<T>>;

// What an operand of a case looks like: its shape and the range of its random values.
struct Operand {
    std::size_t rows, cols;
    double lo = -1, hi = 1, away_from = std::numeric_limits<double>::quiet_NaN();
};

// One precision's recording of an op case: operand k is a parameter (named 'a' + k) unless
// is_data[k], when the tape reads it as a constant (the op's data input, which gets no gradient).
template <class T, class Op>
Instance<T> instance(const std::vector<Matrix<D>>& values, const std::vector<bool>& is_data, Op op,
                     std::uint64_t weights_seed) {
    Instance<T> in;
    auto data = std::make_shared<std::vector<Matrix<T>>>();
    for (std::size_t k = 0; k < values.size(); ++k) {
        Matrix<T> v = xt::cast<T>(values[k]);
        if (is_data[k]) {
            data->push_back(std::move(v));
        } else {
            in.owned.push_back(std::make_unique<Parameter<T>>(std::string(1, char('a' + k)), std::move(v)));
            in.parameters.push_back(in.owned.back().get());
        }
    }
    auto weights = std::make_shared<Matrix<T>>();
    in.keep_alive = std::make_shared<std::pair<decltype(data), decltype(weights)>>(data, weights);
    in.loss = [params = in.parameters, data, weights, is_data, op, weights_seed](Tape<T>& t) {
        Vars<T> vars;
        std::size_t next_parameter = 0, next_data = 0;
        for (bool d : is_data)
            vars.push_back(d ? t.constant((*data)[next_data++], "data") : t.parameter(*params[next_parameter++]));
        Var<T> y = op(t, vars);
        if (y.shape() == Shape{1, 1}) return y;
        if (shape_of(*weights) != y.shape()) {
            std::mt19937_64 r(weights_seed);
            *weights = xt::cast<T>(random_matrix(r, y.rows(), y.cols()));
        }
        return sum(y * t.constant(*weights, "R"));
    };
    return in;
}

struct Builder {
    std::vector<Case>& cases;
    std::mt19937_64 rng{2024};

    // Adds the case with every operand a parameter and, for an op of two or more operands, one
    // case per operand with that operand as data. `op` is a generic lambda
    // []<class T>(Tape<T>&, Vars<T>&), recorded once per precision.
public:
    template <class Op>
    void add(const std::string& family, const std::string& name, const std::vector<Operand>& operands, Op op,
             Control control = Control::none) {
        const std::vector<Matrix<D>> values = draw(operands);
        const std::uint64_t seed = rng();
        push(family, name, values, std::vector<bool>(operands.size(), false), op, seed, control);
        if (operands.size() < 2 || control != Control::none) return;
        for (std::size_t k = 0; k < operands.size(); ++k) {
            std::vector<bool> is_data(operands.size(), false);
            is_data[k] = true;
            push(family, name + " [" + char('a' + k) + " as data]", values, is_data, op, seed, control);
        }
    }

    // One case with the given operands as data (the rest parameters).
    template <class Op>
    void add_with_data(const std::string& family, const std::string& name, const std::vector<Operand>& operands,
                       const std::vector<bool>& is_data, Op op, Control control) {
        const std::vector<Matrix<D>> values = draw(operands);
        push(family, name, values, is_data, op, rng(), control);
    }

private:
    std::vector<Matrix<D>> draw(const std::vector<Operand>& operands) {
        std::vector<Matrix<D>> values;
        for (const Operand& o : operands) values.push_back(random_matrix(rng, o.rows, o.cols, o.lo, o.hi, o.away_from));
        return values;
    }

    template <class Op>
    void push(const std::string& family, const std::string& name, const std::vector<Matrix<D>>& values,
              const std::vector<bool>& is_data, Op op, std::uint64_t seed, Control control) {
        Case c;
        c.name = name;
        c.family = family;
        c.f64 = instance<double>(values, is_data, op, seed);
        c.f32 = instance<float>(values, is_data, op, seed);
        c.control = control;
        cases.push_back(std::move(c));
    }
};

#define TG_OP []<class T>([[maybe_unused]] Tape<T> & t, [[maybe_unused]] Vars<T> & v)

// Convolutions in every layout with a code path of its own: stride 1 and 2, padding 0 and 1,
// 1 and 3 input channels, several output channels, non-square images and kernels, batch 2,
// with and without a bias, a tied kernel read by both, and a feature map read by a dense layer.
// Operands: images (B x H·W·C), kernel ((kh·kw·C) x O), bias (1 x O).
void add_convolution_cases(Builder& b) {
    b.add("convolution", "conv2d 5x4x1, 3x3 kernel to 2 channels, stride 1, padding 0",
          {{2, 20}, {9, 2}, {1, 2}}, TG_OP { return conv2d(v[0], {5, 4, 1}, v[1], v[2], {3, 3, 1, 0}); });
    b.add("convolution", "conv2d 6x5x3, 3x3 kernel to 4 channels, stride 2, padding 1",
          {{2, 90}, {27, 4}, {1, 4}}, TG_OP { return conv2d(v[0], {6, 5, 3}, v[1], v[2], {3, 3, 2, 1}); });
    b.add("convolution", "conv2d 4x6x2, 2x2 kernel, stride 2, no bias",
          {{2, 48}, {8, 3}}, TG_OP { return conv2d(v[0], {4, 6, 2}, v[1], ConvWindow{2, 2, 2, 0}); });
    b.add("convolution", "conv2d 3x4x1, 2x3 kernel, stride 1, padding 1",
          {{3, 12}, {6, 2}, {1, 2}}, TG_OP { return conv2d(v[0], {3, 4, 1}, v[1], v[2], {2, 3, 1, 1}); });
    b.add("convolution", "conv_transpose2d 3x3x2 to 6x6x1, 3x3 kernel, stride 2, padding 1, output padding 1",
          {{2, 18}, {9, 2}, {1, 1}}, TG_OP { return conv_transpose2d(v[0], {3, 3, 2}, v[1], v[2], {3, 3, 2, 1}, 1); });
    b.add("convolution", "conv_transpose2d 2x3x4 to 5x7x3, 3x3 kernel, stride 2, padding 0",
          {{2, 24}, {27, 4}, {1, 3}}, TG_OP { return conv_transpose2d(v[0], {2, 3, 4}, v[1], v[2], {3, 3, 2, 0}); });
    b.add("convolution", "conv_transpose2d 3x2x2 to 4x3x2, 2x2 kernel, stride 1, no bias",
          {{2, 12}, {8, 2}}, TG_OP { return conv_transpose2d(v[0], {3, 2, 2}, v[1], ConvWindow{2, 2, 1, 0}); });
    b.add("convolution", "tied K: conv_transpose2d(sigmoid(conv2d(X, K)), K), 6x6x1, stride 2, padding 1",
          {{2, 36}, {9, 3}, {1, 3}, {1, 1}}, TG_OP {
              const ConvWindow w{3, 3, 2, 1};
              const Var<T> h = sigmoid(conv2d(v[0], {6, 6, 1}, v[1], v[2], w));
              return conv_transpose2d(h, {3, 3, 3}, v[1], v[3], w, 1);
          });
    b.add("convolution", "a feature map read by a dense layer: affine(tanh(conv2d(X, K)), W)",
          {{2, 16}, {4, 2}, {1, 2}, {3, 18}, {1, 3}}, TG_OP {
              return affine(tanh(conv2d(v[0], {4, 4, 1}, v[1], v[2], {2, 2, 1, 0})), v[3], v[4]);
          });
}

}  // namespace

std::vector<Case> op_cases() {
    std::vector<Case> cases;
    Builder b{cases};

    b.add("linear", "matmul A B", {{3, 4}, {4, 5}}, TG_OP { return matmul(v[0], v[1]); });
    b.add("linear", "matmul A B^T", {{3, 4}, {5, 4}}, TG_OP { return matmul(v[0], v[1], Trans::N, Trans::T); });
    b.add("linear", "matmul A^T B", {{4, 3}, {4, 5}}, TG_OP { return matmul(v[0], v[1], Trans::T, Trans::N); });
    b.add("linear", "matmul A^T B^T", {{4, 3}, {5, 4}}, TG_OP { return matmul(v[0], v[1], Trans::T, Trans::T); });
    // Unit dimensions (blas::gemm's dot / matrix-vector / outer-product loops): each shape with
    // each transpose combination, so every stride case of those loops is checked.
    for (const auto& [m, k, n, what] : {std::tuple{5, 4, 1, "matrix-vector"}, std::tuple{1, 4, 5, "vector-matrix"},
                                        std::tuple{5, 1, 4, "outer product"}, std::tuple{1, 6, 1, "dot"},
                                        std::tuple{1, 1, 5, "row outer product"}, std::tuple{5, 1, 1, "column times scalar"}})
        for (const bool ta : {false, true})
            for (const bool tb : {false, true}) {
                const std::size_t M = std::size_t(m), K = std::size_t(k), N = std::size_t(n);
                const Trans a = ta ? Trans::T : Trans::N, bt = tb ? Trans::T : Trans::N;
                const std::string name = std::string("matmul ") + what + " " + std::to_string(m) + "x" +
                                         std::to_string(k) + "x" + std::to_string(n) + (ta ? " A^T" : " A") + (tb ? " B^T" : " B");
                b.add("linear", name, {ta ? Operand{K, M} : Operand{M, K}, tb ? Operand{N, K} : Operand{K, N}},
                      [a, bt]<class T>(Tape<T>&, Vars<T>& v) { return matmul(v[0], v[1], a, bt); });
            }
    b.add("linear", "affine with a code of size 1: tied affine(sigmoid(affine(X, W)), W^T), W 1x6", {{4, 6}, {1, 6}, {1, 1}, {1, 6}},
          TG_OP { return affine(sigmoid(affine(v[0], v[1], v[2])), v[1], v[3], Trans::N); });
    b.add("linear", "matmul A A (used twice)", {{4, 4}}, TG_OP { return matmul(v[0], v[0]); });
    b.add("linear", "affine X W^T + b", {{3, 4}, {5, 4}, {1, 5}}, TG_OP { return affine(v[0], v[1], v[2]); });
    b.add("linear", "affine X W + b", {{3, 4}, {4, 5}, {1, 5}}, TG_OP { return affine(v[0], v[1], v[2], Trans::N); });
    b.add("linear", "tied W: affine(sigmoid(affine(X, W)), W^T)", {{3, 4}, {2, 4}, {1, 2}, {1, 4}},
          TG_OP { return affine(sigmoid(affine(v[0], v[1], v[2])), v[1], v[3], Trans::N); });
    b.add("linear", "affine bias read by two affines", {{3, 4}, {5, 4}, {3, 2}, {5, 2}, {1, 5}},
          TG_OP { return affine(v[0], v[1], v[4]) * affine(v[2], v[3], v[4]); });

    b.add("elementwise", "add", {{3, 4}, {3, 4}}, TG_OP { return v[0] + v[1]; });
    b.add("elementwise", "add row broadcast", {{3, 4}, {1, 4}}, TG_OP { return v[0] + v[1]; });
    b.add("elementwise", "add column broadcast", {{3, 1}, {3, 4}}, TG_OP { return v[0] + v[1]; });
    b.add("elementwise", "sub scalar broadcast", {{3, 4}, {1, 1}}, TG_OP { return v[0] - v[1]; });
    b.add("elementwise", "sub", {{3, 4}, {3, 4}}, TG_OP { return v[0] - v[1]; });
    b.add("elementwise", "dropout p = 0.4", {{3, 4}}, TG_OP {
        static const std::uint64_t ids[] = {5, 6, 7};
        return dropout(v[0], 0.4, {.seed = 3, .epoch = 1, .sample_ids = ids}, Mode::train);
    });
    b.add("elementwise", "mul", {{3, 4}, {3, 4}}, TG_OP { return v[0] * v[1]; });
    b.add("elementwise", "mul row x column broadcast", {{1, 4}, {3, 1}}, TG_OP { return v[0] * v[1]; });
    b.add("elementwise", "mul x x (used twice)", {{3, 4}}, TG_OP { return v[0] * v[0]; });
    // A broadcast operand read by two ops: both reductions must add into its gradient.
    b.add("elementwise", "row broadcast read twice: (a + b) * (c - b)", {{3, 4}, {1, 4}, {3, 4}},
          TG_OP { return (v[0] + v[1]) * (v[2] - v[1]); });
    b.add("elementwise", "column broadcast read twice: a * b + b", {{3, 4}, {3, 1}},
          TG_OP { return v[0] * v[1] + v[1]; });
    b.add("elementwise", "scalar broadcast read twice: (a - s) * s", {{3, 4}, {1, 1}},
          TG_OP { return (v[0] - v[1]) * v[1]; });
    b.add("elementwise", "scale", {{3, 4}}, TG_OP { return 2.5 * v[0]; });
    b.add("elementwise", "add_scalar and negate", {{3, 4}}, TG_OP { return 1.0 - v[0]; });
    b.add("elementwise", "masked", {{3, 4}}, TG_OP {
        static const Matrix<T> mask{{1, 0, 1, 1}, {0, 1, 1, 0}, {1, 1, 0, 1}};
        return masked(v[0], mask);
    });
    b.add("elementwise", "square", {{3, 4}}, TG_OP { return square(v[0]); });
    b.add("elementwise", "abs", {{3, 4, -1, 1, 0.0}}, TG_OP { return abs(v[0]); });
    b.add("elementwise", "exp", {{3, 4}}, TG_OP { return exp(v[0]); });
    b.add("elementwise", "log", {{3, 4, 0.2, 2}}, TG_OP { return log(v[0]); });
    b.add("elementwise", "div", {{3, 4}, {3, 4, 0.5, 2}}, TG_OP { return v[0] / v[1]; });
    b.add("elementwise", "div by a broadcast column", {{3, 4}, {3, 1, -2, -0.5}}, TG_OP { return v[0] / v[1]; });
    b.add("elementwise", "sign (times x)", {{3, 4, -1, 1, 0.0}}, TG_OP { return sign(v[0]) * v[0]; });
    b.add("elementwise", "clamp to [-0.5, 0.5]", {{3, 4, -1, 1, 0.5}}, TG_OP { return clamp(v[0], -0.5, 0.5); });

    b.add("shape", "broadcast_to a row", {{1, 4}}, TG_OP { return broadcast_to(v[0], Shape{3, 4}); });
    b.add("shape", "broadcast_to a column", {{3, 1}}, TG_OP { return broadcast_to(v[0], Shape{3, 4}); });
    b.add("shape", "broadcast_to a scalar", {{1, 1}}, TG_OP { return broadcast_to(v[0], Shape{3, 4}); });
    b.add("shape", "transpose", {{3, 4}}, TG_OP { return transpose(v[0]); });
    b.add("shape", "reshape 3x4 to 2x6", {{3, 4}}, TG_OP { return reshape(v[0], 2, 6); });
    b.add("shape", "tile_rows 3 copies", {{2, 4}}, TG_OP { return tile_rows(v[0], 3); });
    b.add("shape", "sum_row_blocks of 3 blocks", {{6, 4}}, TG_OP { return sum_row_blocks(v[0], 3); });
    b.add("activation", "softmax (rows)", {{3, 4, -3, 3}}, TG_OP { return softmax(v[0]); });
    // "Any order": differentiated three times (the third derivative of a chain, against finite
    // differences of its second-order graph gradient).
    b.add("activation", "tanh of tanh (third order)", {{3, 4, -2, 2}}, TG_OP { return tanh(tanh(v[0])); });
    cases.back().third_order = true;

    b.add("activation", "sigmoid", {{3, 4, -3, 3}}, TG_OP { return sigmoid(v[0]); });
    b.add("activation", "tanh", {{3, 4, -2, 2}}, TG_OP { return tanh(v[0]); });
    b.add("activation", "relu", {{3, 4, -1, 1, 0.0}}, TG_OP { return relu(v[0]); });
    b.add("activation", "softplus", {{3, 4, -3, 3}}, TG_OP { return softplus(v[0]); });

    b.add("derivative", "sigmoid_derivative", {{3, 4, -3, 3}}, TG_OP { return sigmoid_derivative(v[0]); });
    b.add("derivative", "tanh_derivative", {{3, 4, -2, 2}}, TG_OP { return tanh_derivative(v[0]); });
    b.add("derivative", "relu_derivative", {{3, 4, -1, 1, 0.0}}, TG_OP { return relu_derivative(v[0]) * v[0]; });
    b.add("derivative", "softplus_derivative", {{3, 4, -3, 3}}, TG_OP { return softplus_derivative(v[0]); });
    b.add("derivative", "identity_derivative", {{3, 4}}, TG_OP { return identity_derivative(v[0]) * v[0]; });
    // From the output: inputs in each activation's range (sigmoid (0, 1), tanh (-1, 1), softplus > 0).
    b.add("derivative", "sigmoid_derivative_from_output", {{3, 4, 0.05, 0.95}}, TG_OP { return sigmoid_derivative_from_output(v[0]); });
    b.add("derivative", "tanh_derivative_from_output", {{3, 4, -0.95, 0.95}}, TG_OP { return tanh_derivative_from_output(v[0]); });
    b.add("derivative", "softplus_derivative_from_output", {{3, 4, 0.05, 3}}, TG_OP { return softplus_derivative_from_output(v[0]); });

    b.add("reduction", "sum", {{3, 4}}, TG_OP { return sum(square(v[0])); });
    b.add("reduction", "mean", {{3, 4}}, TG_OP { return mean(square(v[0])); });
    b.add("reduction", "sum axis 0", {{3, 4}}, TG_OP { return sum(v[0], 0); });
    b.add("reduction", "sum axis 1", {{3, 4}}, TG_OP { return sum(v[0], 1); });
    b.add("reduction", "sum_abs", {{3, 4, -1, 1, 0.0}}, TG_OP { return sum_abs(v[0]); });
    b.add("reduction", "sum_of_squares axis 0", {{3, 4}}, TG_OP { return sum_of_squares(v[0], 0); });
    b.add("reduction", "sum_of_squares axis 1", {{3, 4}}, TG_OP { return sum_of_squares(v[0], 1); });
    b.add("reduction", "layer_jacobian_norm_sq", {{3, 4}, {4, 5}}, TG_OP { return layer_jacobian_norm_sq(v[0], v[1]); });
    b.add("reduction", "mean axis 0", {{3, 4}}, TG_OP { return mean(v[0], 0); });
    b.add("reduction", "mean axis 1", {{3, 4}}, TG_OP { return mean(v[0], 1); });

    b.add("loss", "mse", {{3, 4}, {3, 4}}, TG_OP { return mse(v[0], v[1]); });
    b.add("loss", "binary_cross_entropy", {{3, 4, 0.05, 0.95}, {3, 4, 0, 1}},
          TG_OP { return binary_cross_entropy(v[0], v[1]); });
    b.add("loss", "binary_cross_entropy_with_logits", {{3, 4, -4, 4}, {3, 4, 0, 1}},
          TG_OP { return binary_cross_entropy_with_logits(v[0], v[1]); });
    b.add("loss", "softmax_cross_entropy (4 rows, 3 classes)", {{4, 3, -3, 3}}, TG_OP {
        static const Matrix<T> labels{{2}, {0}, {1}, {2}};
        return softmax_cross_entropy(v[0], labels);
    });
    b.add("loss", "softmax_cross_entropy of an affine map (a probe)", {{5, 4}, {3, 4}, {1, 3}}, TG_OP {
        static const Matrix<T> labels{{1}, {0}, {2}, {2}, {1}};
        return softmax_cross_entropy(affine(v[0], v[1], v[2]), labels);
    });
    add_convolution_cases(b);
    b.add("convolution", "conv_kernel_gradient (images 4x4x1, maps 3x3x2; 2x2 window, stride 1)", {{2, 16}, {2, 18}},
          TG_OP {
              const ConvWindow w{2, 2, 1, 0};
              const ConvAttributes g{{4, 4, 1}, conv2d_output_shape("case", {4, 4, 1}, w, 2), w};
              return detail::conv_kernel_gradient(v[0], v[1], g);
          });
    return cases;
}

// Deliberately wrong gradients, which the checks must catch. Each is wrong in a way a weaker
// checker would miss: everywhere (the crudest), in one entry of the second parameter only
// (missed by a checker that looks only at entry 0 or only at the first parameter), and only in
// float32 (missed by a checker that compares float32 with float64 on the loss alone).
std::vector<Case> negative_controls() {
    std::vector<Case> cases;
    Builder b{cases};
    b.add("control", "negative control: sigmoid with a wrong backward (no 1 - y)", {{3, 4, -3, 3}}, TG_OP {
        const Var<T> x = v[0];
        return t.record(
            "wrong_sigmoid", x.shape(), {x}, [&](Node<T>& y) { xt::noalias(y.result) = 1.0 / (1.0 + xt::exp(-x.value())); },
            [](Node<T>& y) { add_grad(y.in(0), *y.grad * *y.value); }, nullptr);
    }, Control::wrong_everywhere);
    cases.back().higher_order = false;  // a first-order control: its op has no rule in ops
    b.add("control", "negative control: a * b with db(2, 1) off by 1 %", {{3, 4}, {3, 4}}, TG_OP {
        return t.record(
            "mul_wrong_in_one_entry", v[0].shape(), {v[0], v[1]},
            [&](Node<T>& y) { xt::noalias(y.result) = v[0].value() * v[1].value(); },
            [](Node<T>& y) {
                add_grad(y.in(0), *y.grad * *y.in(1).value);
                Matrix<T> db = *y.grad * *y.in(0).value;
                db(2, 1) *= T(1.01);
                add_grad(y.in(1), db);
            },
            nullptr);
    }, Control::wrong_one_entry);
    cases.back().higher_order = false;  // a first-order control: its op has no rule in ops
    b.add("control", "negative control: sigmoid whose float32 backward is 0.1 % large", {{3, 4, -3, 3}}, TG_OP {
        const Var<T> x = v[0];
        return t.record(
            "sigmoid_wrong_in_float32", x.shape(), {x},
            [&](Node<T>& y) { xt::noalias(y.result) = 1.0 / (1.0 + xt::exp(-x.value())); },
            [](Node<T>& y) {
                const T error = std::is_same_v<T, float> ? T(1.001) : T(1);
                add_grad(y.in(0), error * *y.grad * *y.value * (1 - *y.value));
            },
            nullptr);
    }, Control::wrong_in_float32);
    cases.back().higher_order = false;  // a first-order control: its op has no rule in ops
    // Gradients of gradients. A rule in ops with the right values but a detached factor: every
    // first-order check passes, the second-order one must not.
    b.add("control", "negative control: sigmoid whose rule in ops detaches y (1 - y)", {{3, 4, -3, 3}}, TG_OP {
        const Var<T> x = v[0];
        return t.record(
            "sigmoid_rule_detached", x.shape(), {x}, [&](Node<T>& y) { xt::noalias(y.result) = 1.0 / (1.0 + xt::exp(-x.value())); },
            [](Node<T>& y) { add_grad(y.in(0), *y.grad * *y.value * (1 - *y.value)); },
            [](RuleContext<T>& c) { c.dx[0] = c.dy * detach(sigmoid_derivative_from_output(c.y)); });
    }, Control::wrong_second_order);
    // A product whose rule drops b from da when b is data (needs no gradient): right with both
    // operands parameters (an ordinary case here, which must pass), wrong with b as data.
    auto mul_dropping_data = TG_OP {
        return t.record(
            "mul_rule_drops_data", v[0].shape(), {v[0], v[1]},
            [&](Node<T>& y) { xt::noalias(y.result) = v[0].value() * v[1].value(); },
            [](Node<T>& y) {
                if (y.in(0).requires_grad) add_grad(y.in(0), *y.grad * *y.in(1).value);
                if (y.in(1).requires_grad) add_grad(y.in(1), *y.grad * *y.in(0).value);
            },
            [](RuleContext<T>& c) {
                if (c.needs[0]) c.dx[0] = c.needs[1] ? c.dy * c.x[1] : c.dy;
                if (c.needs[1]) c.dx[1] = c.dy * c.x[0];
            });
    };
    b.add_with_data("control", "a * b whose rule drops b when b is data, both parameters", {{3, 4}, {3, 4}},
                    {false, false}, mul_dropping_data, Control::none);
    b.add_with_data("control", "negative control: a * b whose rule drops b when b is data [b as data]", {{3, 4}, {3, 4}},
                    {false, true}, mul_dropping_data, Control::wrong_rule_when_data);
    // The first-order checks' other two modes. Accumulated: a product whose backward assigns a's
    // gradient instead of adding to it (right when the gradient starts at zero, the fresh path).
    b.add("control", "negative control: a * b whose backward overwrites da", {{3, 4}, {3, 4}}, TG_OP {
        return t.record(
            "mul_overwrites_da", v[0].shape(), {v[0], v[1]},
            [&](Node<T>& y) { xt::noalias(y.result) = v[0].value() * v[1].value(); },
            [](Node<T>& y) {
                xt::noalias(*y.in(0).grad) = *y.grad * *y.in(1).value;  // `=`: drops what da held
                y.in(0).grad_written = true;
                add_grad(y.in(1), *y.grad * *y.in(0).value);
            },
            nullptr);
    }, Control::wrong_when_accumulated);
    cases.back().higher_order = false;  // a first-order control: its op has no rule in ops
    // Operand as data: a product whose backward scales da by 1.01 only when b takes no gradient.
    // With both operands parameters it is right (an ordinary case, which must pass); with b as
    // data, a's every entry is off.
    auto mul_wrong_when_b_is_data = TG_OP {
        return t.record(
            "mul_wrong_when_b_is_data", v[0].shape(), {v[0], v[1]},
            [&](Node<T>& y) { xt::noalias(y.result) = v[0].value() * v[1].value(); },
            [](Node<T>& y) {
                const T factor = y.in(1).requires_grad ? T(1) : T(1.01);
                if (y.in(0).requires_grad) add_grad(y.in(0), factor * *y.grad * *y.in(1).value);
                if (y.in(1).requires_grad) add_grad(y.in(1), *y.grad * *y.in(0).value);
            },
            nullptr);
    };
    b.add_with_data("control", "a * b whose backward is wrong when b is data, both parameters", {{3, 4}, {3, 4}},
                    {false, false}, mul_wrong_when_b_is_data, Control::none);
    cases.back().higher_order = false;
    b.add_with_data("control", "negative control: a * b whose backward is wrong when b is data [b as data]",
                    {{3, 4}, {3, 4}}, {false, true}, mul_wrong_when_b_is_data, Control::wrong_everywhere);
    cases.back().higher_order = false;
    return cases;
}

}  // namespace tg::gradcheck_cases
