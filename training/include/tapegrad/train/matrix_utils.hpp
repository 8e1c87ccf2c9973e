#pragma once
// Helpers shared by the trainer and the PCA baseline: precision conversion and the one
// comparable measure, the per-pixel MSE of the clean reconstruction.
#include <tapegrad/io/atomic_file.hpp>
#include <tapegrad/parallel.hpp>
#include <tapegrad/tape.hpp>
#include <tapegrad/tensor.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#ifdef __linux__
#include <sys/mman.h>
#endif

namespace tg::train {

// Takes the float data over (no copy when T is float).
template <class T>
tg::Matrix<T> take_as(tg::Matrix<float>&& m) {
    if constexpr (std::is_same_v<T, float>) {
        return std::move(m);
    } else {
        tg::Matrix<T> out = tg::make_matrix<T>(m.shape()[0], m.shape()[1]);
        std::copy(m.begin(), m.end(), out.begin());
        m = tg::Matrix<float>();
        return out;
    }
}

template <class To, class From>
tg::Matrix<To> converted(const tg::Matrix<From>& m) {
    tg::Matrix<To> out = tg::make_matrix<To>(m.shape()[0], m.shape()[1]);
    std::transform(m.begin(), m.end(), out.begin(), [](From v) { return To(v); });
    return out;
}

// Rows [first, first + count) of m.
template <class T>
tg::Matrix<T> row_block(const tg::Matrix<T>& m, std::size_t first, std::size_t count) {
    tg::Matrix<T> out = tg::make_matrix<T>(count, m.shape()[1]);
    std::copy(m.data() + first * m.shape()[1], m.data() + (first + count) * m.shape()[1], out.data());
    return out;
}

// Asks for every cache line of rows[i + ahead] (if there is one) while row i is copied. A
// shuffled row is a DRAM miss the hardware prefetcher cannot guess; asking a few rows ahead
// keeps several in flight: gathering Fashion-MNIST's 60,000 shuffled byte rows took 22 ms
// without, 11 ms with 4 rows ahead, 13 ms with 64 (a stand-alone loop, one thread, Zen 3).
inline void prefetch_row_ahead(const void* base, std::size_t row_bytes, std::span<const std::size_t> rows, std::size_t i) {
    constexpr std::size_t ahead = 4, line = 64;
    if (i + ahead >= rows.size()) return;
    const char* p = static_cast<const char*>(base) + rows[i + ahead] * row_bytes;
    for (std::size_t b = 0; b < row_bytes; b += line) __builtin_prefetch(p + b);
}

// out = the rows of m that `rows` names, in that order (out is reshaped only when its shape
// changes). Split over the worker pool: rows scattered over a large matrix wait on memory, and
// several copies in flight wait side by side.
template <class T>
void gather_rows(const tg::Matrix<T>& m, std::span<const std::size_t> rows, tg::Matrix<T>& out) {
    const std::size_t d = m.shape()[1];
    ensure_shape(out, Shape{rows.size(), d});
    parallel::for_rows(rows.size(), d, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t i = lo; i < hi; ++i) {
            prefetch_row_ahead(m.data(), d * sizeof(T), rows.first(hi), i);
            std::copy(m.data() + rows[i] * d, m.data() + (rows[i] + 1) * d, out.data() + i * d);
        }
    });
}

// Memory in whole 2 MiB pages with Linux's transparent huge pages asked for (advice: ignored
// where THP is off or elsewhere): every shuffled row of a 47 MB array is a TLB miss with 4 KiB
// pages. Gathering 60,000 shuffled byte rows (prefetched): 9.8 ms with 4 KiB pages, 8.2 ms with
// 2 MiB (a stand-alone loop, one thread, Zen 3). Blocks under 2 MiB are plainly aligned.
template <class T>
struct HugePageAllocator {
    using value_type = T;
    static constexpr std::size_t huge_page = std::size_t(2) << 20;
    HugePageAllocator() = default;
    template <class U>
    HugePageAllocator(const HugePageAllocator<U>&) {}
    T* allocate(std::size_t n) {
        const std::size_t bytes = n * sizeof(T);
        const std::size_t align = bytes < huge_page ? 64 : huge_page;
        void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
        if (p == nullptr) throw std::bad_alloc();
#ifdef __linux__
        if (align == huge_page) madvise(p, (bytes + align - 1) / align * align, MADV_HUGEPAGE);
#endif
        return static_cast<T*>(p);
    }
    void deallocate(T* p, std::size_t) { std::free(p); }
    friend bool operator==(const HugePageAllocator&, const HugePageAllocator&) { return true; }
};

using ByteLevels = std::vector<std::uint8_t, HugePageAllocator<std::uint8_t>>;

// Training rows kept as bytes: when every value of m is exactly float(k) / 255.0f for a byte k
// (what tg::io's idx loader makes of Fashion-MNIST's pixels, in float or widened to double), the
// bytes; otherwise none. Gathering a batch's scattered rows waits on memory (~8 % of a
// one-thread Fashion-MNIST epoch from floats); bytes are a quarter of the traffic, and
// gather_level_rows turns them back into the very same values.
template <class T>
ByteLevels byte_levels_of(const tg::Matrix<T>& m) {
    ByteLevels levels(m.size());
    for (std::size_t i = 0; i < m.size(); ++i) {
        const T v = m.data()[i];
        const float k = std::nearbyint(float(v) * 255.0f);
        if (!(k >= 0 && k <= 255) || T(k / 255.0f) != v || std::signbit(v)) return {};  // -0.0 is not +0.0's bits
        levels[i] = std::uint8_t(k);
    }
    return levels;
}

// gather_rows from byte_levels_of(m) (d values per row): the same values, bit for bit.
template <class T>
void gather_level_rows(const ByteLevels& levels, std::size_t d, std::span<const std::size_t> rows,
                       tg::Matrix<T>& out) {
    ensure_shape(out, Shape{rows.size(), d});
    parallel::for_rows(rows.size(), d, [&](std::size_t lo, std::size_t hi) {
        for (std::size_t i = lo; i < hi; ++i) {
            prefetch_row_ahead(levels.data(), d, rows.first(hi), i);
            const std::uint8_t* b = levels.data() + rows[i] * d;
            T* o = out.data() + i * d;
            for (std::size_t j = 0; j < d; ++j) o[j] = T(float(b[j]) / 255.0f);  // exact division, as the loader's
        }
    });
}

// sum over all elements of (a - b)^2, accumulated in double (float sums of 47M terms lose
// digits). Eight partial sums: one sum waits out each add's latency (measured 19.8 ms for
// 20,000 x 784 floats, a third of the main job's evaluation; eight: 3.0 ms). The order of the
// additions moves the result by float64 rounding only.
template <class T>
double sum_squared_difference(const tg::Matrix<T>& a, const tg::Matrix<T>& b) {
    constexpr std::size_t lanes = 8;
    double part[lanes] = {};
    const T* p = a.data();
    const T* q = b.data();
    const std::size_t n = a.size();
    std::size_t i = 0;
    for (; i + lanes <= n; i += lanes)
        for (std::size_t j = 0; j < lanes; ++j) {
            const double d = double(p[i + j]) - double(q[i + j]);
            part[j] += d * d;
        }
    for (; i < n; ++i) {
        const double d = double(p[i]) - double(q[i]);
        part[0] += d * d;
    }
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}

inline void write_json_file(const std::string& path, const nlohmann::json& j) {
    const std::string text = j.dump(2) + "\n";
    tg::io::write_file_atomically(path, [&](std::ostream& os) { os << text; });
}

}  // namespace tg::train
