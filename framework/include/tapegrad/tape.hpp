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
//  * An op's constants (transpose switches, an axis, a scale factor) are a small named struct
//    stored inside the node (`Node::set_attributes` / `Node::attributes`): no heap, no capture.
//  * An intermediate gradient is never zeroed: its first contribution assigns, later ones add
//    (see `accumulate_into`, `add_grad`, `gemm_beta`).
#include "tapegrad/errors.hpp"
#include "tapegrad/parameter.hpp"
#include "tapegrad/tensor.hpp"

#include <xtensor/xnoalias.hpp>

#include <array>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace tg {

template <class T>
class Tape;

template <class T>
struct Node;

template <class T>
struct RuleContext;

namespace detail {
template <class T>
struct HigherOrder;  // grad.hpp: the sweeps of `grad`
}  // namespace detail

/// A handle to a recorded value. Cheap to copy; valid until the tape is cleared.
template <class T>
struct Var {
    Tape<T>* tape = nullptr;       ///< the tape that recorded it
    Node<T>* node = nullptr;       ///< the recorded node
    std::uint64_t generation = 0;  ///< the recording it belongs to (a `clear()` starts a new one)

    /// The value.
    const Matrix<T>& value() const { return *node->value; }
    /// Its shape (rows, cols).
    Shape shape() const { return node->shape; }
    /// Number of rows.
    std::size_t rows() const { return node->shape[0]; }
    /// Number of columns.
    std::size_t cols() const { return node->shape[1]; }
    /// Whether a gradient flows into it (a trainable parameter is upstream).
    bool requires_grad() const { return node->requires_grad; }
    /// The gradient after backward (only for values that require one).
    const Matrix<T>& grad() const { return *node->grad; }
};

/// What a node is: data the graph reads, a parameter leaf, data marked as a variable (it gets a
/// gradient of its own, like an op's value), or a recorded op.
enum class NodeKind : std::uint8_t { constant, parameter, variable, op };

/// What an op knows of its value's layout beyond the numbers, so that a product reading it can
/// skip work exactly (ops/patterned.hpp; the stacked Jacobian of jacobian.hpp is made of both):
///  - repeated: the rows are `pattern_blocks` copies of the first rows / pattern_blocks (tile_rows);
///  - unit_rows: a (units·B) x units matrix, units = pattern_blocks, whose row k·B + b is zero
///    outside column k for every value of its inputs (unit_cotangents, and an elementwise
///    product with such a matrix): structural zeros, whose derivatives are zero too.
enum class Pattern : std::uint8_t { dense, repeated, unit_rows };

/// The attributes of an op that has none (the default of `Tape::record`).
struct NoAttributes {};

/// Bytes a node reserves for its op's attributes. Sized for the largest op we plan: a
/// convolution's geometry (channels, height, width, kernel, stride and padding in both
/// directions: about ten `std::size_t`, 80 bytes) with room to spare.
inline constexpr std::size_t max_attribute_bytes = 96;

/// One recorded value: an op's output (or a leaf), its gradient buffer, its operands and its
/// backward. An op writes its own `result` and `saved` and its attributes; it writes other
/// nodes' gradients only through the helpers below (`add_grad`, `gemm_beta`, `accumulate_into`,
/// `hand_over_gradient`). The bookkeeping (`grad_written`, `grad`, `own_grad`, `retain_graph`)
/// belongs to the tape and those helpers.
template <class T>
struct Node {
    /// A node's backward: reads its own `grad` and adds into its inputs' gradients. A plain
    /// function pointer (ops pass capture-free lambdas), so a call is one indirect jump.
    using Backward = void (*)(Node&);
    /// The op's gradient rule written in ops: records dx = vjp(dy) as new nodes (grad.hpp).
    using Rule = void (*)(RuleContext<T>&);
    static constexpr std::size_t max_inputs = 3;  ///< the most operands an op may have

    const char* op = "";                ///< the op's name (or the leaf's), for messages and Graphviz
    NodeKind kind = NodeKind::op;       ///< constant, parameter or op
    Shape shape{0, 0};                  ///< shape of the value (and of the gradient)
    const Matrix<T>* value = nullptr;   ///< own result, or the leaf's array in place
    Matrix<T>* grad = nullptr;          ///< own gradient, or the parameter's
    std::array<Node*, max_inputs> inputs{};  ///< the operands, `input_count` of them
    std::uint8_t input_count = 0;       ///< how many of `inputs` are set
    Backward backward = nullptr;        ///< null for leaves and for ops no gradient flows through
    Rule rule = nullptr;                ///< null: grad(create_graph) refuses the op
    bool requires_grad = false;         ///< a trainable parameter is upstream
    bool grad_written = false;          ///< false until the first gradient contribution arrives
    bool retain_graph = false;          ///< this sweep must leave `saved` intact for another one
    Pattern pattern = Pattern::dense;   ///< set by the op's forward when it knows one
    std::size_t pattern_blocks = 1;     ///< the copies (repeated) or units (unit_rows)
    Parameter<T>* parameter = nullptr;  ///< the parameter of a parameter leaf
    std::size_t index = 0;              ///< position on the tape, for messages and Graphviz

