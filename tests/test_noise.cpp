// Counter-based noise and shuffling (tapegrad/random.hpp). The layout in the header's comment is
// a promise that resumed runs depend on, so it is re-implemented here from the comment alone, on
// Random123's own r123::Philox4x32 (stream numbers written out, not taken from the enum), and
// the library must match it bit for bit (masking, shuffle) or to float accuracy (Gaussian).
// Then: a sample's noise is independent of where it sits and of how rows are split; every
// counter field matters; the statistics are those of the distributions; errors name the limit.
#include <boost/test/unit_test.hpp>

#include "alloc_counter.hpp"

#include <tapegrad/random.hpp>

#include "framework/src/normal_kernels.hpp"  // Box-Muller's polynomials, swept over their domain
#include "framework/src/philox_kernels.hpp"  // the kernels, checked against Random123 directly

#include <Random123/philox.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

using tg::Matrix;
namespace rnd = tg::random;

namespace {

constexpr std::uint64_t two32 = std::uint64_t(1) << 32;
constexpr double pi = 3.141592653589793;
// The documented stream numbers (the fourth counter word).
constexpr std::uint32_t gaussian_stream = 1, shuffle_stream = 2, masking_stream = 3, masking_tie_stream = 4;

// ---- the layout, from the header's comment, on Random123 ----

r123::Philox4x32::ctr_type::value_type ref_word(std::uint64_t seed, std::uint32_t stream, std::uint64_t index,
                                                std::uint64_t epoch, std::uint64_t element) {
    const r123::Philox4x32::ctr_type c = {
        {std::uint32_t(element / 4), std::uint32_t(index), std::uint32_t(epoch), stream}};
    const r123::Philox4x32::key_type k = {{std::uint32_t(seed), std::uint32_t(seed >> 32)}};
    return r123::Philox4x32()(c, k).v[element % 4];
}

template <class T>
Matrix<T> ref_mask(const Matrix<T>& x, const std::vector<std::uint64_t>& ids, std::uint64_t seed,
                   std::uint64_t epoch, double p) {
    const auto threshold = std::uint64_t(std::llround(p * 4294967296.0));
    const std::uint64_t top = threshold >> 24, low = threshold % (1u << 24);
    Matrix<T> out = x;
    for (std::size_t r = 0; r < x.shape()[0]; ++r)
        for (std::size_t j = 0, ties = 0; j < x.shape()[1]; ++j) {
            const std::uint64_t b = (ref_word(seed, masking_stream, ids[r], epoch, j / 4) >> (8 * (j % 4))) % 256;
            if (b < top || (b == top && ref_word(seed, masking_tie_stream, ids[r], epoch, ties) % (1u << 24) < low))
                out(r, j) = T(0);
            ties += b == top;
        }
    return out;
}

// z for element j of sample `id`, in double.
double ref_normal(std::uint64_t seed, std::uint64_t id, std::uint64_t epoch, std::uint64_t j) {
    const std::uint32_t wa = ref_word(seed, gaussian_stream, id, epoch, j / 2 * 2);
    const std::uint32_t wb = ref_word(seed, gaussian_stream, id, epoch, j / 2 * 2 + 1);
    const double u1 = (double(wa >> 8) + 1) * 0x1p-24, u2 = double(wb >> 8) * 0x1p-24;
    const double r = std::sqrt(-2 * std::log(u1)), t = 2 * pi * u2 - pi / 4;
    return j % 2 == 0 ? r * std::cos(t) : r * std::sin(t);
}

// Fisher-Yates with Lemire's bounded draws, counting the redraws.
std::vector<std::size_t> ref_permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch, int* redraws) {
    std::vector<std::size_t> a(n);
    std::iota(a.begin(), a.end(), std::size_t{0});
    for (std::size_t i = n - 1; n > 1 && i >= 1; --i) {
        const std::uint64_t m = i + 1;
        std::uint64_t p = std::uint64_t(ref_word(seed, shuffle_stream, 0, epoch, i)) * m;
        for (std::uint32_t k = 1; (p % two32) < (two32 - m) % m; ++k) {
            p = std::uint64_t(ref_word(seed, shuffle_stream, k, epoch, i)) * m;
            ++*redraws;
        }
        std::swap(a[i], a[p >> 32]);
    }
    return a;
}

// ---- helpers ----

template <class T = float>
Matrix<T> filled(std::size_t rows, std::size_t cols, T v) {
    Matrix<T> m = tg::make_matrix<T>(rows, cols);
    m.fill(v);
    return m;
}

