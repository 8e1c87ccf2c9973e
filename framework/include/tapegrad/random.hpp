#pragma once
// Counter-based noise and shuffling for training. Every random number is a pure function of
// (seed, stream, index, epoch, element) through Philox4x32-10, so the noise a sample gets does
// not depend on its position in a batch, on the batch size, on the thread count or on how many
// processes share a batch, and a checkpoint needs no generator state: the epoch and the
// global sample ids say everything.
//
// ---------------------------------------------------------------------------------------------
// THE LAYOUT. Resuming a run reproduces its noise and its order only while this stays exactly
// as written; treat it like a file format (change it only with a new Stream value or a version
// bump that old checkpoints refuse).
//
//   generator  Philox4x32-10 (Salmon et al., SC'11), identical to Random123's r123::Philox4x32
//              (10 rounds, multipliers 0xD2511F53 / 0xCD9E8D57, Weyl 0x9E3779B9 / 0xBB67AE85).
//   key        { seed mod 2^32, seed >> 32 }                      (the full 64-bit seed)
//   counter    { element / 4, index, epoch, stream }              (four 32-bit words)
//                element  masking, gaussian: the column j of the sample's row
//                         shuffle: the Fisher-Yates step i
//                index    masking, gaussian: the global sample id (not the row in the batch)
//                         shuffle: the redraw number, 0 for the first draw
//                epoch    as given
//                stream   Stream::masking = 0, Stream::gaussian = 1, Stream::shuffle = 2
//              Every field must be < 2^32 (element < 2^34); otherwise std::invalid_argument.
//   words      one call returns {w0, w1, w2, w3}; element e uses word e % 4 of the call whose
//              counter holds e / 4 (four neighbouring elements share a call).
//   masking    out(r, j) = 0 if w < round(p 2^32) (so p = 1 drops all, p = 0 none), else x(r, j).
//   gaussian   elements 4b and 4b+1 come from the pair (w0, w1), 4b+2 and 4b+3 from (w2, w3):
//                u1 = ((wa >> 8) + 1) 2^-24  in (0, 1]      (wa = w0 or w2: the radius)
//                u2 = (wb >> 8) 2^-24        in [0, 1)      (wb = w1 or w3: the angle)
//                r = sqrt(-2 ln u1),  t = 2 pi u2 - pi/4
//                z(4b or 4b+2) = r cos t,  z(4b+1 or 4b+3) = r sin t
//              in float, as: q = wb >> 30 (the quadrant, exact), phi = fma(float((wb >> 8) mod 2^22),
//              float(pi/2 2^-22), float(-pi/4)), (s, c) = xsimd::sincos(phi), (cos t, sin t) =
//              (c, s) turned by q quarter turns, r = xsimd::sqrt(-2 xsimd::log(u1));
//              out(r, j) = fma(T(sigma), T(z), x(r, j)) in T.
//   shuffle    a = 0, 1, ..., n-1; for i = n-1 down to 1: j = draw(i + 1, i); swap(a[i], a[j]).
//              draw(m, i) (Lemire's unbiased bounded draw): w = the word of element i with
//              index 0; p = w m (64-bit); while (p mod 2^32) < (2^32 - m) mod m, redraw with
//              index 1, 2, ...; j = p >> 32.
//
// Masking and the permutation are integer functions: identical on every machine, compiler and
// standard library. Gaussian values go through float log/sin/cos (xsimd), so their last bits
// are fixed for one build (same binary and flags), not across instruction sets.
// ---------------------------------------------------------------------------------------------
//
// Speed: Philox needs 20 32x32->64-bit multiplies per call. GCC 12 vectorizes the plain
// uint64 formulation with vpmullq (a full 64-bit multiply) plus masking: 25-33 us for a
// 64 x 784 mask on the 2-core AVX-512 machine. The AVX-512 kernel below keeps every 32-bit word
// in a 64-bit lane, so that a round for 8 counters is 2 vpmuludq, 2 shifts and 2 three-way xors
// (vpternlogq), the high halves left as garbage the next vpmuludq ignores; four independent
// sets of 8 counters are interleaved to hide the multiply latency: 12.5 us, about 3.5 % of a tied
// 784x64x64 float training step. Gaussian noise adds xsimd's log, sqrt and sincos per pair:
// 36-41 us, about 10 % of that step (benchmarks/bench_noise.cpp). Other targets take the
// portable loop (same words bit for bit; tests/test_noise.cpp checks both kernels against
// Random123).
//
// Rows are independent: the `r0, r1` overloads process rows [r0, r1) of an `out` that already
// has x's shape, so callers may split a batch over threads.
#include "tapegrad/parallel.hpp"
#include "tapegrad/tensor.hpp"