    Matrix<T> result;                   ///< storage for an op's value
    Matrix<T> own_grad;                 ///< storage for an op's gradient
    Matrix<T> saved;                    ///< whatever else backward needs (e.g. sigmoid of the input)
    Matrix<T> scratch;                  ///< an op's working memory (e.g. col2im's input), kept for reuse

    /// Operand `i`.
    Node& in(std::size_t i) const { return *inputs[i]; }
    /// The value (an op's result or the leaf's array).
    const Matrix<T>& out_value() const { return *value; }
    /// The gradient buffer.
    const Matrix<T>& out_grad() const { return *grad; }

    /// Stores an op's named constants (e.g. `MatmulAttributes`) in the node, for its backward.
    /// In place, no allocation; `A` must be trivially copyable and fit `max_attribute_bytes`.
    template <class A>
    void set_attributes(const A& a) {
        static_assert(std::is_trivially_copyable_v<A>, "op attributes must be trivially copyable");
        static_assert(sizeof(A) <= max_attribute_bytes, "op attributes do not fit the node; raise max_attribute_bytes");
        static_assert(alignof(A) <= alignof(std::max_align_t), "op attributes are over-aligned");
        ::new (static_cast<void*>(attribute_storage_)) A(a);
        attribute_type_ = type_tag<A>();
    }

    /// The attributes the op stored with `set_attributes`, as the same struct (checked by an
    /// assertion in debug builds).
    template <class A>
    const A& attributes() const {
        assert(attribute_type_ == type_tag<A>() && "reading a node's attributes as a different struct");
        return *std::launder(reinterpret_cast<const A*>(attribute_storage_));
    }

private:
    template <class A>
    static const void* type_tag() {
        static constexpr char tag = 0;
        return &tag;
    }

    alignas(std::max_align_t) std::byte attribute_storage_[max_attribute_bytes];
    const void* attribute_type_ = nullptr;
};

/// What an op's gradient rule sees: its node (attributes, shapes), its output y and operands x as
/// Vars on the same tape, the cotangent dy (a Var of y's shape) and which operands need a
/// cotangent. It writes dx[k] for those, a Var of operand k's shape built from ops (so the
/// gradient is itself differentiable); an unwritten dx[k] means zero.
template <class T>
struct RuleContext {
    const Node<T>& node;
    Var<T> y, dy;
    std::array<Var<T>, Node<T>::max_inputs> x{}, dx{};
    std::array<bool, Node<T>::max_inputs> needs{};
    template <class A>
    const A& attributes() const { return node.template attributes<A>(); }
};

/// The rule of an op whose derivative is zero wherever it is defined (piecewise constant, or
/// without operands): it writes no cotangent.
template <class T>
void zero_rule(RuleContext<T>&) {}

/// Resizes `m` to `s`. Out of line: only `ensure_shape`'s rare path calls it.
template <class T>
[[gnu::noinline]] void resize_matrix(Matrix<T>& m, Shape s) { m.resize({s[0], s[1]}); }

/// Resizes `m` to `s` only when the shape changes: the common case (same shape as last step)
/// allocates nothing and costs two compares.
template <class T>
inline void ensure_shape(Matrix<T>& m, Shape s) {
    if (m.shape()[0] != s[0] || m.shape()[1] != s[1]) [[unlikely]]
        resize_matrix(m, s);
}

/// The first contribution to a gradient assigns, later ones add. Marks `n`'s gradient as
/// written and returns whether this contribution must add to it. An op that writes `*n.grad`
/// with a loop of its own asks here first.
template <class T>
bool accumulate_into(Node<T>& n) {
    const bool add = n.grad_written;
    n.grad_written = true;
    return add;
}

/// `grad(n) (+)= expr` for an expression of n's shape.
template <class T, class E>
void add_grad(Node<T>& n, E&& expr) {
    if (accumulate_into(n))
        xt::noalias(*n.grad) += std::forward<E>(expr);
    else
        xt::noalias(*n.grad) = std::forward<E>(expr);
}

/// beta for a gemm that writes n's gradient: 0 for the first contribution, 1 to accumulate.
template <class T>
T gemm_beta(Node<T>& n) { return accumulate_into(n) ? T(1) : T(0); }

/// Hands a gradient computed ahead of time over to `target` by swapping buffers: no pass.
/// `buffer` must hold target's complete gradient (an op may write it during its forward pass).
/// Swaps only when `target` is an op node whose gradient has not been written in this sweep
/// (there is nothing to add to) and the graph is not retained (`buffer` may be consumed); then
/// marks the gradient written and returns true, and `buffer` holds the target's old gradient
/// storage, for the op's next forward pass to overwrite. Otherwise changes nothing and returns
/// false: the op adds `buffer` with `add_grad` as usual. The one sanctioned way for an op to
/// replace another node's gradient buffer.
template <class T>
bool hand_over_gradient(Node<T>& target, Matrix<T>& buffer) {
    if (target.kind != NodeKind::op || !target.requires_grad || target.grad_written || target.retain_graph ||
        target.grad != &target.own_grad || shape_of(buffer) != target.shape)
        return false;
    std::swap(target.own_grad, buffer);
    target.grad_written = true;
    return true;
}

