#pragma once
// Gradients as values on the tape: reverse mode of any order.
//
// `grad(y, wrt)` (and `vjp(y, v, wrt)` for a non-scalar y) sweeps the recording backward from y, as `Tape::backward` does, but returns
// dy/dw for each w of `wrt` as a Var of w's shape and leaves every `Parameter::grad` alone.
//  * Numeric (the default): every op's fast backward, exactly the sweep `backward` runs, with
//    the gradients of `wrt` written into fresh leaves and no op outside their paths to y run.
//  * `create_graph`: every op's gradient rule written in ops (`Node::rule`) records its
//    vector-Jacobian product as new nodes on the same tape, so the results are ordinary Vars:
//    use them in further ops, call `backward` or `grad` on anything built from them, to any
//    order. An op without a rule is refused with its name.
// `wrt` may hold parameters, data marked with `Tape::variable`, and intermediate values; each
// gets its total derivative (through every path, intermediates of `wrt` included).
#include "tapegrad/ops/shape.hpp"

#include <span>
#include <vector>

namespace tg {

/// Options of `grad`.
struct GradOptions {
    bool create_graph = false;  ///< record the gradients as ops: differentiable again
    bool retain_graph = false;  ///< numeric mode: keep the recording for another sweep (create_graph always keeps it)
};

namespace detail {

template <class T>
struct HigherOrder {
    // Which nodes up to `last` lie on a path from some node of `wrt`: the only ones a sweep for
    // dy/dwrt needs to visit. Kept in the tape (no allocation after the first call).
    static void mark_paths(Tape<T>& t, const Var<T>* wrt, std::size_t count, std::size_t last) {
        std::vector<char>& on_path = t.on_path_;
        on_path.assign(t.size_, 0);
        for (std::size_t j = 0; j < count; ++j) on_path[wrt[j].node->index] = 1;
        for (std::size_t i = 0; i <= last; ++i) {
            const Node<T>& n = *t.nodes_[i];
            for (std::size_t k = 0; k < n.input_count && !on_path[i]; ++k) on_path[i] = on_path[n.inputs[k]->index];
        }
    }

    static void check(Tape<T>& t, Var<T> y, const Var<T>* wrt, std::size_t count) {
        t.check_live(y, "grad");
        if (t.consumed_)
            throw TapeError("grad: this recording was already consumed by an earlier backward; record the forward "
                            "pass again (or pass retain_graph = true)");
        for (std::size_t j = 0; j < count; ++j) {
            t.check_live(wrt[j], "grad");
            if (!wrt[j].node->requires_grad)
                throw TapeError("grad: wrt[" + std::to_string(j) + "] ('" + wrt[j].node->op + "', node " +
                                std::to_string(wrt[j].node->index) + ") takes no gradient: it is constant data or a " +
                                "frozen parameter, or computed from them only (mark data with Tape::variable)");
        }
    }

    // The fast backward of every op on the paths, the gradients of `wrt` redirected into
    // leaves recorded before the sweep (so they are readable even when the sweep consumes the
    // recording). Every flag and buffer pointer it changes is restored.
    static void numeric(Tape<T>& t, Var<T> y, const Matrix<T>* seed, const Var<T>* wrt, std::size_t count,
                        Var<T>* out, bool retain) {
        for (std::size_t j = 0; j < count; ++j) {
            Node<T>& r = t.next_node("gradient", NodeKind::constant, wrt[j].shape());
            ensure_shape(r.result, r.shape);
            r.value = &r.result;
            out[j] = t.var_of(r);
        }
        const std::size_t last = y.node->index;
        mark_paths(t, wrt, count, last);
        auto& kept = t.kept_state_;
        kept.resize(t.size_);
        for (std::size_t i = 0; i < t.size_; ++i) {
            Node<T>& n = *t.nodes_[i];
            kept[i] = {n.grad, n.requires_grad, n.grad_written};
            n.requires_grad = n.requires_grad && t.on_path_[i];
        }
        for (std::size_t j = 0; j < count; ++j) {
            Node<T>& w = *wrt[j].node;
            w.grad = &out[j].node->result;  // a second mention of w in wrt is copied below
            w.grad_written = false;
        }
        auto restore = [&] {
            for (std::size_t i = 0; i < kept.size(); ++i) {
                Node<T>& n = *t.nodes_[i];
                n.grad = kept[i].grad;
                n.requires_grad = kept[i].requires_grad;
                if (n.kind == NodeKind::parameter) n.grad_written = kept[i].grad_written;
            }
        };
        try {
            t.seed_and_sweep(y, seed, BackwardOptions{.retain_graph = retain});
        } catch (...) {
            restore();
            throw;
        }
        for (std::size_t j = 0; j < count; ++j) {
            Node<T>& w = *wrt[j].node;
            Matrix<T>& r = out[j].node->result;
            if (w.grad != &r) r = *w.grad;  // w named twice: the first result holds its gradient
            else if (!w.grad_written || w.index > last) std::fill(r.begin(), r.end(), T(0));
        }
        restore();
    }