// Distinct values, so that a mask or a wrong source element shows.
template <class T = float>
Matrix<T> ramp(std::size_t rows, std::size_t cols) {
    Matrix<T> m = tg::make_matrix<T>(rows, cols);
    for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = T(1 + i % 1000) / T(1000);
    return m;
}

std::vector<std::uint64_t> iota_ids(std::size_t n, std::uint64_t first) {
    std::vector<std::uint64_t> v(n);
    std::iota(v.begin(), v.end(), first);
    return v;
}

template <class T>
bool same_values(const Matrix<T>& a, const Matrix<T>& b) {
    return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

template <class T>
bool row_equal(const Matrix<T>& a, std::size_t ra, const Matrix<T>& b, std::size_t rb) {
    const std::size_t c = a.shape()[1];
    return std::equal(a.data() + ra * c, a.data() + (ra + 1) * c, b.data() + rb * c);
}

template <class T>
std::size_t count_differences(const Matrix<T>& a, const Matrix<T>& b) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < a.size(); ++i) n += a.data()[i] != b.data()[i];
    return n;
}

// Pearson correlation of the pairs (a_i, b_i).
double correlation(const std::vector<double>& a, const std::vector<double>& b) {
    const double n = double(a.size());
    const double ma = std::accumulate(a.begin(), a.end(), 0.0) / n, mb = std::accumulate(b.begin(), b.end(), 0.0) / n;
    double sab = 0, saa = 0, sbb = 0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return sab / std::sqrt(saa * sbb);
}

bool is_permutation_of_iota(std::vector<std::size_t> v) {
    std::sort(v.begin(), v.end());
    for (std::size_t i = 0; i < v.size(); ++i)
        if (v[i] != i) return false;
    return true;
}

template <class F>
bool throws_naming(F&& f, const std::string& needle) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        const bool ok = std::string(e.what()).find(needle) != std::string::npos;
        if (!ok) BOOST_TEST_MESSAGE("message was: " << e.what());
        return ok;
    }
    return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(noise)

BOOST_AUTO_TEST_CASE(philox_equals_random123_bit_for_bit) {
    // Counters and keys from a fixed mix, with the words' extremes among them.
    std::uint64_t z = 0x243F6A8885A308D3ull;
    auto next = [&] { return z = z * 6364136223846793005ull + 1442695040888963407ull, std::uint32_t(z >> 32); };
    const std::uint32_t edges[] = {0u, 1u, 0x7fffffffu, 0x80000000u, 0xfffffff0u, 0xffffffffu};
    int mismatches = 0;
    for (int t = 0; t < 2000; ++t) {
        const rnd::Counter c = {t < 36 ? edges[t % 6] : next(), t < 36 ? edges[t / 6] : next(), next(), next()};
        const rnd::Key k = {t % 7 == 0 ? 0xffffffffu : next(), next()};
        const auto ref = r123::Philox4x32()({{c[0], c[1], c[2], c[3]}}, {{k[0], k[1]}});
        const rnd::Words w = rnd::philox4x32_10(c, k);
        for (int q = 0; q < 4; ++q) mismatches += w[q] != ref.v[q];
    }
    BOOST_TEST(mismatches == 0);

    // The vectorized kernels (the one this build uses and the portable one), every set count and
    // both output orders, with block numbers that wrap past 2^32 inside a call.
    using tg::random::detail::Order;
    auto check_kernels = [&](auto sets, std::uint32_t b0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3,
                             rnd::Key key) {
        constexpr int S = decltype(sets)::value;
        std::uint32_t e1[32 * S], e2[32 * S], a1[16 * S], b1[16 * S], a2[16 * S], b2[16 * S];
        rnd::detail::philox_sets<S, Order::element>(b0, c1, c2, c3, key, e1);
        rnd::detail::philox_sets_portable<S, Order::element>(b0, c1, c2, c3, key, e2, nullptr);
        rnd::detail::philox_sets<S, Order::pairs>(b0, c1, c2, c3, key, a1, b1);
        rnd::detail::philox_sets_portable<S, Order::pairs>(b0, c1, c2, c3, key, a2, b2);
        int bad = 0;
        for (int i = 0; i < 8 * S; ++i) {
            const auto ref =
                r123::Philox4x32()({{std::uint32_t(b0 + std::uint32_t(i)), c1, c2, c3}}, {{key[0], key[1]}});
            for (int q = 0; q < 4; ++q) bad += (e1[4 * i + q] != ref.v[q]) + (e2[4 * i + q] != ref.v[q]);
            const int s = i / 8, l = i % 8;
            bad += (a1[16 * s + l] != ref.v[0]) + (a1[16 * s + 8 + l] != ref.v[2]);
            bad += (b1[16 * s + l] != ref.v[1]) + (b1[16 * s + 8 + l] != ref.v[3]);
            bad += (a2[16 * s + l] != ref.v[0]) + (a2[16 * s + 8 + l] != ref.v[2]);
            bad += (b2[16 * s + l] != ref.v[1]) + (b2[16 * s + 8 + l] != ref.v[3]);
        }
        return bad;
    };
    for (int t = 0; t < 200; ++t) {
        const std::uint32_t b0 = t % 4 == 0 ? 0xffffffe0u + std::uint32_t(t % 32) : next();
        const std::uint32_t c1 = next(), c2 = next(), c3 = std::uint32_t(t % 3);
        const rnd::Key key = {next(), t % 5 == 0 ? 0u : next()};
        mismatches += check_kernels(std::integral_constant<int, 1>{}, b0, c1, c2, c3, key);
        mismatches += check_kernels(std::integral_constant<int, 2>{}, b0, c1, c2, c3, key);
        mismatches += check_kernels(std::integral_constant<int, 3>{}, b0, c1, c2, c3, key);
        mismatches += check_kernels(std::integral_constant<int, 4>{}, b0, c1, c2, c3, key);
    }
    BOOST_TEST(mismatches == 0);

    // The bulk words at unaligned offsets and lengths, and the scalar word.
    for (std::uint64_t first : {0ull, 1ull, 3ull, 130ull, 4294967000ull}) {
        for (std::size_t n : {std::size_t(1), std::size_t(5), std::size_t(127), std::size_t(129), std::size_t(600)}) {
            std::vector<std::uint32_t> w(n);
            rnd::words(0x0123456789abcdefull, rnd::Stream::gaussian, 77, 9, first, n, w.data());
            for (std::size_t i = 0; i < n; ++i) {
                const std::uint32_t ref = ref_word(0x0123456789abcdefull, gaussian_stream, 77, 9, first + i);
                const std::uint32_t one = rnd::word(0x0123456789abcdefull, rnd::Stream::gaussian, 77, 9, first + i);
                mismatches += (w[i] != ref) + (one != ref);
            }
        }
    }
    BOOST_TEST(mismatches == 0);
}

