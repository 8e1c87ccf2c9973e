#pragma once
// Elementwise work split over the framework's threads (tapegrad/parallel.hpp). Split by
// position only: every element is computed by the same expression whatever the thread count,
// so results do not depend on it. An op states its elementwise map once, as an xtensor
// expression of its operands, and runs it on each part's contiguous range of elements.
#include "tapegrad/parallel.hpp"
#include "tapegrad/tape.hpp"

#include <xsimd/xsimd.hpp>
#include <xtensor/xadapt.hpp>

#include <algorithm>
#include <tuple>
#include <vector>

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

// out (+)= the sum of the `blocks` consecutive blocks of `block` elements at `in` (the adjoint
// of copying a block: tile_rows, a repeated product's copies). Block by block over pieces of a
// few KiB, so every read is contiguous and the piece of `out` stays in L1; the additions run
// in block order whatever the split, so the sums do not depend on the threads.
template <class T>
void sum_blocks(const T* in, std::size_t blocks, std::size_t block, T* out, bool add) {
    constexpr std::size_t piece = 2048;
    for_elements(block, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t p = lo; p < hi; p += piece) {
            const std::size_t end = std::min(hi, p + piece);
            if (!add) std::fill(out + p, out + end, T(0));
            for (std::size_t c = 0; c < blocks; ++c) {
                const T* src = in + c * block;
                for (std::size_t i = p; i < end; ++i) out[i] += src[i];
            }
        }
    });
}

// The sum of chunk_sum(begin, size) over the chunks [begin, begin + size) of `chunk` units that
// cover [0, n), in double: chunks split over the threads, their sums added in chunk order, so the
// value does not depend on the thread count. One chunk (small work) is one direct call. A unit
// is one element, or a row of `unit_elements` (for the split's threshold). chunk_sum must not
// call sum_over_chunks itself: the partial sums live in one buffer per thread.
template <class F>
double sum_over_chunks(std::size_t n, std::size_t chunk, F chunk_sum, std::size_t unit_elements = 1) {
    if (n <= chunk) return n == 0 ? 0.0 : double(chunk_sum(std::size_t(0), n));
    const std::size_t chunks = (n + chunk - 1) / chunk;
    thread_local std::vector<double> partial;  // grows once, to the largest chunk count seen
    if (partial.size() < chunks) partial.resize(chunks);
    double* sums = partial.data();
    const std::size_t chunk_elements = std::max<std::size_t>(1, chunk * unit_elements);
    const std::size_t min_chunks = (min_elements_per_part + chunk_elements - 1) / chunk_elements;
    parallel::for_range(chunks, min_chunks, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t c = lo; c < hi; ++c) {
            const std::size_t begin = c * chunk;
            sums[c] = double(chunk_sum(begin, std::min(chunk, n - begin)));
        }
    }, 1);
    double total = 0;
    for (std::size_t c = 0; c < chunks; ++c) total += sums[c];
    return total;
}

// Columns [lo, hi) of a rows x cols array (boundaries on 16 columns: whole cache lines of floats).
template <class F>
void for_columns(std::size_t rows, std::size_t cols, F loop) {
    const std::size_t min_cols = rows == 0 ? cols : (min_elements_per_part + rows - 1) / rows;
    parallel::for_range(cols, min_cols < 16 ? 16 : min_cols, loop, 16);
}

// out[j] (+)= the sum over the rows of term(src(i, j)), for each of the cols columns of a
// rows x cols array; term maps a value or an xsimd batch of values alike. Split over blocks of
// columns: each column is summed over the rows in order whatever the threads (its path, SIMD or
// the scalar tail, depends only on the column, since parts start on multiples of 16 columns).
// A block of columns is held in registers over all the rows (a loop that adds each row into
// `out` in memory waits on a store and a reload per row: measured 6 % of a 32x16x32 step).
template <class T, class Term>
void column_sums(const T* src, std::size_t rows, std::size_t cols, T* out, bool add, Term term) {
    using Batch = xsimd::batch<T>;
    constexpr std::size_t w = Batch::size;
    static_assert(16 % w == 0, "parts start on multiples of 16 columns");
    for_columns(rows, cols, [&](std::size_t lo, std::size_t hi) {
        auto start = [&](std::size_t j) { return add ? Batch::load_unaligned(out + j) : Batch(T(0)); };
        std::size_t j = lo;
        for (; j + 2 * w <= hi; j += 2 * w) {
            Batch s0 = start(j), s1 = start(j + w);
            const T* row = src + j;
            for (std::size_t i = 0; i < rows; ++i, row += cols) {
                s0 += term(Batch::load_unaligned(row));
                s1 += term(Batch::load_unaligned(row + w));
            }
            s0.store_unaligned(out + j), s1.store_unaligned(out + j + w);
        }
        for (; j + w <= hi; j += w) {
            Batch s0 = start(j);
            const T* row = src + j;
            for (std::size_t i = 0; i < rows; ++i, row += cols) s0 += term(Batch::load_unaligned(row));
            s0.store_unaligned(out + j);
        }
        for (; j < hi; ++j) {
            T s = add ? out[j] : T(0);
            for (std::size_t i = 0; i < rows; ++i) s += term(src[i * cols + j]);
            out[j] = s;
        }
    });
}

}  // namespace tg::detail