#include <xsimd/xsimd.hpp>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// GCC 12 reports false "may be used uninitialized" positives inside its own AVX-512 intrinsics
// once xsimd's kernels are inlined here (the project's CMake turns the warning off globally;
// this keeps the header quiet for consumers built with plain -Wall).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tg::random {

/// Which use a draw serves: the counter's fourth word, so that uses never share counters.
enum class Stream : std::uint32_t { masking = 0, gaussian = 1, shuffle = 2 };

using Counter = std::array<std::uint32_t, 4>;
using Key = std::array<std::uint32_t, 2>;
using Words = std::array<std::uint32_t, 4>;

/// Counter words (sample ids, epochs, Philox blocks) must be below this.
inline constexpr std::uint64_t counter_word_limit = std::uint64_t(1) << 32;

/// The key for a seed: its low and high 32 bits.
constexpr Key key_of(std::uint64_t seed) noexcept { return {std::uint32_t(seed), std::uint32_t(seed >> 32)}; }

namespace detail {
inline constexpr std::uint32_t philox_m0 = 0xD2511F53u, philox_m1 = 0xCD9E8D57u;
inline constexpr std::uint32_t philox_w0 = 0x9E3779B9u, philox_w1 = 0xBB67AE85u;
inline constexpr int philox_rounds = 10;
}  // namespace detail

/// One Philox4x32-10 call (the scalar reference; equals r123::Philox4x32()(c, k)).
constexpr Words philox4x32_10(Counter c, Key k) noexcept {
    for (int r = 0; r < detail::philox_rounds; ++r) {
        const std::uint64_t p0 = std::uint64_t(detail::philox_m0) * c[0];
        const std::uint64_t p1 = std::uint64_t(detail::philox_m1) * c[2];
        c = {std::uint32_t(p1 >> 32) ^ c[1] ^ k[0], std::uint32_t(p1), std::uint32_t(p0 >> 32) ^ c[3] ^ k[1],
             std::uint32_t(p0)};
        k[0] += detail::philox_w0;
        k[1] += detail::philox_w1;
    }
    return c;
}