BOOST_AUTO_TEST_CASE(masking_follows_the_documented_layout) {
    // Every row length up to 520 (each tail length of the 512-element chunks: 128 words of
    // four bytes) and 784, sample ids at both ends of the range, a seed with both halves set.
    const std::vector<std::uint64_t> ids = {0, 1, 4294967295ull, 123456789};
    for (std::size_t cols = 1; cols <= 520; ++cols) {
        const Matrix<float> x = ramp(ids.size(), cols);
        Matrix<float> out;
        rnd::mask_rows(x, ids, 0xfedcba9876543210ull, 3, 0.3, out);
        if (!same_values(out, ref_mask(x, ids, 0xfedcba9876543210ull, 3, 0.3))) BOOST_ERROR("row length " << cols);
    }
    // Rows of 4,000 (~16 ties each, so several tie blocks), in double (the portable byte pass)
    // and float, with and without ties that count (p = 0.25 is a multiple of 2^-8: ties kept).
    for (const double p : {0.3, 0.25}) {
        const Matrix<double> x = ramp<double>(ids.size(), 4000);
        Matrix<double> out;
        rnd::mask_rows(x, ids, 42, 4294967295ull, p, out);
        BOOST_TEST(same_values(out, ref_mask(x, ids, 42, 4294967295ull, p)), "p = " << p);
        Matrix<float> outf;
        rnd::mask_rows(ramp(ids.size(), 4000), ids, 42, 4294967295ull, p, outf);
        BOOST_TEST(same_values(outf, ref_mask(ramp(ids.size(), 4000), ids, 42, 4294967295ull, p)), "p = " << p);
    }
    // float and double drop the same elements
    const Matrix<double> x = ramp<double>(ids.size(), 784);
    Matrix<double> out;
    rnd::mask_rows(x, ids, 42, 4294967295ull, 0.3, out);
    Matrix<float> outf;
    rnd::mask_rows(ramp(ids.size(), 784), ids, 42, 4294967295ull, 0.3, outf);
    std::size_t disagree = 0;
    for (std::size_t i = 0; i < out.size(); ++i) disagree += (out.data()[i] == 0) != (outf.data()[i] == 0);
    BOOST_TEST(disagree == 0u);
}

