#pragma once
// Elementwise work split over the framework's threads (tapegrad/parallel.hpp). Split by
// position only: every element is computed by the same expression whatever the thread count,
// so results do not depend on it. An op states its elementwise map once, as an xtensor
// expression of its operands, and runs it on each part's contiguous range of elements.
#include "tapegrad/parallel.hpp"
#include "tapegrad/tape.hpp"

#include <xtensor/xadapt.hpp>

#include <tuple>

namespace tg::detail {

inline constexpr std::size_t min_elements_per_part = parallel::min_elements_per_part;

// Elements lo..hi of a matrix's storage, as a 1-D xtensor without a copy.
template <class T>
auto flat_range(T* data, std::size_t lo, std::size_t hi) {
    return xt::adapt(data + lo, hi - lo, xt::no_ownership(), std::array<std::size_t, 1>{hi - lo});
}

// out = f(inputs...) elementwise; f takes its operands' ranges (by const reference) and
// returns an xtensor expression of them.
// Work for one part runs on the whole matrices directly: building the range views costs about
// as much as a small op's whole pass (measured on the 32x16x32 workload).
template <class T, class F, class... M>
void map_elements(Matrix<T>& out, F f, const M&... inputs) {
    if (parallel::parts_for(out.size(), min_elements_per_part) == 1) {
        xt::noalias(out) = f(inputs...);
        return;
    }
    parallel::for_range(out.size(), min_elements_per_part, [&](std::size_t lo, std::size_t hi) {
        auto dst = flat_range(out.data(), lo, hi);
        const auto in = std::make_tuple(flat_range(inputs.data(), lo, hi)...);
        std::apply([&](const auto&... v) { xt::noalias(dst) = f(v...); }, in);
    });
}

// grad(n) (+)= f(inputs...) elementwise (add_grad, by ranges).
template <class T, class F, class... M>
void add_grad_elements(Node<T>& n, F f, const M&... inputs) {
    const bool add = accumulate_into(n);
    if (parallel::parts_for(n.grad->size(), min_elements_per_part) == 1) {
        if (add) xt::noalias(*n.grad) += f(inputs...);
        else     xt::noalias(*n.grad) = f(inputs...);
        return;
    }
    parallel::for_range(n.grad->size(), min_elements_per_part, [&](std::size_t lo, std::size_t hi) {
        auto dst = flat_range(n.grad->data(), lo, hi);
        const auto in = std::make_tuple(flat_range(inputs.data(), lo, hi)...);
        std::apply([&](const auto&... v) {
            if (add) xt::noalias(dst) += f(v...);
            else     xt::noalias(dst) = f(v...);
        }, in);
    });
}

// A loop of the caller's over elements [lo, hi) of n-element storage, split over the threads.
template <class F>
void for_elements(std::size_t n, F loop) {
    parallel::for_range(n, min_elements_per_part, loop);
}

// Columns [lo, hi) of a rows x cols array (boundaries on 16 columns: whole cache lines of floats).
template <class F>
void for_columns(std::size_t rows, std::size_t cols, F loop) {
    const std::size_t min_cols = rows == 0 ? cols : (min_elements_per_part + rows - 1) / rows;
    parallel::for_range(cols, min_cols < 16 ? 16 : min_cols, loop, 16);
}

}  // namespace tg::detail