namespace detail {

[[noreturn]] inline void throw_limit(const char* what, std::uint64_t value, const char* limit) {
    throw std::invalid_argument("tg::random: " + std::string(what) + " " + std::to_string(value) +
                                " does not fit the Philox counter: it must be below " + limit);
}

inline std::uint32_t checked_epoch(std::uint64_t epoch) {
    if (epoch >= counter_word_limit) throw_limit("epoch", epoch, "2^32 = 4294967296");
    return std::uint32_t(epoch);
}

inline void check_sample_id(std::uint64_t id, std::size_t row) {
    if (id >= counter_word_limit)
        throw std::invalid_argument("tg::random: sample id " + std::to_string(id) + " (row " + std::to_string(row) +
                                    ") does not fit the Philox counter: sample ids must be below 2^32 = 4294967296");
}

// Elements e < 2^34: their block e / 4 is one counter word.
inline constexpr std::uint64_t element_limit = counter_word_limit << 2;
inline void check_element(std::uint64_t e) {
    if (e >= element_limit)
        throw_limit("element index", e, "2^34 = 17179869184 (its Philox block e / 4 must be below 2^32)");
}
// Elements [first, first + n) all below 2^34 (names the first one that is not).
inline void check_elements(std::uint64_t first, std::uint64_t n) {
    if (n != 0 && (first >= element_limit || n > element_limit - first)) check_element(std::max(first, element_limit));
}

inline void check_id_count(const char* fn, std::size_t ids, std::size_t rows) {
    if (ids != rows)
        throw std::invalid_argument(std::string("tg::random::") + fn + ": " + std::to_string(ids) +
                                    " sample ids for a batch of " + std::to_string(rows) + " rows");
}

// How a kernel hands back the words of 8 * S consecutive blocks b0, b0 + 1, ... (mod 2^32).
//  element: w[4 i + k] = word k of block b0 + i, i.e. in element order (32 S words).
//  pairs:   per set s of 8 blocks (i = 8 s + l, l < 8), the Box-Muller pairs side by side:
//           a[16 s + l] = w0, a[16 s + 8 + l] = w2,  b[16 s + l] = w1, b[16 s + 8 + l] = w3.
enum class Order { element, pairs };

inline constexpr std::size_t set_blocks = 8;       // blocks per set (one zmm of 64-bit lanes)
inline constexpr std::size_t set_words = 4 * set_blocks;

// Portable kernel: one lane per block, the lane loop outermost so that GCC vectorizes it with
// whatever the target has (it keeps the state in registers across the unrolled rounds).
template <int S, Order O>
inline void philox_sets_portable(std::uint32_t b0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, Key key,
                                 std::uint32_t* __restrict a, std::uint32_t* __restrict b) {
    constexpr int L = int(set_blocks) * S;
    std::uint32_t o0[L], o1[L], o2[L], o3[L];
    for (int l = 0; l < L; ++l) {
        std::uint64_t x0 = std::uint32_t(b0 + std::uint32_t(l)), x1 = c1, x2 = c2, x3 = c3;
        std::uint32_t k0 = key[0], k1 = key[1];
        for (int r = 0; r < philox_rounds; ++r) {
            const std::uint64_t p0 = std::uint64_t(std::uint32_t(x0)) * philox_m0;
            const std::uint64_t p1 = std::uint64_t(std::uint32_t(x2)) * philox_m1;
            x0 = (p1 >> 32) ^ x1 ^ k0;  // the high halves of x1, x3 are garbage: only low 32 bits count
            x1 = p1;
            x2 = (p0 >> 32) ^ x3 ^ k1;
            x3 = p0;
            k0 += philox_w0;
            k1 += philox_w1;
        }
        o0[l] = std::uint32_t(x0);
        o1[l] = std::uint32_t(x1);
        o2[l] = std::uint32_t(x2);
        o3[l] = std::uint32_t(x3);
    }
    if constexpr (O == Order::element) {
        for (int l = 0; l < L; ++l) {
            a[4 * l] = o0[l];
            a[4 * l + 1] = o1[l];
            a[4 * l + 2] = o2[l];
            a[4 * l + 3] = o3[l];
        }
    } else {
        for (int s = 0; s < S; ++s)
            for (int l = 0; l < int(set_blocks); ++l) {
                const int i = s * int(set_blocks) + l;
                a[16 * s + l] = o0[i];
                a[16 * s + 8 + l] = o2[i];
                b[16 * s + l] = o1[i];
                b[16 * s + 8 + l] = o3[i];
            }
    }
}

#if defined(__AVX512F__)
// AVX-512 kernel: S sets of 8 blocks, each word of a block in the low half of a 64-bit lane.
// A round per set: 2 vpmuludq, 2 shifts, 2 vpternlogq (x ^ y ^ key). The maskz forms with an
// all-ones mask are plain instructions; they avoid GCC 12's false -Wmaybe-uninitialized on the
// unmasked intrinsics (which pass _mm512_undefined_epi32()).
template <int S, Order O>
inline void philox_sets_avx512(std::uint32_t b0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, Key key,
                               std::uint32_t* __restrict a, std::uint32_t* __restrict b) {
    const __m512i m0 = _mm512_set1_epi64(philox_m0), m1 = _mm512_set1_epi64(philox_m1);
    const __m512i iota = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __mmask8 all = 0xff;
    __m512i x0[S], x1[S], x2[S], x3[S];
    for (int s = 0; s < S; ++s) {
        x0[s] = _mm512_add_epi64(_mm512_set1_epi64(std::int64_t(std::uint64_t(b0) + set_blocks * s)), iota);
        x1[s] = _mm512_set1_epi64(c1);
        x2[s] = _mm512_set1_epi64(c2);
        x3[s] = _mm512_set1_epi64(c3);
    }
    std::uint32_t k0 = key[0], k1 = key[1];
    for (int r = 0; r < philox_rounds; ++r) {
        const __m512i kv0 = _mm512_set1_epi64(k0), kv1 = _mm512_set1_epi64(k1);
        for (int s = 0; s < S; ++s) {
            const __m512i p0 = _mm512_maskz_mul_epu32(all, x0[s], m0);
            const __m512i p1 = _mm512_maskz_mul_epu32(all, x2[s], m1);
            x0[s] = _mm512_ternarylogic_epi64(_mm512_maskz_srli_epi64(all, p1, 32), x1[s], kv0, 0x96);
            x1[s] = p1;
            x2[s] = _mm512_ternarylogic_epi64(_mm512_maskz_srli_epi64(all, p0, 32), x3[s], kv1, 0x96);
            x3[s] = p0;
        }
        k0 += philox_w0;
        k1 += philox_w1;
    }
    // The low dwords of two vectors side by side: [u_0 .. u_7, v_0 .. v_7].
    const __m512i low_dwords = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int s = 0; s < S; ++s) {
        if constexpr (O == Order::element) {
            // [w0 w1] per block, [w2 w3] per block, then the two interleaved by 64-bit lanes.
            const __m512i even = _mm512_set_epi32(30, 14, 28, 12, 26, 10, 24, 8, 22, 6, 20, 4, 18, 2, 16, 0);
            const __m512i q_lo = _mm512_set_epi64(11, 3, 10, 2, 9, 1, 8, 0);
            const __m512i q_hi = _mm512_set_epi64(15, 7, 14, 6, 13, 5, 12, 4);
            const __m512i t01 = _mm512_permutex2var_epi32(x0[s], even, x1[s]);
            const __m512i t23 = _mm512_permutex2var_epi32(x2[s], even, x3[s]);
            _mm512_storeu_si512(a + set_words * s, _mm512_permutex2var_epi64(t01, q_lo, t23));
            _mm512_storeu_si512(a + set_words * s + 16, _mm512_permutex2var_epi64(t01, q_hi, t23));
        } else {
            _mm512_storeu_si512(a + 16 * s, _mm512_permutex2var_epi32(x0[s], low_dwords, x2[s]));
            _mm512_storeu_si512(b + 16 * s, _mm512_permutex2var_epi32(x1[s], low_dwords, x3[s]));
        }
    }
}
#endif