/// Whether every element of `m` is finite (no NaN, no Inf).
template <class T>
bool all_finite(const Matrix<T>& m) {
    const T* p = m.data();
    bool ok = true;
    for (std::size_t i = 0, n = m.size(); i < n; ++i) ok &= std::isfinite(p[i]);
    return ok;
}

/// Options of `Tape::backward`.
struct BackwardOptions {
    bool retain_graph = false;  ///< keep the recording so backward can run again
};

/// Records a forward pass and runs the reverse sweep over it. Reuse one tape across steps
/// with `clear()`: its buffers are kept.
template <class T>
class Tape {
public:
    Tape() = default;
    Tape(const Tape&) = delete;
    Tape& operator=(const Tape&) = delete;

    /// Forget the recording (every Var made so far becomes stale) but keep all buffers.
    void clear() {
        size_ = 0;
        parameter_leaves_.clear();
        ++generation_;
        consumed_ = false;
    }

    /// Data the graph reads but never differentiates. Referenced, not copied: keep `x` alive
    /// and unchanged until backward has run. `name` labels it in messages and Graphviz.
    Var<T> constant(const Matrix<T>& x, const char* name = "constant") {
        Node<T>& n = next_node(name, NodeKind::constant, shape_of(x));
        n.value = &x;
        n.grad = nullptr;
        return var_of(n);
    }

    /// Data marked as a variable: read in place like a constant (keep `x` alive and unchanged
    /// until the sweeps have run), but differentiable: `grad` may take it in `wrt` (the input of
    /// an energy or a Jacobian), and `backward` writes its gradient, read with `Var::grad()`.
    Var<T> variable(const Matrix<T>& x, const char* name = "variable") {
        Node<T>& n = next_node(name, NodeKind::variable, shape_of(x));
        n.value = &x;
        n.requires_grad = true;
        ensure_shape(n.own_grad, n.shape);
        n.grad = &n.own_grad;
        return var_of(n);
    }

    /// A parameter read by this step. Its gradient accumulates into p.grad (zero it yourself).
    /// Asking twice in one recording returns the same leaf, so a tied weight is one node with
    /// two consumers in the graph.
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

    /// Records an op: checks its operands belong to this recording, sizes its buffers, stores
    /// `attributes` (the op's named constants, e.g. `MatmulAttributes`; see
    /// `Node::set_attributes`), `backward` (the fast numeric one) and `rule` (the same gradient
    /// written in ops, for `grad` with create_graph; null refuses it), then runs
    /// `forward(node)`, which writes `node.result`. Ops call this; models never need to.
    /// Allocates nothing once the node's buffers have the shape.
    template <class Forward, class Attributes = NoAttributes>
    Var<T> record(const char* op, Shape shape, std::initializer_list<Var<T>> inputs, Forward&& forward,
                  typename Node<T>::Backward backward, typename Node<T>::Rule rule,
                  const Attributes& attributes = Attributes{}) {
        Node<T>& n = next_node(op, NodeKind::op, shape);
        n.set_attributes(attributes);
        n.backward = backward;
        n.rule = rule;
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

    /// Reverse sweep from a scalar root (seed 1).
    void backward(Var<T> root, BackwardOptions options = {}) {
        check_live(root, "backward");
        if (root.shape() != Shape{1, 1})
            throw TapeError("backward: the root has shape " + to_string(root.shape()) +
                            "; a non-scalar root needs a seed gradient of the same shape");
        seed_and_sweep(root, nullptr, options);
    }

    /// Reverse sweep from any root with an explicit seed gradient dRoot of the root's shape.
    void backward(Var<T> root, const Matrix<T>& seed, BackwardOptions options = {}) {
        check_live(root, "backward");
        if (shape_of(seed) != root.shape())
            throw ShapeError("backward: seed gradient has shape " + to_string(shape_of(seed)) +
                             " but the root has shape " + to_string(root.shape()));
        seed_and_sweep(root, &seed, options);
    }

    bool anomaly_mode = false;  ///< check every forward value and gradient for NaN/Inf, name the op

    /// Number of nodes in the current recording.
    std::size_t size() const { return size_; }
    /// Node `i` of the current recording, in recording order.
    const Node<T>& node(std::size_t i) const { return *nodes_[i]; }

private:
    friend struct detail::HigherOrder<T>;

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
        n.rule = nullptr;
        n.requires_grad = false;
        n.grad_written = false;
        n.pattern = Pattern::dense;
        n.pattern_blocks = 1;
        n.parameter = nullptr;
        n.grad = nullptr;
        n.set_attributes(NoAttributes{});
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
            if (n.kind == NodeKind::op || n.kind == NodeKind::variable) n.grad_written = false;
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
    // grad's working memory, kept across recordings (grad.hpp)
    struct KeptState {
        Matrix<T>* grad;
        bool requires_grad, grad_written;
    };
    std::vector<char> on_path_;
    std::vector<KeptState> kept_state_;
    std::vector<Var<T>> cotangents_;
    bool consumed_ = false;
};

}  // namespace tg