BOOST_AUTO_TEST_CASE(masking_threshold_is_exact) {
    BOOST_TEST(rnd::drop_threshold(0) == 0u);
    BOOST_TEST(rnd::drop_threshold(1) == two32);
    BOOST_TEST(rnd::drop_threshold(0.5) == two32 / 2);
    BOOST_TEST(rnd::drop_threshold(0.1) == 429496730u);  // 429496729.6 rounds up
    BOOST_TEST(rnd::drop_threshold(0x1p-33) == 1u);      // half a step rounds away from zero
    // With t = 2^24 b + g, b the byte of a one-column row's element and g the low 24 bits of its
    // tie word (tie 0 of the row), the element ties on its byte and is kept (g < g is false); at
    // t + 1 it is dropped.
    const Matrix<float> x = filled(1, 1, 1.0f);
    for (std::uint64_t id = 0; id < 10; ++id) {
        const std::vector<std::uint64_t> ids = {id};
        const std::uint64_t b = rnd::word(11, rnd::Stream::masking, id, 2, 0) % 256;
        const std::uint64_t t = (b << 24) + rnd::word(11, rnd::Stream::masking_tie, id, 2, 0) % (1u << 24);
        Matrix<float> out;
        rnd::mask_rows(x, ids, 11, 2, double(t) / 4294967296.0, out);
        BOOST_TEST(out(0, 0) == 1.0f);
        rnd::mask_rows(x, ids, 11, 2, double(t + 1) / 4294967296.0, out);
        BOOST_TEST(out(0, 0) == 0.0f);
    }
}

BOOST_AUTO_TEST_CASE(gaussian_follows_the_documented_formula) {
    const std::vector<std::uint64_t> ids = {0, 4294967295ull, 31337};
    double worst = 0;
    for (std::size_t cols : {std::size_t(1), std::size_t(2), std::size_t(3), std::size_t(33), std::size_t(97),
                             std::size_t(127), std::size_t(128), std::size_t(129), std::size_t(784)}) {
        const Matrix<float> x = ramp(ids.size(), cols);
        Matrix<float> out;
        rnd::add_gaussian_rows(x, ids, 0xfedcba9876543210ull, 8, 0.5, out);
        for (std::size_t r = 0; r < ids.size(); ++r)
            for (std::size_t j = 0; j < cols; ++j)
                worst = std::max(worst, std::abs(double(out(r, j)) -
                                                 (x(r, j) + 0.5 * ref_normal(0xfedcba9876543210ull, ids[r], 8, j))));
    }
    BOOST_TEST(worst < 1e-5);
    // double: x + sigma z with the same float z, so (out - x) / sigma is z to double rounding
    const Matrix<double> xd = ramp<double>(ids.size(), 200);
    Matrix<double> outd;
    rnd::add_gaussian_rows(xd, ids, 5, 6, 2.0, outd);
    double worst_d = 0;
    for (std::size_t r = 0; r < ids.size(); ++r)
        for (std::size_t j = 0; j < 200; ++j)
            worst_d = std::max(worst_d, std::abs((outd(r, j) - xd(r, j)) / 2.0 - ref_normal(5, ids[r], 6, j)));
    BOOST_TEST(worst_d < 1e-5);
}

BOOST_AUTO_TEST_CASE(box_muller_is_float_accurate_for_every_radius_and_angle) {
    // Every one of the 2^24 radius draws (a = wa >> 8), each paired with a different one of the
    // 2^24 angle draws (a bijection of a), against r cos t and r sin t in double. The error is
    // measured relative to r: ln u1, the root and sin/cos each contribute about one float ulp.
    namespace d = rnd::detail;
    constexpr std::size_t W = d::FloatBatch::size;
    alignas(64) std::uint32_t wa[W], wb[W];
    alignas(64) float zc[W], zs[W];
    double worst = 0;
    std::uint32_t worst_a = 0;
    for (std::uint32_t base = 0; base < (1u << 24); base += W) {
        for (std::size_t i = 0; i < W; ++i) {
            const std::uint32_t a = base + std::uint32_t(i);
            wa[i] = a << 8 | (a & 0xff);                               // low bits: ignored by the layout
            wb[i] = (a * 2654435769u) << 8 | (a >> 16);
        }
        d::normal_pairs(wa, wb, zc, zs);
        for (std::size_t i = 0; i < W; ++i) {
            const double u1 = (double(wa[i] >> 8) + 1) * 0x1p-24, u2 = double(wb[i] >> 8) * 0x1p-24;
            const double r = std::sqrt(-2 * std::log(u1)), t = 2 * pi * u2 - pi / 4;
            const double err = r == 0 ? std::abs(zc[i]) + std::abs(zs[i])
                                      : std::max(std::abs(zc[i] - r * std::cos(t)), std::abs(zs[i] - r * std::sin(t))) / r;
            if (err > worst) worst = err, worst_a = wa[i] >> 8;
        }
    }
    BOOST_TEST(worst < 4e-7, "worst error " << worst << " of r at radius draw " << worst_a);
}

