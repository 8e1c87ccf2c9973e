#pragma once
// The tape: a flat list of recorded nodes in the order the forward pass ran them. That order
// is already topological, so `backward` is one reverse sweep in which every node runs once.
//
// Speed by design:
//  * `clear()` forgets the recording but keeps every node and its buffers; the next forward
//    pass records into the same slots, so after the first step nothing is allocated unless a
//    shape changes.
//  * A node's backward is a plain function pointer (ops are capture-free lambdas), its
//    operands are node pointers: no std::function, no virtual call, no map lookups.
//  * Leaves refer to parameters and data in place; parameters accumulate straight into
//    `Parameter::grad`.
//  * An intermediate gradient is never zeroed: its first contribution assigns, later ones add
//    (see `grad_target` / `gemm_beta`).
#include "tapegrad/errors.hpp"
#include "tapegrad/parameter.hpp"
#include "tapegrad/tensor.hpp"

#include <xtensor/xnoalias.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace tg {

template <class T>
class Tape;

template <class T>
struct Node;

// A handle to a recorded value. Cheap to copy; valid until the tape is cleared.
template <class T>
struct Var {
    Tape<T>* tape = nullptr;
    Node<T>* node = nullptr;
    std::uint64_t generation = 0;

    const Matrix<T>& value() const { return *node->value; }
    Shape shape() const { return node->shape; }
    std::size_t rows() const { return node->shape[0]; }
    std::size_t cols() const { return node->shape[1]; }
    bool requires_grad() const { return node->requires_grad; }
    // The gradient after backward (only for values that require one).
    const Matrix<T>& grad() const { return *node->grad; }
};

enum class NodeKind : std::uint8_t { constant, parameter, op };

template <class T>
struct Node {
    using Backward = void (*)(Node&);
    static constexpr std::size_t max_inputs = 3;

    const char* op = "";
    NodeKind kind = NodeKind::op;
    Shape shape{0, 0};
    const Matrix<T>* value = nullptr;  // own result, or the leaf's array in place
    Matrix<T>* grad = nullptr;         // own gradient, or the parameter's
    std::array<Node*, max_inputs> inputs{};
    std::uint8_t input_count = 0;
    Backward backward = nullptr;
    double scalar = 0;           // an op's constant (scale factor, loss normaliser...)
    std::uint32_t flags = 0;     // an op's switches (transposes, axis...)
    bool requires_grad = false;
    bool grad_written = false;   // false until the first gradient contribution arrives
    bool retain_graph = false;   // this sweep must leave `saved` intact for another one
    Parameter<T>* parameter = nullptr;
    std::size_t index = 0;       // position on the tape, for messages and Graphviz

    Matrix<T> result;            // storage for an op's value
    Matrix<T> own_grad;          // storage for an op's gradient
    Matrix<T> saved;             // whatever else backward needs (e.g. sigmoid of the input)

    Node& in(std::size_t i) const { return *inputs[i]; }
    const Matrix<T>& out_value() const { return *value; }
    const Matrix<T>& out_grad() const { return *grad; }
};

// Resize only when the shape changes: the common case (same shape as last step) allocates
// nothing and costs two compares; the resize itself stays out of line.
template <class T>
[[gnu::noinline]] void resize_matrix(Matrix<T>& m, Shape s) { m.resize({s[0], s[1]}); }

template <class T>
inline void ensure_shape(Matrix<T>& m, Shape s) {
    if (m.shape()[0] != s[0] || m.shape()[1] != s[1]) [[unlikely]]
        resize_matrix(m, s);
}

// The first contribution to a gradient assigns, later ones add. Returns whether to add.
template <class T>
bool accumulate_into(Node<T>& n) {
    const bool add = n.grad_written;
    n.grad_written = true;
    return add;
}

// `grad(n) (+)= expr` for an expression of n's shape.
template <class T, class E>
void add_grad(Node<T>& n, E&& expr) {
    if (accumulate_into(n))
        xt::noalias(*n.grad) += std::forward<E>(expr);
    else
        xt::noalias(*n.grad) = std::forward<E>(expr);
}