// The kernel this build uses.
template <int S, Order O>
inline void philox_sets(std::uint32_t b0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, Key key,
                        std::uint32_t* a, std::uint32_t* b = nullptr) {
#if defined(__AVX512F__)
    philox_sets_avx512<S, O>(b0, c1, c2, c3, key, a, b);
#else
    philox_sets_portable<S, O>(b0, c1, c2, c3, key, a, b);
#endif
}

// A row is processed in chunks of `chunk_sets` sets (128 elements); the tail of a row takes the
// smallest number of sets that covers it. Extra words past the row's end are computed and
// ignored (they belong to counters no element uses).
inline constexpr int chunk_sets = 4;
inline constexpr std::size_t chunk_elements = set_words * chunk_sets;

template <Order O, class F>
inline void for_each_chunk(std::size_t n, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, Key key,
                           std::uint32_t* a, std::uint32_t* b, F&& use) {
    std::size_t j = 0;
    for (; j + chunk_elements <= n; j += chunk_elements) {
        philox_sets<chunk_sets, O>(std::uint32_t(j / 4), c1, c2, c3, key, a, b);
        use(j, chunk_elements);
    }
    if (j == n) return;
    const std::size_t rest = n - j;
    const auto b0 = std::uint32_t(j / 4);
    static_assert(chunk_sets == 4, "the tail dispatch below covers 1 to 4 sets");
    if (rest <= set_words) philox_sets<1, O>(b0, c1, c2, c3, key, a, b);
    else if (rest <= 2 * set_words) philox_sets<2, O>(b0, c1, c2, c3, key, a, b);
    else if (rest <= 3 * set_words) philox_sets<3, O>(b0, c1, c2, c3, key, a, b);
    else philox_sets<4, O>(b0, c1, c2, c3, key, a, b);
    use(j, rest);
}