BOOST_AUTO_TEST_CASE(a_sample_gets_the_same_noise_wherever_it_sits) {
    // Sample 42 in row 0 of one batch and row 5 of another batch, with different neighbours
    // and batch sizes; the rows of x are the same data (the sample), the rest differ.
    const std::vector<std::uint64_t> a = {42, 7, 9}, b = {100, 3, 8, 1, 2, 42, 77};
    Matrix<float> xa = ramp(a.size(), 784), xb = filled(b.size(), 784, 0.5f);
    std::copy_n(xa.data(), 784, xb.data() + 5 * 784);
    Matrix<float> oa, ob;
    rnd::mask_rows(xa, a, 3, 1, 0.4, oa);
    rnd::mask_rows(xb, b, 3, 1, 0.4, ob);
    BOOST_TEST(row_equal(oa, 0, ob, 5));
    BOOST_TEST(!row_equal(oa, 0, xa, 0));  // something was masked
    rnd::add_gaussian_rows(xa, a, 3, 1, 0.2, oa);
    rnd::add_gaussian_rows(xb, b, 3, 1, 0.2, ob);
    BOOST_TEST(row_equal(oa, 0, ob, 5));
}

BOOST_AUTO_TEST_CASE(splitting_rows_changes_nothing) {
    constexpr std::size_t B = 9;
    const std::vector<std::uint64_t> ids = {17, 4, 99, 5, 6, 1000000, 2, 8, 3};
    const Matrix<float> x = ramp(B, 300);
    Matrix<float> whole_m, whole_g;
    rnd::mask_rows(x, ids, 12, 4, 0.25, whole_m);
    rnd::add_gaussian_rows(x, ids, 12, 4, 0.25, whole_g);
    for (std::size_t k : {std::size_t(0), std::size_t(1), std::size_t(4), B}) {
        Matrix<float> m = filled(B, 300, -7.0f), g = filled(B, 300, -7.0f);
        rnd::mask_rows(x, ids, 12, 4, 0.25, m, k, B);  // the second part first
        rnd::mask_rows(x, ids, 12, 4, 0.25, m, 0, k);
        rnd::add_gaussian_rows(x, ids, 12, 4, 0.25, g, 0, k);
        rnd::add_gaussian_rows(x, ids, 12, 4, 0.25, g, k, B);
        BOOST_TEST(same_values(m, whole_m));
        BOOST_TEST(same_values(g, whole_g));
    }
    // a range form touches only its rows
    Matrix<float> part = filled(B, 300, -7.0f);
    rnd::mask_rows(x, ids, 12, 4, 0.25, part, 2, 3);
    BOOST_TEST(row_equal(part, 2, whole_m, 2));
    BOOST_TEST(row_equal(part, 0, filled(B, 300, -7.0f), 0));
    BOOST_TEST(row_equal(part, 3, filled(B, 300, -7.0f), 3));
    // in place (out is x) gives the same
    Matrix<float> inplace = x;
    rnd::mask_rows(inplace, ids, 12, 4, 0.25, inplace);
    BOOST_TEST(same_values(inplace, whole_m));
    inplace = x;
    rnd::add_gaussian_rows(inplace, ids, 12, 4, 0.25, inplace);
    BOOST_TEST(same_values(inplace, whole_g));
}

