// The checks of gradients of gradients (grad.hpp): every case's rules in ops against its fast
// backward, and the case differentiated once or twice more against finite differences.
#include "higher_order.hpp"

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
    for (std::size_t k = 0; k < ruled.size(); ++k) {
        const Matrix<D>& fast = in.parameters[k]->grad;
        const double diff = std::sqrt(double(xt::sum(xt::square(ruled[k].value() - fast))()));
        const double ref = std::sqrt(double(xt::sum(xt::square(fast))()));
        worst = std::max(worst, diff == 0 ? 0.0 : diff / std::max(ref, 1e-300));
    }
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

}  // namespace tg::gradcheck_cases
