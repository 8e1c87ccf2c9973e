#include "cases.hpp"

namespace tg::gradcheck_cases {

namespace {

struct Builder {
    std::vector<Case>& cases;
    std::mt19937_64 rng{2024};

    // Adds a case whose parameters have the given shapes and value ranges; `op` maps the
    // parameters' Vars to the op's output, which is reduced with a fixed random weighting.
    struct Operand { std::size_t rows, cols; double lo = -1, hi = 1, away_from = std::numeric_limits<double>::quiet_NaN(); };

    void add(const std::string& family, const std::string& name, std::vector<Operand> operands,
             std::function<Var<D>(Tape<D>&, std::vector<Var<D>>&)> op) {
        Case c;
        c.name = name;
        c.family = family;
        for (std::size_t k = 0; k < operands.size(); ++k) {
            const Operand& o = operands[k];
            c.owned.push_back(std::make_unique<Parameter<D>>(
                std::string(1, char('a' + k)), random_matrix(rng, o.rows, o.cols, o.lo, o.hi, o.away_from)));
            c.parameters.push_back(c.owned.back().get());
        }
        auto weights = std::make_shared<Matrix<D>>();
        auto params = c.parameters;
        auto seed = rng();
        c.keep_alive = weights;
        c.loss = [params, op, weights, seed](Tape<D>& t) {
            std::vector<Var<D>> vars;
            for (Parameter<D>* p : params) vars.push_back(t.parameter(*p));
            Var<D> y = op(t, vars);
            if (y.shape() == Shape{1, 1}) return y;
            if (shape_of(*weights) != y.shape()) {
                std::mt19937_64 r(seed);
                *weights = random_matrix(r, y.rows(), y.cols());
            }
            return sum(y * t.constant(*weights, "R"));
        };
        cases.push_back(std::move(c));
    }
};

}  // namespace

std::vector<Case> op_cases() {
    std::vector<Case> cases;
    Builder b{cases};
    using V = std::vector<Var<D>>;
    using T = Tape<D>;

    b.add("linear", "matmul A B", {{3, 4}, {4, 5}}, [](T&, V& v) { return matmul(v[0], v[1]); });
    b.add("linear", "matmul A B^T", {{3, 4}, {5, 4}}, [](T&, V& v) { return matmul(v[0], v[1], Trans::N, Trans::T); });
    b.add("linear", "matmul A^T B", {{4, 3}, {4, 5}}, [](T&, V& v) { return matmul(v[0], v[1], Trans::T, Trans::N); });
    b.add("linear", "matmul A^T B^T", {{4, 3}, {5, 4}}, [](T&, V& v) { return matmul(v[0], v[1], Trans::T, Trans::T); });
    b.add("linear", "matmul A A (used twice)", {{4, 4}}, [](T&, V& v) { return matmul(v[0], v[0]); });
    b.add("linear", "affine X W^T + b", {{3, 4}, {5, 4}, {1, 5}}, [](T&, V& v) { return affine(v[0], v[1], v[2]); });
    b.add("linear", "affine X W + b", {{3, 4}, {4, 5}, {1, 5}},
          [](T&, V& v) { return affine(v[0], v[1], v[2], Trans::N); });
    b.add("linear", "tied W: affine(sigmoid(affine(X, W)), W^T)", {{3, 4}, {2, 4}, {1, 2}, {1, 4}},
          [](T&, V& v) { return affine(sigmoid(affine(v[0], v[1], v[2])), v[1], v[3], Trans::N); });

    b.add("elementwise", "add", {{3, 4}, {3, 4}}, [](T&, V& v) { return v[0] + v[1]; });
    b.add("elementwise", "add row broadcast", {{3, 4}, {1, 4}}, [](T&, V& v) { return v[0] + v[1]; });
    b.add("elementwise", "add column broadcast", {{3, 1}, {3, 4}}, [](T&, V& v) { return v[0] + v[1]; });
    b.add("elementwise", "sub scalar broadcast", {{3, 4}, {1, 1}}, [](T&, V& v) { return v[0] - v[1]; });
    b.add("elementwise", "sub", {{3, 4}, {3, 4}}, [](T&, V& v) { return v[0] - v[1]; });
    b.add("elementwise", "mul", {{3, 4}, {3, 4}}, [](T&, V& v) { return v[0] * v[1]; });
    b.add("elementwise", "mul row x column broadcast", {{1, 4}, {3, 1}}, [](T&, V& v) { return v[0] * v[1]; });
    b.add("elementwise", "mul x x (used twice)", {{3, 4}}, [](T&, V& v) { return v[0] * v[0]; });
    b.add("elementwise", "scale", {{3, 4}}, [](T&, V& v) { return 2.5 * v[0]; });
    b.add("elementwise", "add_scalar and negate", {{3, 4}}, [](T&, V& v) { return 1.0 - v[0]; });
    b.add("elementwise", "masked", {{3, 4}}, [](T& t, V& v) {
        static const Matrix<D> mask{{1, 0, 1, 1}, {0, 1, 1, 0}, {1, 1, 0, 1}};
        (void)t;
        return masked(v[0], mask);
    });
    b.add("elementwise", "square", {{3, 4}}, [](T&, V& v) { return square(v[0]); });
    b.add("elementwise", "abs", {{3, 4, -1, 1, 0.0}}, [](T&, V& v) { return abs(v[0]); });
    b.add("elementwise", "exp", {{3, 4}}, [](T&, V& v) { return exp(v[0]); });
    b.add("elementwise", "log", {{3, 4, 0.2, 2}}, [](T&, V& v) { return log(v[0]); });

    b.add("activation", "sigmoid", {{3, 4, -3, 3}}, [](T&, V& v) { return sigmoid(v[0]); });
    b.add("activation", "tanh", {{3, 4, -2, 2}}, [](T&, V& v) { return tanh(v[0]); });
    b.add("activation", "relu", {{3, 4, -1, 1, 0.0}}, [](T&, V& v) { return relu(v[0]); });
    b.add("activation", "softplus", {{3, 4, -3, 3}}, [](T&, V& v) { return softplus(v[0]); });

    b.add("derivative", "sigmoid_derivative", {{3, 4, -3, 3}}, [](T&, V& v) { return sigmoid_derivative(v[0]); });
    b.add("derivative", "tanh_derivative", {{3, 4, -2, 2}}, [](T&, V& v) { return tanh_derivative(v[0]); });
    b.add("derivative", "relu_derivative", {{3, 4, -1, 1, 0.0}}, [](T&, V& v) { return relu_derivative(v[0]) * v[0]; });
    b.add("derivative", "softplus_derivative", {{3, 4, -3, 3}}, [](T&, V& v) { return softplus_derivative(v[0]); });
    b.add("derivative", "identity_derivative", {{3, 4}}, [](T&, V& v) { return identity_derivative(v[0]) * v[0]; });

    b.add("reduction", "sum", {{3, 4}}, [](T&, V& v) { return sum(square(v[0])); });
    b.add("reduction", "mean", {{3, 4}}, [](T&, V& v) { return mean(square(v[0])); });
    b.add("reduction", "sum axis 0", {{3, 4}}, [](T&, V& v) { return sum(v[0], 0); });
    b.add("reduction", "sum axis 1", {{3, 4}}, [](T&, V& v) { return sum(v[0], 1); });
    b.add("reduction", "mean axis 0", {{3, 4}}, [](T&, V& v) { return mean(v[0], 0); });
    b.add("reduction", "mean axis 1", {{3, 4}}, [](T&, V& v) { return mean(v[0], 1); });

    b.add("loss", "mse (both operands)", {{3, 4}, {3, 4}}, [](T&, V& v) { return mse(v[0], v[1]); });
    b.add("loss", "binary_cross_entropy", {{3, 4, 0.05, 0.95}, {3, 4, 0, 1}},
          [](T&, V& v) { return binary_cross_entropy(v[0], v[1]); });
    b.add("loss", "binary_cross_entropy_with_logits", {{3, 4, -4, 4}, {3, 4, 0, 1}},
          [](T&, V& v) { return binary_cross_entropy_with_logits(v[0], v[1]); });
    return cases;
}

// A sigmoid whose backward forgets the (1 - y) factor: gradcheck must report it as failing.
Case negative_control() {
    std::vector<Case> cases;
    Builder b{cases};
    b.add("control", "negative control: sigmoid with a wrong backward", {{3, 4, -3, 3}}, [](Tape<D>&, auto& v) {
        Var<D> x = v[0];
        return x.tape->record(
            "wrong_sigmoid", x.shape(), {x},
            [&](Node<D>& y) { xt::noalias(y.result) = 1.0 / (1.0 + xt::exp(-x.value())); },
            [](Node<D>& y) { add_grad(y.in(0), *y.grad * *y.value); });
    });
    cases.back().expect_failure = true;
    return std::move(cases.back());
}

}  // namespace tg::gradcheck_cases