BOOST_AUTO_TEST_CASE(epochs_seeds_ids_and_streams_give_different_noise) {
    const std::vector<std::uint64_t> ids = {10, 11, 12, 13};
    const Matrix<float> x = filled(ids.size(), 784, 1.0f);
    auto mask = [&](std::uint64_t seed, std::uint64_t epoch, const std::vector<std::uint64_t>& i) {
        Matrix<float> out;
        rnd::mask_rows(x, i, seed, epoch, 0.5, out);
        return out;
    };
    auto gauss = [&](std::uint64_t seed, std::uint64_t epoch, const std::vector<std::uint64_t>& i) {
        Matrix<float> out;
        rnd::add_gaussian_rows(x, i, seed, epoch, 1.0, out);
        return out;
    };
    // Two independent p = 0.5 masks differ in about half the places; Gaussian noise everywhere.
    const std::size_t n = ids.size() * 784, some = n / 3;
    const Matrix<float> m0 = mask(1, 0, ids), g0 = gauss(1, 0, ids);
    BOOST_TEST(count_differences(m0, mask(1, 1, ids)) > some);                    // epoch
    BOOST_TEST(count_differences(m0, mask(2, 0, ids)) > some);                    // seed, low word
    BOOST_TEST(count_differences(m0, mask(1 + two32, 0, ids)) > some);            // seed, high word
    BOOST_TEST(count_differences(m0, mask(1, 0, {14, 15, 16, 17})) > some);       // sample ids
    BOOST_TEST(count_differences(g0, gauss(1, 1, ids)) == n);
    BOOST_TEST(count_differences(g0, gauss(1 + two32, 0, ids)) == n);
    BOOST_TEST(count_differences(g0, gauss(1, 0, {14, 15, 16, 17})) == n);
    BOOST_TEST(count_differences(m0, mask(1, 0, ids)) == 0u);  // and the same arguments, the same noise
    // Streams: the same (seed, index, epoch, element) gives unrelated words in each stream.
    std::vector<std::uint32_t> w[3];
    const rnd::Stream streams[3] = {rnd::Stream::masking, rnd::Stream::gaussian, rnd::Stream::shuffle};
    for (int s = 0; s < 3; ++s) {
        w[s].resize(1000);
        rnd::words(1, streams[s], 10, 0, 0, 1000, w[s].data());
    }
    for (int s = 0; s < 3; ++s)
        for (int t = s + 1; t < 3; ++t) {
            std::size_t same = 0;
            for (std::size_t i = 0; i < 1000; ++i) same += w[s][i] == w[t][i];
            BOOST_TEST(same == 0u, "streams " << s << " and " << t);
        }
}

BOOST_AUTO_TEST_CASE(masking_rate_is_p) {
    const Matrix<float> x = filled(64, 784, 1.0f);
    const std::vector<std::uint64_t> ids = iota_ids(64, 1000);
    const double n = 64.0 * 784 * 4;  // four epochs
    for (double p : {0.1, 0.25, 0.5}) {
        double dropped = 0;
        for (std::uint64_t epoch = 0; epoch < 4; ++epoch) {
            Matrix<float> out;
            rnd::mask_rows(x, ids, 99, epoch, p, out);
            for (float v : out) dropped += v == 0.0f;
        }
        const double se = std::sqrt(p * (1 - p) / n);
        BOOST_TEST(std::abs(dropped / n - p) < 5 * se, "p = " << p << ": rate " << dropped / n);
    }
    const Matrix<float> xr = ramp(64, 784);
    Matrix<float> out;
    rnd::mask_rows(xr, ids, 99, 0, 0.0, out);
    BOOST_TEST(same_values(out, xr));  // p = 0: nothing
    rnd::mask_rows(xr, ids, 99, 0, 1.0, out);
    BOOST_TEST(std::all_of(out.begin(), out.end(), [](float v) { return v == 0.0f; }));  // p = 1: everything
    rnd::mask_rows(xr, ids, 99, 0, 1.0 - 0x1p-40, out);  // rounds to 2^32: everything, too
    BOOST_TEST(std::all_of(out.begin(), out.end(), [](float v) { return v == 0.0f; }));
}

BOOST_AUTO_TEST_CASE(gaussian_mean_and_variance) {
    const Matrix<float> x = filled(64, 784, 0.0f);
    const std::vector<std::uint64_t> ids = iota_ids(64, 5000);
    for (double sigma : {1.0, 0.3}) {
        double s1 = 0, s2 = 0, within = 0, n = 0;
        for (std::uint64_t epoch = 0; epoch < 4; ++epoch) {
            Matrix<float> out;
            rnd::add_gaussian_rows(x, ids, 21, epoch, sigma, out);
            for (float v : out) {
                s1 += v;
                s2 += double(v) * v;
                within += std::abs(v) < sigma;
                ++n;
            }
        }
        const double mean = s1 / n, var = s2 / n - mean * mean;
        BOOST_TEST(std::abs(mean) < 5 * sigma / std::sqrt(n), "mean " << mean);
        BOOST_TEST(std::abs(var - sigma * sigma) < 5 * sigma * sigma * std::sqrt(2 / n), "variance " << var);
        const double p1 = 0.6826894921370859;  // P(|z| < 1)
        BOOST_TEST(std::abs(within / n - p1) < 5 * std::sqrt(p1 * (1 - p1) / n), "within one sigma " << within / n);
    }
}