// beta for a gemm that writes n's gradient: 0 for the first contribution, 1 to accumulate.
template <class T>
T gemm_beta(Node<T>& n) { return accumulate_into(n) ? T(1) : T(0); }

template <class T>
bool all_finite(const Matrix<T>& m) {
    const T* p = m.data();
    bool ok = true;
    for (std::size_t i = 0, n = m.size(); i < n; ++i) ok &= std::isfinite(p[i]);
    return ok;
}

struct BackwardOptions {
    bool retain_graph = false;  // keep the recording so backward can run again
};

template <class T>
class Tape {
public:
    Tape() = default;
    Tape(const Tape&) = delete;
    Tape& operator=(const Tape&) = delete;

    // Forget the recording (every Var made so far becomes stale) but keep all buffers.
    void clear() {
        size_ = 0;
        parameter_leaves_.clear();
        ++generation_;
        consumed_ = false;
    }

    // Data the graph reads but never differentiates. Referenced, not copied: keep `x` alive
    // and unchanged until backward has run.
    Var<T> constant(const Matrix<T>& x, const char* name = "constant") {
        Node<T>& n = next_node(name, NodeKind::constant, shape_of(x));
        n.value = &x;
        n.grad = nullptr;
        return var_of(n);
    }

    // A parameter read by this step. Its gradient accumulates into p.grad (zero it yourself).
    // Asking twice in one recording returns the same leaf, so a tied weight is one node with
    // two consumers in the graph.
    Var<T> parameter(Parameter<T>& p) {
        for (Node<T>* leaf : parameter_leaves_)
            if (leaf->parameter == &p) return var_of(*leaf);
        Node<T>& n = next_node(p.name.c_str(), NodeKind::parameter, p.shape());
        n.value = &p.value;
        n.parameter = &p;
        n.requires_grad = !p.frozen;
        n.grad = n.requires_grad ? &p.grad : nullptr;
        // Accumulate into p.grad, unless it is known to be zero: then the first contribution
        // may assign. (Pessimistically, the gradient counts as non-zero from now on.)
        n.grad_written = !(n.requires_grad && p.grad_is_zero);
        if (n.requires_grad) p.grad_is_zero = false;
        parameter_leaves_.push_back(&n);  // keeps its capacity across clear(): no allocation
        return var_of(n);
    }

    // Records an op: checks its operands belong to this recording, sizes its buffers, runs
    // `forward(result)` and stores `backward`. Ops call this; models never need to.
    template <class Forward>
    Var<T> record(const char* op, Shape shape, std::initializer_list<Var<T>> inputs, Forward&& forward,
                  typename Node<T>::Backward backward, double scalar = 0, std::uint32_t flags = 0) {
        Node<T>& n = next_node(op, NodeKind::op, shape);
        n.scalar = scalar;
        n.flags = flags;
        n.backward = backward;
        for (const Var<T>& v : inputs) {
            check_live(v, op);
            n.inputs[n.input_count++] = v.node;
            n.requires_grad |= v.node->requires_grad;
        }
        ensure_shape(n.result, shape);
        n.value = &n.result;
        if (n.requires_grad) {
            ensure_shape(n.own_grad, shape);
            n.grad = &n.own_grad;
        }
        forward(n);
        if (anomaly_mode && !all_finite(n.result))
            throw AnomalyError("anomaly: op '" + std::string(op) + "' (node " + std::to_string(n.index) +
                               ", shape " + to_string(shape) + ") produced NaN or Inf in its forward value");
        return var_of(n);
    }

    // Reverse sweep from a scalar root (seed 1).
    void backward(Var<T> root, BackwardOptions options = {}) {
        check_live(root, "backward");
        if (root.shape() != Shape{1, 1})
            throw TapeError("backward: the root has shape " + to_string(root.shape()) +
                            "; a non-scalar root needs a seed gradient of the same shape");
        seed_and_sweep(root, nullptr, options);
    }