// Standard normals for Box-Muller pairs: a gives the radius, b the angle (see the layout). The
// angle's top two bits pick the quadrant, so sincos only ever sees |phi| <= pi/4 (xsimd's fast
// path, no argument reduction):
//   t = 2 pi u2 - pi/4 = q pi/2 + phi,  q = b >> 30,  phi = (((b >> 8) mod 2^22) 2^-22 - 1/2) pi/2
//   (cos t, sin t) = (c, s) rotated by q quarter turns (c, s = cos phi, sin phi).
struct NormalPairs {
    using F = xsimd::batch<float>;
    using U = xsimd::batch<std::uint32_t>;
    using I = xsimd::batch<std::int32_t>;
    F u1, phi;
    U b;
    static NormalPairs start(const std::uint32_t* wa, const std::uint32_t* wb) {
        const U a = U::load_unaligned(wa), b = U::load_unaligned(wb);
        const F u1 = (xsimd::to_float(xsimd::bitwise_cast<I>(a >> 8)) + F(1.0f)) * F(0x1p-24f);  // (0, 1]
        const F phi = xsimd::fma(xsimd::to_float(xsimd::bitwise_cast<I>((b >> 8) & U(0x3fffffu))),
                                 F(float(1.5707963267948966 * 0x1p-22)), F(float(-0.7853981633974483)));
        return {u1, phi, b};
    }
    // r = sqrt(-2 ln u1) (ln_u1 = ln u1), (s, c) = sincos(phi): write r cos t and r sin t.
    void finish(F ln_u1, F s, F c, float* zc, float* zs) const {
        const F r = xsimd::sqrt(F(-2.0f) * ln_u1);
        const U b1 = b << 1, sign(0x80000000u);
        const auto odd = xsimd::bool_cast(xsimd::bitwise_cast<I>(b1) < I(0));  // q = 1 or 3: swap
        const F cos_sign = xsimd::bitwise_cast<F>((b ^ b1) & sign);          // q = 1 or 2: cos < 0
        const F sin_sign = xsimd::bitwise_cast<F>(b & sign);                 // q = 2 or 3: sin < 0
        (r * (xsimd::select(odd, s, c) ^ cos_sign)).store_unaligned(zc);
        (r * (xsimd::select(odd, c, s) ^ sin_sign)).store_unaligned(zs);
    }
};

// n pairs (a multiple of the float batch size) from the words wa (radius) and wb (angle), two
// batches at a time with their log and sincos side by side (xsimd's branches keep GCC from
// interleaving the two otherwise; 15 % faster here). `flatten`: left to itself GCC 12 calls
// xsimd's sincos out of line (spilling every operand and clearing the upper registers around
// the call), 35 % slower.
[[gnu::flatten]] inline void box_muller(const std::uint32_t* wa, const std::uint32_t* wb, float* zc, float* zs,
                                        std::size_t n) {
    constexpr std::size_t w = NormalPairs::F::size;
    std::size_t k = 0;
    for (; k + 2 * w <= n; k += 2 * w) {
        const NormalPairs p = NormalPairs::start(wa + k, wb + k), q = NormalPairs::start(wa + k + w, wb + k + w);
        const NormalPairs::F lp = xsimd::log(p.u1), lq = xsimd::log(q.u1);
        const auto [sp, cp] = xsimd::sincos(p.phi);
        const auto [sq, cq] = xsimd::sincos(q.phi);
        p.finish(lp, sp, cp, zc + k, zs + k);
        q.finish(lq, sq, cq, zc + k + w, zs + k + w);
    }
    for (; k < n; k += w) {
        const NormalPairs p = NormalPairs::start(wa + k, wb + k);
        const auto [s, c] = xsimd::sincos(p.phi);
        p.finish(xsimd::log(p.u1), s, c, zc + k, zs + k);
    }
}

// pairs-order normals of S sets back to element order (see Order::pairs).
inline void pairs_to_elements(const float* zc, const float* zs, float* z, std::size_t sets) {
#if defined(__AVX512F__)
    // Element 4 l + {0, 1, 2, 3} of a set takes zc[l], zs[l], zc[8 + l], zs[8 + l] (zs as 16 + ...).
    alignas(64) static constexpr std::int32_t lo[16] = {0, 16, 8, 24, 1, 17, 9, 25, 2, 18, 10, 26, 3, 19, 11, 27};
    alignas(64) static constexpr std::int32_t hi[16] = {4, 20, 12, 28, 5, 21, 13, 29, 6, 22, 14, 30, 7, 23, 15, 31};
    const __m512i ilo = _mm512_load_si512(lo), ihi = _mm512_load_si512(hi);
    for (std::size_t s = 0; s < sets; ++s) {
        const __m512 c = _mm512_loadu_ps(zc + 16 * s), v = _mm512_loadu_ps(zs + 16 * s);
        _mm512_storeu_ps(z + set_words * s, _mm512_permutex2var_ps(c, ilo, v));
        _mm512_storeu_ps(z + set_words * s + 16, _mm512_permutex2var_ps(c, ihi, v));
    }
#else
    for (std::size_t s = 0; s < sets; ++s)
        for (std::size_t l = 0; l < set_blocks; ++l) {
            z[set_words * s + 4 * l] = zc[16 * s + l];
            z[set_words * s + 4 * l + 1] = zs[16 * s + l];
            z[set_words * s + 4 * l + 2] = zc[16 * s + 8 + l];
            z[set_words * s + 4 * l + 3] = zs[16 * s + 8 + l];
        }
#endif
}