BOOST_AUTO_TEST_CASE(neighbouring_draws_are_uncorrelated) {
    constexpr std::size_t B = 64, D = 784;
    const std::vector<std::uint64_t> ids = iota_ids(B, 300);  // consecutive sample ids
    Matrix<float> m, g;
    rnd::mask_rows(filled(B, D, 1.0f), ids, 8, 2, 0.5, m);
    rnd::add_gaussian_rows(filled(B, D, 0.0f), ids, 8, 2, 1.0, g);
    for (const Matrix<float>* v : {&m, &g}) {
        std::vector<double> a, b, c, d;
        for (std::size_t r = 0; r < B; ++r)
            for (std::size_t j = 0; j + 1 < D; ++j) {
                a.push_back((*v)(r, j));
                b.push_back((*v)(r, j + 1));
            }
        for (std::size_t r = 0; r + 1 < B; ++r)
            for (std::size_t j = 0; j < D; ++j) {
                c.push_back((*v)(r, j));
                d.push_back((*v)(r + 1, j));
            }
        const char* what = v == &m ? "masking" : "gaussian";
        BOOST_TEST(std::abs(correlation(a, b)) < 5 / std::sqrt(double(a.size())), what << ", within a row");
        BOOST_TEST(std::abs(correlation(c, d)) < 5 / std::sqrt(double(c.size())), what << ", across samples");
    }
    // the two members of each Box-Muller pair, r cos t and r sin t, are uncorrelated too
    std::vector<double> even, odd;
    for (std::size_t r = 0; r < B; ++r)
        for (std::size_t j = 0; j + 1 < D; j += 2) {
            even.push_back(g(r, j));
            odd.push_back(g(r, j + 1));
        }
    BOOST_TEST(std::abs(correlation(even, odd)) < 5 / std::sqrt(double(even.size())));
}

BOOST_AUTO_TEST_CASE(permutation_is_a_reproducible_permutation) {
    for (std::size_t n : {0, 1, 2, 3, 127, 128, 129, 1000, 60000}) {
        const std::vector<std::size_t> p = rnd::permutation(n, 5, 3);
        BOOST_TEST(p.size() == n);
        BOOST_TEST(is_permutation_of_iota(p), "n = " << n);
        BOOST_TEST(p == rnd::permutation(n, 5, 3));  // same (seed, epoch): same order
        if (n >= 127) {
            BOOST_TEST(p != rnd::permutation(n, 5, 4), "n = " << n);          // another epoch
            BOOST_TEST(p != rnd::permutation(n, 5 + two32, 3), "n = " << n);  // another seed
        }
    }
    // the vector form reuses the caller's vector and gives the same order
    std::vector<std::size_t> v(7, 99);
    rnd::permutation(60000, 5, 3, v);
    BOOST_TEST(v == rnd::permutation(60000, 5, 3));
}

BOOST_AUTO_TEST_CASE(permutation_follows_the_documented_algorithm) {
    int redraws = 0;
    for (std::uint64_t seed = 0; seed < 40; ++seed) {
        const std::uint64_t epoch = seed * 7919 % 13;
        if (rnd::permutation(60000, seed, epoch) != ref_permutation(60000, seed, epoch, &redraws))
            BOOST_ERROR("seed " << seed);
    }
    for (std::size_t n : {2, 3, 5, 128, 129, 300})
        if (rnd::permutation(n, 77, 1) != ref_permutation(n, 77, 1, &redraws)) BOOST_ERROR("n = " << n);
    BOOST_TEST(redraws > 0);  // the rejection path ran (and agreed)
}

BOOST_AUTO_TEST_CASE(permutation_first_element_is_uniform) {
    constexpr std::size_t n = 10, seeds = 20000;
    std::vector<double> count(n, 0);
    for (std::uint64_t seed = 0; seed < seeds; ++seed) count[rnd::permutation(n, seed, 0)[0]] += 1;
    const double expected = double(seeds) / n;
    double chi2 = 0;
    for (double c : count) chi2 += (c - expected) * (c - expected) / expected;
    BOOST_TEST(chi2 < 40.0);  // 9 degrees of freedom: P(chi2 > 40) < 1e-5
}

