// The checks of gradients of gradients (grad.hpp): every case's rules in ops against its fast
// backward, and the case differentiated once or twice more against finite differences.
#include "higher_order.hpp"

#include <tapegrad/jacobian.hpp>

namespace tg::gradcheck_cases {

namespace {

// The leaves of `parameters` in the current recording (the loss made them; a parameter it did
// not read gets a fresh leaf, whose gradient is zero).
template <class T>
std::vector<Var<T>> leaves(Tape<T>& t, const std::vector<Parameter<T>*>& parameters) {
    std::vector<Var<T>> out;
    for (Parameter<T>* p : parameters) out.push_back(t.parameter(*p));
    return out;
}

}  // namespace

double rule_disagreement(Instance<D>& in) {
    Tape<D> tape;
    for (Parameter<D>* p : in.parameters) p->zero_grad();
    const Var<D> loss = in.loss(tape);
    const std::vector<Var<D>> ruled = grad(loss, leaves(tape, in.parameters), {.create_graph = true});
    tape.backward(loss);  // the fast backward, into the zeroed Parameter::grad
    double worst = 0;
    for (std::size_t k = 0; k < ruled.size(); ++k)
        worst = std::max(worst, normwise_relative(ruled[k].value(), in.parameters[k]->grad));
    return worst;
}

Instance<D> differentiated(const Instance<D>& base, int times, std::uint64_t seed) {
    Instance<D> d;
    d.parameters = base.parameters;
    d.keep_alive = base.keep_alive;
    auto directions = std::make_shared<std::vector<Matrix<D>>>();
    std::mt19937_64 rng(seed);
    for (int o = 0; o < times; ++o)
        for (Parameter<D>* p : base.parameters) directions->push_back(random_matrix(rng, p->value.shape()[0], p->value.shape()[1]));
    d.loss = [loss = base.loss, parameters = base.parameters, directions, times](Tape<D>& t) {
        Var<D> y = loss(t);
        for (int o = 0; o < times; ++o) {
            const std::vector<Var<D>> g = grad(y, leaves(t, parameters), {.create_graph = true});
            Var<D> next = full(t, Shape{1, 1}, 0.0);
            for (std::size_t k = 0; k < g.size(); ++k)
                next = next + sum(g[k] * t.constant((*directions)[std::size_t(o) * g.size() + k], "direction"));
            y = next;
        }
        return y;
    };
    return d;
}

JacobianCheck check_jacobian() {
    const std::size_t B = 3, inputs = 5, H = 4, K = 3;
    std::mt19937_64 rng(31);
    const Matrix<D> X = random_matrix(rng, B, inputs);
    Parameter<D> W1("W1", random_matrix(rng, H, inputs)), b1("b1", random_matrix(rng, 1, H)), W2("W2", random_matrix(rng, K, H)),
        b2("b2", random_matrix(rng, 1, K));
    auto encoder = [&](Tape<D>& t, Var<D> x) {
        return tanh(affine(sigmoid(affine(x, t.parameter(W1), t.parameter(b1))), t.parameter(W2), t.parameter(b2)));
    };
    // Central differences of the encoder: column i of J_b from rows b of f(X +- e E_bi).
    Matrix<D> reference = Matrix<D>::from_shape({K * B, inputs});
    const double e = 1e-6;
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t i = 0; i < inputs; ++i) {
            Matrix<D> up = X, down = X;
            up(b, i) += e;
            down(b, i) -= e;
            Tape<D> t1, t2;
            const Matrix<D> fu = encoder(t1, t1.constant(up)).value(), fd = encoder(t2, t2.constant(down)).value();
            for (std::size_t k = 0; k < K; ++k) reference(k * B + b, i) = (fu(b, k) - fd(b, k)) / (2 * e);
        }
    auto error = [&](const Matrix<D>& j) { return normwise_relative(j, reference); };
    JacobianCheck out;
    Tape<D> t;
    out.helper_error = error(jacobian([&](Var<D> x) { return encoder(t, x); }, t.constant(X), K).value());
    // The negative control: the same stacked pass with the last unit's cotangents left out.
    t.clear();
    Var<D> stacked = tile_rows(t.variable(X), K);
    Matrix<D> seed = unit_cotangents(t, B, K).value();
    for (std::size_t r = (K - 1) * B; r < K * B; ++r) seed(r, K - 1) = 0;
    out.control_error = error(vjp(encoder(t, stacked), t.constant(seed), {stacked})[0].value());
    return out;
}

}  // namespace tg::gradcheck_cases