static_assert(chunk_elements / 2 % xsimd::batch<float>::size == 0 && 16 % xsimd::batch<float>::size == 0,
              "a set's 16 pairs must be whole float batches");

template <class T>
void check_rows(const char* fn, const Matrix<T>& x, std::span<const std::uint64_t> ids, const Matrix<T>& out,
                std::size_t r0, std::size_t r1) {
    const std::size_t rows = x.shape()[0];
    check_id_count(fn, ids.size(), rows);
    if (out.shape()[0] != rows || out.shape()[1] != x.shape()[1]) {
        std::string m = std::string("tg::random::") + fn + ": out has shape ";
        m += std::to_string(out.shape()[0]);
        m += 'x';
        m += std::to_string(out.shape()[1]);
        m += " but x has ";
        m += std::to_string(rows);
        m += 'x';
        m += std::to_string(x.shape()[1]);
        m += " (the row-range form does not resize out)";
        throw std::invalid_argument(m);
    }
    if (r0 > r1 || r1 > rows)
        throw std::invalid_argument(std::string("tg::random::") + fn + ": rows [" + std::to_string(r0) + ", " +
                                    std::to_string(r1) + ") outside a batch of " + std::to_string(rows));
    check_elements(0, x.shape()[1]);
    for (std::size_t r = r0; r < r1; ++r) check_sample_id(ids[r], r);
}

inline void check_sigma(double sigma) {
    if (!(sigma >= 0 && std::isfinite(sigma)))
        throw std::invalid_argument("tg::random: the Gaussian noise sigma must be finite and not negative, got " +
                                    std::to_string(sigma));
}

template <class T>
void ensure_shape_of(const Matrix<T>& x, Matrix<T>& out) {
    if (out.shape()[0] != x.shape()[0] || out.shape()[1] != x.shape()[1]) [[unlikely]]
        out.resize({x.shape()[0], x.shape()[1]});
}

}  // namespace detail

/// The word that serves `element` in the stream (seed; stream, index, epoch): one scalar
/// Philox call. For tests and one-off draws; the batch functions below compute it in bulk.
inline std::uint32_t word(std::uint64_t seed, Stream stream, std::uint64_t index, std::uint64_t epoch,
                          std::uint64_t element) {
    if (index >= counter_word_limit) detail::throw_limit("index", index, "2^32 = 4294967296");
    detail::check_element(element);
    const Words w = philox4x32_10(
        {std::uint32_t(element / 4), std::uint32_t(index), detail::checked_epoch(epoch), std::uint32_t(stream)},
        key_of(seed));
    return w[element % 4];
}

/// The words for elements [first, first + n) of the stream (seed; stream, index, epoch), the
/// vectorized bulk form of `word`.
inline void words(std::uint64_t seed, Stream stream, std::uint64_t index, std::uint64_t epoch, std::uint64_t first,
                  std::size_t n, std::uint32_t* out) {
    if (index >= counter_word_limit) detail::throw_limit("index", index, "2^32 = 4294967296");
    const std::uint32_t e = detail::checked_epoch(epoch);
    detail::check_elements(first, n);
    alignas(64) std::uint32_t w[detail::chunk_elements];
    // Chunks start at the block of `first`; `skip` words of the first chunk precede it.
    const std::uint64_t start = first / 4 * 4, skip = first - start;
    std::size_t done = 0;
    for (std::uint64_t j = start; done < n; j += detail::chunk_elements) {
        detail::philox_sets<detail::chunk_sets, detail::Order::element>(std::uint32_t(j / 4), std::uint32_t(index), e,
                                                                        std::uint32_t(stream), key_of(seed), w);
        const std::size_t from = j == start ? std::size_t(skip) : 0;
        const std::size_t take = std::min(detail::chunk_elements - from, n - done);
        std::copy_n(w + from, take, out + done);
        done += take;
    }
}

