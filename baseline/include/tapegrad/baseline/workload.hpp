#pragma once
// The standard training-step workload of benchmarks/WORKLOAD.md: variants, sizes and the exact
// initial values. Every implementation (framework, hand-coded baseline, outside references) takes
// its data from here, so that all of them start from identical bits.
#include <xtensor/xtensor.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tg::workload {

enum class Variant { tied, untied, sparse, contractive, denoising };

inline constexpr Variant all_variants[] = {Variant::tied, Variant::untied, Variant::sparse,
                                           Variant::contractive, Variant::denoising};

inline const char* name(Variant v) {
    switch (v) {
        case Variant::tied: return "tied";
        case Variant::untied: return "untied";
        case Variant::sparse: return "sparse";
        case Variant::contractive: return "contractive";
        case Variant::denoising: return "denoising";
    }
    return "unknown";
}

inline Variant parse_variant(std::string_view s) {
    for (Variant v : all_variants)
        if (s == name(v)) return v;
    throw std::invalid_argument("unknown autoencoder variant '" + std::string(s) +
                                "' (expected one of: tied, untied, sparse, contractive, denoising)");
}

// Only the decoder of the untied variant has its own weight matrix; every other variant reuses W.
inline bool is_tied(Variant v) { return v != Variant::untied; }

struct Size {
    std::size_t D, K, B;  // input dimension, hidden units, batch
};

// The four sizes of the workload, in the order benchmarks/WORKLOAD.md lists them.
inline constexpr Size standard_sizes[] = {{784, 64, 64}, {784, 256, 256}, {128, 1, 129}, {32, 16, 32}};

inline constexpr double lambda = 1e-3, learning_rate = 0.01;

// Counter-based uniform number in [0, 1): a splitmix64 finaliser of the counter, keeping the top
// 24 bits so that the value is exact in float as well as in double.
inline double uniform(std::uint64_t s, std::uint64_t i) {
    std::uint64_t z = ((s << 32) + i + 1) * 0x9E3779B97F4A7C15ull;  // wrapping is intended
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z = z ^ (z >> 31);
    return static_cast<double>(z >> 40) * 0x1p-24;
}

template <class T>
struct InitialValues {
    xt::xtensor<T, 2> X;   // B x D
    xt::xtensor<T, 2> W;   // K x D
    xt::xtensor<T, 2> b1;  // 1 x K
    xt::xtensor<T, 2> b2;  // 1 x D
    xt::xtensor<T, 2> W2;  // D x K, untied only, else empty (0 x 0)
    xt::xtensor<T, 2> M;   // B x D mask, denoising only, else empty (0 x 0)
};

namespace detail {
// rows x cols array whose flat row-major element i is f(i), computed in double and rounded once.
template <class T, class F>
xt::xtensor<T, 2> generate(std::size_t rows, std::size_t cols, F f) {
    auto a = xt::xtensor<T, 2>::from_shape({rows, cols});
    T* p = a.data();
    for (std::size_t i = 0; i < rows * cols; ++i) p[i] = static_cast<T>(f(static_cast<std::uint64_t>(i)));
    return a;
}
}  // namespace detail

template <class T>
InitialValues<T> make_initial_values(Variant v, Size n) {
    if (n.D == 0 || n.K == 0 || n.B == 0)
        throw std::invalid_argument("workload size must be positive in D, K and B, got " + std::to_string(n.D) +
                                    "x" + std::to_string(n.K) + "x" + std::to_string(n.B));
    const double sD = std::sqrt(static_cast<double>(n.D)), sK = std::sqrt(static_cast<double>(n.K));
    InitialValues<T> iv;
    iv.X = detail::generate<T>(n.B, n.D, [](std::uint64_t i) { return uniform(1, i); });
    iv.W = detail::generate<T>(n.K, n.D, [sD](std::uint64_t i) { return (2 * uniform(2, i) - 1) / sD; });
    iv.b1 = detail::generate<T>(1, n.K, [](std::uint64_t i) { return (2 * uniform(3, i) - 1) * 0.1; });
    iv.b2 = detail::generate<T>(1, n.D, [](std::uint64_t i) { return (2 * uniform(4, i) - 1) * 0.1; });
    iv.W2 = xt::xtensor<T, 2>::from_shape({0, 0});
    iv.M = xt::xtensor<T, 2>::from_shape({0, 0});
    if (v == Variant::untied)
        iv.W2 = detail::generate<T>(n.D, n.K, [sK](std::uint64_t i) { return (2 * uniform(5, i) - 1) / sK; });
    if (v == Variant::denoising)
        iv.M = detail::generate<T>(n.B, n.D, [](std::uint64_t i) { return uniform(6, i) >= 0.25 ? 1.0 : 0.0; });
    return iv;
}

}  // namespace tg::workload
