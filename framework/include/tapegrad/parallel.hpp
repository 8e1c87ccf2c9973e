#pragma once
// The framework's worker pool, for ops, losses, optimizers and BLAS calls to split their work
// (src/threads.cpp explains the mechanism). Work is split by *position* only: every element an
// op writes is computed the same way whatever the thread count, and reductions combine fixed
// blocks in a fixed order, so results do not depend on tg::num_threads().
#include <cstddef>
#include <type_traits>

namespace tg::parallel {

/// Elements per part below which an elementwise pass stays on one thread: a parallel region
/// costs about a microsecond to hand out and join, 16K floats of a cheap map a few microseconds.
inline constexpr std::size_t min_elements_per_part = 16384;

/// The pool's threads, the caller included (tg::num_threads()).
int threads();

/// Calls fn(ctx, t) for t = 0..parts-1: part 0 on the calling thread, the others on workers;
/// returns when all are done (rethrowing the first exception). parts is clamped to threads();
/// a call from inside a part runs its parts one after another on that thread.
void run(int parts, void (*fn)(void*, int), void* ctx);

template <class F>
void run(int parts, F&& f) {
    using Fn = std::remove_reference_t<F>;
    run(parts, [](void* c, int t) { (*static_cast<Fn*>(c))(t); }, static_cast<void*>(&f));
}

/// How many parts to split work of `size` units into when a part should hold at least
/// `min_per_part` of them: 1 (run inline) for small work.
inline int parts_for(std::size_t size, std::size_t min_per_part) {
    const int n = threads();
    if (n <= 1 || size < 2 * min_per_part) return 1;
    const std::size_t most = size / min_per_part;
    return most < std::size_t(n) ? int(most) : n;
}

/// Calls f(lo, hi) on contiguous ranges that cover [0, n), one per part; the boundaries are
/// multiples of `align` (a cache line of floats by default). Inline when n < 2 min_per_part.
template <class F>
void for_range(std::size_t n, std::size_t min_per_part, F&& f, std::size_t align = 16) {
    const int parts = parts_for(n, min_per_part);
    if (parts == 1) {
        if (n > 0) f(std::size_t(0), n);
        return;
    }
    auto bound = [&](int t) {
        const std::size_t b = (n * std::size_t(t) / std::size_t(parts) + align - 1) / align * align;
        return b < n ? b : n;
    };
    run(parts, [&](int t) {
        const std::size_t lo = t == 0 ? 0 : bound(t), hi = t + 1 == parts ? n : bound(t + 1);
        if (lo < hi) f(lo, hi);
    });
}

/// Calls loop(lo, hi) on ranges of the rows of a rows x cols array, a part holding at least
/// min_elements_per_part elements.
template <class F>
void for_rows(std::size_t rows, std::size_t cols, F&& loop) {
    const std::size_t min_rows = cols == 0 ? rows : (min_elements_per_part + cols - 1) / cols;
    for_range(rows, min_rows < 1 ? 1 : min_rows, loop, 1);
}

}  // namespace tg::parallel