BOOST_AUTO_TEST_CASE(errors_name_the_limit) {
    const Matrix<float> x = filled(2, 5, 1.0f);
    Matrix<float> out = filled(2, 5, 3.0f);
    const std::vector<std::uint64_t> bad_id = {1, two32}, ok = {1, 2};
    BOOST_TEST(throws_naming([&] { rnd::mask_rows(x, bad_id, 1, 0, 0.5, out); }, "sample id 4294967296 (row 1)"));
    BOOST_TEST(throws_naming([&] { rnd::mask_rows(x, bad_id, 1, 0, 0.5, out); }, "2^32"));
    BOOST_TEST(throws_naming([&] { rnd::add_gaussian_rows(x, bad_id, 1, 0, 0.5, out); }, "2^32"));
    BOOST_TEST(throws_naming([&] { rnd::mask_rows(x, bad_id, 1, 0, 0.5, out, 1, 2); }, "2^32"));
    BOOST_TEST(throws_naming([&] { rnd::word(1, rnd::Stream::masking, two32, 0, 0); }, "2^32"));
    BOOST_TEST(throws_naming([&] { rnd::mask_rows(x, ok, 1, two32, 0.5, out); }, "epoch 4294967296"));
    BOOST_TEST(throws_naming([&] { rnd::add_gaussian_rows(x, ok, 1, two32, 0.5, out); }, "epoch"));
    BOOST_TEST(throws_naming([&] { rnd::permutation(10, 1, two32); }, "epoch"));
    BOOST_TEST(throws_naming([&] { rnd::word(1, rnd::Stream::masking, 0, 0, std::uint64_t(1) << 34); }, "2^34"));
    BOOST_TEST(throws_naming([&] { rnd::mask_rows(x, ok, 1, 0, 1.5, out); }, "[0, 1]"));
    BOOST_TEST(throws_naming([&] { rnd::mask_rows(x, ok, 1, 0, std::nan(""), out); }, "[0, 1]"));
    BOOST_TEST(throws_naming([&] { rnd::add_gaussian_rows(x, ok, 1, 0, -1.0, out); }, "sigma"));
    BOOST_TEST(throws_naming([&] { rnd::add_gaussian_rows(x, ok, 1, 0, INFINITY, out); }, "sigma"));
    const std::vector<std::uint64_t> one_id = {1};
    BOOST_TEST(throws_naming([&] { rnd::mask_rows(x, one_id, 1, 0, 0.5, out); }, "1 sample ids"));
    Matrix<float> wrong = filled(3, 5, 0.0f);
    BOOST_TEST(throws_naming([&] { rnd::mask_rows(x, ok, 1, 0, 0.5, wrong, 0, 2); }, "does not resize"));
    BOOST_TEST(throws_naming([&] { rnd::mask_rows(x, ok, 1, 0, 0.5, out, 1, 3); }, "rows [1, 3)"));
    BOOST_TEST(same_values(out, filled(2, 5, 3.0f)));  // nothing was written before an error
    BOOST_TEST(wrong.shape()[0] == 3u);
}

BOOST_AUTO_TEST_CASE(nothing_is_allocated_when_out_has_the_shape) {
    const Matrix<float> x = ramp(64, 784);
    const std::vector<std::uint64_t> ids = iota_ids(64, 0);
    Matrix<float> out = tg::make_matrix<float>(64, 784);
    std::vector<std::size_t> order(1000);
    // The counter sees operator new (scratch vectors, strings); xtensor's buffers come from
    // posix_memalign through xsimd's allocator, so out's buffer is checked by its address.
    const float* buffer = out.data();
    const std::size_t before = tg::testing::allocation_count();
    rnd::mask_rows(x, ids, 1, 0, 0.25, out);
    rnd::add_gaussian_rows(x, ids, 1, 0, 0.25, out);
    rnd::mask_rows(x, ids, 1, 0, 0.25, out, 3, 9);
    rnd::add_gaussian_rows(x, ids, 1, 0, 0.25, out, 3, 9);
    rnd::permutation(1000, 1, 0, order);
    BOOST_TEST(tg::testing::allocation_count() - before == 0u);
    BOOST_TEST(out.data() == buffer);
    // and a wrong shape is fixed
    Matrix<float> small = tg::make_matrix<float>(1, 1);
    rnd::mask_rows(x, ids, 1, 0, 0.25, small);
    BOOST_TEST(small.shape()[0] == 64u);
    BOOST_TEST(small.shape()[1] == 784u);
}

BOOST_AUTO_TEST_SUITE_END()