    // Every op's rule on the paths, from `seed` (a Var of y's shape) down: the cotangents are
    // Vars, their sums recorded with `+`.
    static void symbolic(Tape<T>& t, Var<T> y, Var<T> seed, const Var<T>* wrt, std::size_t count, Var<T>* out) {
        const std::size_t last = y.node->index;
        mark_paths(t, wrt, count, last);
        std::vector<Var<T>>& cotangent = t.cotangents_;
        cotangent.assign(last + 1, Var<T>{});
        cotangent[last] = seed;
        for (std::size_t i = last + 1; i-- > 0;) {
            if (!t.on_path_[i] || !cotangent[i].node) continue;
            Node<T>& n = *t.nodes_[i];
            if (n.kind != NodeKind::op) continue;
            RuleContext<T> c{.node = n, .y = t.var_of(n), .dy = cotangent[i]};
            bool any = false;
            for (std::size_t k = 0; k < n.input_count; ++k) {
                c.x[k] = t.var_of(*n.inputs[k]);
                c.needs[k] = t.on_path_[n.inputs[k]->index] && n.inputs[k]->requires_grad;
                any |= c.needs[k];
            }
            if (!any) continue;
            if (!n.rule)
                throw TapeError("grad(create_graph): op '" + std::string(n.op) + "' (node " + std::to_string(i) +
                                ") has no gradient rule written in ops, so its gradient cannot be differentiated");
            n.rule(c);
            for (std::size_t k = 0; k < n.input_count; ++k) {
                if (!c.needs[k] || !c.dx[k].node) continue;
                const Node<T>& in = *n.inputs[k];
                if (c.dx[k].shape() != in.shape)
                    throw ShapeError("grad(create_graph): the rule of op '" + std::string(n.op) + "' (node " +
                                     std::to_string(i) + ") gave operand " + std::to_string(k) + " a gradient of shape " +
                                     to_string(c.dx[k].shape()) + " for a value of shape " + to_string(in.shape));
                Var<T>& sum = cotangent[in.index];
                sum = sum.node ? sum + c.dx[k] : c.dx[k];
            }
        }
        for (std::size_t j = 0; j < count; ++j) {
            const std::size_t w = wrt[j].node->index;
            out[j] = w <= last && cotangent[w].node ? cotangent[w] : full(t, wrt[j].shape(), 0.0);
        }
    }

    static void run(Var<T> y, const Var<T>* cotangent, std::span<const Var<T>> wrt, std::span<Var<T>> out, GradOptions o) {
        Tape<T>& t = *y.tape;
        if (out.size() != wrt.size())
            throw ShapeError("grad: room for " + std::to_string(out.size()) + " results but " + std::to_string(wrt.size()) +
                             " variables");
        check(t, y, wrt.data(), wrt.size());
        if (cotangent) {
            t.check_live(*cotangent, "grad");
            if (cotangent->shape() != y.shape())
                throw ShapeError("grad: the cotangent has shape " + to_string(cotangent->shape()) + " but y has shape " +
                                 to_string(y.shape()) + "; they must be equal");
        } else if (y.shape() != Shape{1, 1}) {
            throw TapeError("grad: y has shape " + to_string(y.shape()) +
                            "; a non-scalar y needs a cotangent of its shape (a vector-Jacobian product)");
        }
        if (o.create_graph)
            symbolic(t, y, cotangent ? *cotangent : full(t, Shape{1, 1}, 1.0), wrt.data(), wrt.size(), out.data());
        else
            numeric(t, y, cotangent ? &cotangent->value() : nullptr, wrt.data(), wrt.size(), out.data(), o.retain_graph);
    }
};

}  // namespace detail

/// dy/dw for each w of `wrt`, for a 1 x 1 y (see the top of this file).
template <class T>
std::vector<Var<T>> grad(Var<T> y, const std::vector<Var<T>>& wrt, GradOptions options = {}) {
    std::vector<Var<T>> out(wrt.size());
    detail::HigherOrder<T>::run(y, nullptr, wrt, out, options);
    return out;
}

/// The vector-Jacobian products v^T dy/dw for each w of `wrt`, for any y and a cotangent v of
/// y's shape (a Var: with create_graph, the result is differentiable in v too).
template <class T>
std::vector<Var<T>> vjp(Var<T> y, Var<T> cotangent, const std::vector<Var<T>>& wrt, GradOptions options = {}) {
    std::vector<Var<T>> out(wrt.size());
    detail::HigherOrder<T>::run(y, &cotangent, wrt, out, options);
    return out;
}

/// `grad` into the caller's `out` (one Var per entry of wrt): allocates nothing once the tape
/// has recorded the same step before. For a non-scalar y, pass its `cotangent`; else nullptr.
template <class T>
void grad_into(Var<T> y, const Var<T>* cotangent, std::span<const Var<T>> wrt, std::span<Var<T>> out, GradOptions options = {}) {
    detail::HigherOrder<T>::run(y, cotangent, wrt, out, options);
}

}  // namespace tg