/// round(p 2^32): an element is dropped when its word is below this (2^32 for p = 1).
inline std::uint64_t drop_threshold(double p) {
    if (!(p >= 0 && p <= 1))
        throw std::invalid_argument("tg::random: the drop probability must lie in [0, 1], got " + std::to_string(p));
    return std::uint64_t(std::llround(p * 4294967296.0));
}

/// Masking noise for rows [r0, r1): out(r, j) = 0 with probability p, else x(r, j); row r is the
/// sample `sample_ids[r]`. `out` must already have x's shape (it may be x itself).
template <class T>
void mask_rows(const Matrix<T>& x, std::span<const std::uint64_t> sample_ids, std::uint64_t seed,
               std::uint64_t epoch, double drop_probability, Matrix<T>& out, std::size_t r0, std::size_t r1) {
    static_assert(std::is_floating_point_v<T>);
    const std::uint64_t threshold = drop_threshold(drop_probability);
    const std::uint32_t e = detail::checked_epoch(epoch);
    detail::check_rows("mask_rows", x, sample_ids, out, r0, r1);
    const std::size_t cols = x.shape()[1];
    for (std::size_t r = r0; r < r1; ++r) {
        const T* in = x.data() + r * cols;
        T* o = out.data() + r * cols;
        if (threshold == 0) {  // nothing dropped (no word is below 0)
            if (o != in) std::copy_n(in, cols, o);
            continue;
        }
        if (threshold == counter_word_limit) {  // everything dropped (every word is below 2^32)
            std::fill_n(o, cols, T(0));
            continue;
        }
        const auto t = std::uint32_t(threshold);
        alignas(64) std::uint32_t w[detail::chunk_elements];
        detail::for_each_chunk<detail::Order::element>(
            cols, std::uint32_t(sample_ids[r]), e, std::uint32_t(Stream::masking), key_of(seed), w, nullptr,
            [&](std::size_t j, std::size_t n) {
                for (std::size_t i = 0; i < n; ++i) o[j + i] = w[i] < t ? T(0) : in[j + i];
            });
    }
}

/// Masking noise for the whole batch; resizes `out` to x's shape if needed (no allocation when
/// it already has it).
template <class T>
void mask_rows(const Matrix<T>& x, std::span<const std::uint64_t> sample_ids, std::uint64_t seed,
               std::uint64_t epoch, double drop_probability, Matrix<T>& out) {
    detail::check_rows("mask_rows", x, sample_ids, x, 0, x.shape()[0]);  // all errors before out changes
    drop_threshold(drop_probability);
    detail::checked_epoch(epoch);
    detail::ensure_shape_of(x, out);
    // Rows split over the threads: every element's draw is keyed by sample and position.
    parallel::for_rows(x.shape()[0], x.shape()[1], [&](std::size_t r0, std::size_t r1) {
        mask_rows(x, sample_ids, seed, epoch, drop_probability, out, r0, r1);
    });
}

/// Gaussian noise for rows [r0, r1): out = x + sigma N(0, 1), Box-Muller in float with xsimd.
/// `out` must already have x's shape (it may be x itself).
template <class T>
void add_gaussian_rows(const Matrix<T>& x, std::span<const std::uint64_t> sample_ids, std::uint64_t seed,
                       std::uint64_t epoch, double sigma, Matrix<T>& out, std::size_t r0, std::size_t r1) {
    static_assert(std::is_floating_point_v<T>);
    detail::check_sigma(sigma);
    const std::uint32_t e = detail::checked_epoch(epoch);
    detail::check_rows("add_gaussian_rows", x, sample_ids, out, r0, r1);
    const std::size_t cols = x.shape()[1];
    const T s = T(sigma);
    constexpr std::size_t pairs = detail::chunk_elements / 2;
    alignas(64) std::uint32_t wa[pairs], wb[pairs];
    alignas(64) float zc[pairs], zs[pairs], z[detail::chunk_elements];
    for (std::size_t r = r0; r < r1; ++r) {
        const T* in = x.data() + r * cols;
        T* o = out.data() + r * cols;
        detail::for_each_chunk<detail::Order::pairs>(
            cols, std::uint32_t(sample_ids[r]), e, std::uint32_t(Stream::gaussian), key_of(seed), wa, wb,
            [&](std::size_t j, std::size_t n) {
                const std::size_t sets = (n + detail::set_words - 1) / detail::set_words;
                detail::box_muller(wa, wb, zc, zs, 16 * sets);
                detail::pairs_to_elements(zc, zs, z, sets);
                for (std::size_t i = 0; i < n; ++i) o[j + i] = std::fma(s, T(z[i]), in[j + i]);
            });
    }
}