    // Reverse sweep from any root with an explicit seed gradient dRoot.
    void backward(Var<T> root, const Matrix<T>& seed, BackwardOptions options = {}) {
        check_live(root, "backward");
        if (shape_of(seed) != root.shape())
            throw ShapeError("backward: seed gradient has shape " + to_string(shape_of(seed)) +
                             " but the root has shape " + to_string(root.shape()));
        seed_and_sweep(root, &seed, options);
    }

    bool anomaly_mode = false;  // check every forward value and gradient for NaN/Inf, name the op

    std::size_t size() const { return size_; }
    const Node<T>& node(std::size_t i) const { return *nodes_[i]; }

private:
    Node<T>& next_node(const char* op, NodeKind kind, Shape shape) {
        if (consumed_)
            throw TapeError(std::string(op) + ": recording onto a tape whose backward already ran; call clear() first");
        if (size_ == nodes_.size()) nodes_.push_back(std::make_unique<Node<T>>());
        Node<T>& n = *nodes_[size_];
        n.op = op;
        n.kind = kind;
        n.shape = shape;
        n.index = size_++;
        n.input_count = 0;
        n.backward = nullptr;
        n.requires_grad = false;
        n.grad_written = false;
        n.parameter = nullptr;
        n.grad = nullptr;
        return n;
    }

    Var<T> var_of(Node<T>& n) { return Var<T>{this, &n, generation_}; }

    void check_live(const Var<T>& v, const char* op) const {
        if (v.tape != this)
            throw TapeError(std::string(op) + ": operand belongs to another tape (or is an empty Var)");
        if (v.generation != generation_)
            throw TapeError(std::string(op) + ": operand '" + v.node->op +
                            "' was recorded before the last clear(); record the forward pass again");
    }

    void seed_and_sweep(Var<T> root, const Matrix<T>* seed, BackwardOptions options) {
        if (consumed_)
            throw TapeError("backward: this recording was already consumed by an earlier backward; "
                            "record the forward pass again (or pass retain_graph = true)");
        Node<T>& r = *root.node;
        if (!r.requires_grad) return;  // nothing upstream is trainable
        for (std::size_t i = 0; i < size_; ++i) {
            Node<T>& n = *nodes_[i];
            n.retain_graph = options.retain_graph;
            // Intermediate gradients from an earlier sweep over this recording are stale.
            if (n.kind == NodeKind::op) n.grad_written = false;
        }
        if (seed) {
            if (accumulate_into(r))
                xt::noalias(*r.grad) += *seed;
            else
                xt::noalias(*r.grad) = *seed;
        } else {
            if (accumulate_into(r))
                (*r.grad)(0, 0) += T(1);
            else
                (*r.grad)(0, 0) = T(1);
        }
        for (std::size_t i = r.index + 1; i-- > 0;) {
            Node<T>& n = *nodes_[i];
            // An unwritten gradient is zero: nothing to propagate.
            if (!n.backward || !n.requires_grad || !n.grad_written) continue;
            n.backward(n);
            if (anomaly_mode) check_gradients(n);
        }
        consumed_ = !options.retain_graph;
    }

    void check_gradients(const Node<T>& n) const {
        for (std::size_t k = 0; k < n.input_count; ++k) {
            const Node<T>& in = *n.inputs[k];
            if (in.requires_grad && in.grad_written && !all_finite(*in.grad))
                throw AnomalyError("anomaly: backward of op '" + std::string(n.op) + "' (node " +
                                   std::to_string(n.index) + ") produced NaN or Inf in the gradient of its input " +
                                   std::to_string(k) + " ('" + in.op + "', node " + std::to_string(in.index) + ")");
        }
    }

    std::vector<std::unique_ptr<Node<T>>> nodes_;
    std::vector<Node<T>*> parameter_leaves_;  // this recording's parameter leaves, few: a scan is fastest
    std::size_t size_ = 0;
    std::uint64_t generation_ = 1;
    bool consumed_ = false;
};

}  // namespace tg
