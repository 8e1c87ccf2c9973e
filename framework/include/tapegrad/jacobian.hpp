#pragma once
// Helpers built on gradients of gradients (grad.hpp): per-sample Jacobians computed in one
// stacked pass, Hessian-vector products, and the random-projection estimate of a Jacobian's
// squared Frobenius norm (Hoffman, Roberts & Yaida 2019).
#include "tapegrad/grad.hpp"
#include "tapegrad/random.hpp"

#include <cmath>
#include <span>
#include <vector>

namespace tg {

/// Options of `jacobian` and `jacobian_norm_sq_estimate`.
struct JacobianOptions {
    bool create_graph = false;  ///< record the Jacobian as ops (a penalty on it is differentiable)
};

namespace detail {
// x, differentiable: x itself when it takes a gradient, else its value marked as a variable.
template <class T>
Var<T> as_variable(Var<T> x) {
    return x.requires_grad() ? x : x.tape->variable(x.value(), "x");
}
}  // namespace detail

/// The Jacobians dy_b/dx_b of a row-wise function y = f(x) (row b of y depends on row b of x
/// only: a dense or convolutional encoder, not a batch statistic) with `units` outputs per row,
/// for all B rows of x at once: a (units·B) x D Var whose row k·B + b is dy_bk/dx_b.
/// Computed in one stacked pass, not a loop of `units` sweeps: f runs once on the units·B
/// stacked copies of x, and one reverse sweep with the cotangents e_k on copy k gives every
/// row. The stacked copies and the cotangents carry patterns (Node::pattern) that the products
/// use: f's first product on the copies is computed once and copied, and a product with the
/// cotangents (zero outside one column per row) costs a copy's worth, not `units` times more.
template <class T, class F>
Var<T> jacobian(F&& f, Var<T> x, std::size_t units, JacobianOptions options = {}) {
    const bool x_is_data = !x.requires_grad();
    Var<T> marked = detail::as_variable(x);
    Var<T> stacked = tile_rows(marked, units);
    Var<T> y = f(stacked);
    if (y.shape() != Shape{units * x.rows(), units})
        throw ShapeError("jacobian: f gave shape " + to_string(y.shape()) + " for " + std::to_string(units * x.rows()) +
                         " stacked rows; expected " + to_string(Shape{units * x.rows(), units}) + " (" + std::to_string(units) +
                         " units per row)");
    const Var<T> seed = unit_cotangents(*x.tape, x.rows(), units);
    Var<T> out;
    // retain_graph: the Jacobian is meant for further ops on this tape (a penalty, a norm)
    grad_into<T>(y, &seed, {&stacked, 1}, {&out, 1}, {.create_graph = options.create_graph, .retain_graph = true});
    // Data was marked differentiable only for this Jacobian: a later sweep (the penalty's
    // backward) need not compute the gradient of the stacked copies, a product as large as the
    // stacked forward's.
    if (x_is_data) stacked.node->requires_grad = marked.node->requires_grad = false;
    return out;
}

/// H v for the Hessian H of a scalar `loss` with respect to `wrt` and a direction `v` (one Var
/// per entry of wrt, of its shape): the gradient of <dloss/dwrt, v>, by reverse over reverse.
template <class T>
std::vector<Var<T>> hvp(Var<T> loss, const std::vector<Var<T>>& wrt, const std::vector<Var<T>>& v, GradOptions options = {}) {
    if (v.size() != wrt.size())
        throw ShapeError("hvp: " + std::to_string(v.size()) + " directions for " + std::to_string(wrt.size()) + " variables");
    const std::vector<Var<T>> g = grad(loss, wrt, {.create_graph = true});
    Var<T> dot = full(*loss.tape, Shape{1, 1}, 0.0);
    for (std::size_t k = 0; k < g.size(); ++k) dot = dot + sum(g[k] * v[k]);
    return grad(dot, wrt, options);
}

/// Fills `out` (rows x units) with one direction per row, uniform on the unit sphere of R^units:
/// normalised standard normals from the counter-based generator (random.hpp), keyed by
/// (seed, epoch, sample id, unit), so a sample's direction does not depend on its position in
/// the batch or on the thread count. A row of zeros (probability 0) stays zero.
template <class T>
void unit_sphere_rows(std::span<const std::uint64_t> sample_ids, std::uint64_t seed, std::uint64_t epoch,
                      std::size_t units, Matrix<T>& out) {
    random::standard_normal_rows(sample_ids, seed, epoch, units, out);
    for (std::size_t r = 0; r < sample_ids.size(); ++r) {
        T* row = out.data() + r * units;
        double norm = 0;
        for (std::size_t k = 0; k < units; ++k) norm += double(row[k]) * double(row[k]);
        if (norm > 0)
            for (std::size_t k = 0; k < units; ++k) row[k] = T(double(row[k]) / std::sqrt(norm));
    }
}

/// An unbiased estimate of sum_b ||dy_b/dx_b||_F^2 for y = f(x) with `units` outputs per row:
/// units · sum_b ||u_b^T J_b||^2 with u_b uniform on the unit sphere (E[u u^T] = I / units), one
/// direction per row, `directions` (rows x units, e.g. from unit_sphere_rows). One forward and
/// one reverse sweep over the batch, whatever the number of units.
template <class T, class F>
Var<T> jacobian_norm_sq_estimate(F&& f, Var<T> x, const Matrix<T>& directions, JacobianOptions options = {}) {
    Var<T> xv = detail::as_variable(x);
    Var<T> y = f(xv);
    if (y.shape() != shape_of(directions))
        throw ShapeError("jacobian_norm_sq_estimate: f gave shape " + to_string(y.shape()) + " but the directions have shape " +
                         to_string(shape_of(directions)));
    const Var<T> u = x.tape->constant(directions, "directions");
    Var<T> projected;
    grad_into<T>(y, &u, {&xv, 1}, {&projected, 1}, {.create_graph = options.create_graph, .retain_graph = true});
    return scale(sum(sum_of_squares(projected, 1)), double(y.cols()));
}

}  // namespace tg