/// Gaussian noise for the whole batch; resizes `out` to x's shape if needed.
template <class T>
void add_gaussian_rows(const Matrix<T>& x, std::span<const std::uint64_t> sample_ids, std::uint64_t seed,
                       std::uint64_t epoch, double sigma, Matrix<T>& out) {
    detail::check_rows("add_gaussian_rows", x, sample_ids, x, 0, x.shape()[0]);  // all errors before out changes
    detail::check_sigma(sigma);
    detail::checked_epoch(epoch);
    detail::ensure_shape_of(x, out);
    // Rows split over the threads: every element's draw is keyed by sample and position.
    parallel::for_rows(x.shape()[0], x.shape()[1], [&](std::size_t r0, std::size_t r1) {
        add_gaussian_rows(x, sample_ids, seed, epoch, sigma, out, r0, r1);
    });
}

/// Standard normal draws, rows x cols (out is resized): the noise add_gaussian_rows adds at
/// sigma 1, keyed by (seed, epoch, sample id, column). A VAE's ε, prior samples, random directions.
template <class T>
void standard_normal_rows(std::span<const std::uint64_t> sample_ids, std::uint64_t seed, std::uint64_t epoch,
                          std::size_t cols, Matrix<T>& out) {
    if (out.shape()[0] != sample_ids.size() || out.shape()[1] != cols) out.resize({sample_ids.size(), cols});
    std::fill(out.begin(), out.end(), T(0));
    add_gaussian_rows(out, sample_ids, seed, epoch, 1.0, out);
}

/// The epoch's order of n samples: a Fisher-Yates shuffle driven by Philox (layout above), the
/// same with every standard library. Reuses out's capacity. n must not exceed 2^32.
inline void permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch, std::vector<std::size_t>& out) {
    const std::uint32_t e = detail::checked_epoch(epoch);
    if (std::uint64_t(n) > counter_word_limit)
        detail::throw_limit("permutation size", n, "2^32 + 1 (its draws are bounded 32-bit draws)");
    out.resize(n);
    std::iota(out.begin(), out.end(), std::size_t{0});
    if (n < 2) return;
    const Key key = key_of(seed);
    constexpr auto shuffle = std::uint32_t(Stream::shuffle);
    alignas(64) std::uint32_t w[detail::chunk_elements];
    // Chunks of steps from the top: the chunk starting at c holds the words of steps c, c + 1, ...
    std::size_t c = (n - 1) / detail::chunk_elements * detail::chunk_elements;
    for (;;) {
        detail::philox_sets<detail::chunk_sets, detail::Order::element>(std::uint32_t(c / 4), 0, e, shuffle, key, w);
        const std::size_t top = std::min(n - 1, c + detail::chunk_elements - 1), bottom = std::max<std::size_t>(c, 1);
        for (std::size_t i = top + 1; i-- > bottom;) {
            const std::uint64_t m = std::uint64_t(i) + 1;
            std::uint64_t p = std::uint64_t(w[i - c]) * m;
            if (std::uint32_t(p) < m) [[unlikely]] {
                const std::uint64_t reject_below = (counter_word_limit - m) % m;
                for (std::uint32_t redraw = 1; (p & 0xffffffffu) < reject_below; ++redraw)
                    p = std::uint64_t(philox4x32_10({std::uint32_t(i / 4), redraw, e, shuffle}, key)[i % 4]) * m;
            }
            std::swap(out[i], out[std::size_t(p >> 32)]);
        }
        if (c == 0) break;
        c -= detail::chunk_elements;
    }
}

/// The epoch's order of n samples (see the overload that fills a vector).
inline std::vector<std::size_t> permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch) {
    std::vector<std::size_t> out;
    permutation(n, seed, epoch, out);
    return out;
}

}  // namespace tg::random

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
