#pragma once
// The bulk Philox4x32-10 kernels behind tapegrad/random.hpp (private: random.cpp and the noise
// test include it). Each computes the words of 8 S consecutive blocks b0, b0 + 1, ... (mod 2^32)
// with the other three counter words fixed, bit for bit r123::Philox4x32 (tests/test_noise.cpp).
//
// Speed: a Philox round is two 32x32->64-bit multiplies. Every kernel keeps each 32-bit word in
// a 64-bit lane, so that the multiply is vpmuludq (which reads only the low halves) and the high
// halves can be left as garbage; a round for a vector of counters is 2 vpmuludq, 2 shifts and the
// xors. Several independent vectors are interleaved to hide the multiply latency.
//   AVX-512: 8 blocks per vector, xors as one vpternlogq (12.5 us for a 64 x 784 mask).
//   AVX2:    4 blocks per vector (the portable loop measured 2.5 ns per word on Zen 3: GCC 12
//            vectorizes its 64-bit multiply without vpmuludq).
//   other:   the portable loop, which GCC vectorizes as it can.
#include "tapegrad/random.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace tg::random::detail {

// How a kernel hands back the words of its 8 S blocks:
//  element: w[4 i + k] = word k of block b0 + i, i.e. in element order (32 S words).
//  pairs:   per set s of 8 blocks (i = 8 s + l, l < 8), the Box-Muller pairs side by side:
//           a[16 s + l] = w0, a[16 s + 8 + l] = w2,  b[16 s + l] = w1, b[16 s + 8 + l] = w3.
enum class Order { element, pairs };

inline constexpr std::size_t set_blocks = 8;
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
// S sets of 8 blocks, one zmm per word. The maskz forms with an all-ones mask are plain
// instructions; they avoid GCC 12's false -Wmaybe-uninitialized on the unmasked intrinsics.
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
#elif defined(__AVX2__)
// The low dwords of u and v (4 qwords each): [u_0 .. u_3, v_0 .. v_3].
inline __m256i low_dwords(__m256i u, __m256i v) {
    const __m256 t = _mm256_shuffle_ps(_mm256_castsi256_ps(u), _mm256_castsi256_ps(v), 0x88);  // u0 u1 v0 v1 | u2 u3 v2 v3
    return _mm256_permute4x64_epi64(_mm256_castps_si256(t), 0xd8);
}

// S sets of 8 blocks, one set (two ymm of 4 blocks per word) at a time: the 8 state vectors,
// 4 constants and 2 products fit the 16 ymm registers (all sets at once spilled to the stack).
template <int S, Order O>
inline void philox_sets_avx2(std::uint32_t b0, std::uint32_t c1, std::uint32_t c2, std::uint32_t c3, Key key,
                             std::uint32_t* __restrict a, std::uint32_t* __restrict b) {
    const __m256i m0 = _mm256_set1_epi64x(philox_m0), m1 = _mm256_set1_epi64x(philox_m1);
    const __m256i iota = _mm256_set_epi64x(3, 2, 1, 0);
    auto store = [](std::uint32_t* p, __m256i w) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), w); };
    for (int s = 0; s < S; ++s) {
        __m256i x0[2], x1[2], x2[2], x3[2];
        for (int v = 0; v < 2; ++v) {
            const auto first = std::int64_t(std::uint64_t(b0) + set_blocks * std::uint64_t(s) + 4 * std::uint64_t(v));
            x0[v] = _mm256_add_epi64(_mm256_set1_epi64x(first), iota);
            x1[v] = _mm256_set1_epi64x(c1);
            x2[v] = _mm256_set1_epi64x(c2);
            x3[v] = _mm256_set1_epi64x(c3);
        }
        std::uint32_t k0 = key[0], k1 = key[1];
        for (int r = 0; r < philox_rounds; ++r) {
            const __m256i kv0 = _mm256_set1_epi64x(k0), kv1 = _mm256_set1_epi64x(k1);
            for (int v = 0; v < 2; ++v) {
                // x1 ^ key and x3 ^ key while the multiplies run: the chain per round is then
                // multiply, shift, one xor.
                const __m256i q1 = _mm256_xor_si256(x1[v], kv0), q3 = _mm256_xor_si256(x3[v], kv1);
                const __m256i p0 = _mm256_mul_epu32(x0[v], m0);
                const __m256i p1 = _mm256_mul_epu32(x2[v], m1);
                x0[v] = _mm256_xor_si256(_mm256_srli_epi64(p1, 32), q1);
                x1[v] = p1;
                x2[v] = _mm256_xor_si256(_mm256_srli_epi64(p0, 32), q3);
                x3[v] = p0;
            }
            k0 += philox_w0;
            k1 += philox_w1;
        }
        if constexpr (O == Order::element) {
            for (int v = 0; v < 2; ++v) {
                // [w0 w1] and [w2 w3] per block (the high dwords of x0, x2 are garbage), then the
                // blocks' 128-bit quads in order.
                const __m256i t01 = _mm256_blend_epi32(x0[v], _mm256_slli_epi64(x1[v], 32), 0xaa);
                const __m256i t23 = _mm256_blend_epi32(x2[v], _mm256_slli_epi64(x3[v], 32), 0xaa);
                const __m256i lo = _mm256_unpacklo_epi64(t01, t23), hi = _mm256_unpackhi_epi64(t01, t23);
                store(a + set_words * s + 16 * v, _mm256_permute2x128_si256(lo, hi, 0x20));
                store(a + set_words * s + 16 * v + 8, _mm256_permute2x128_si256(lo, hi, 0x31));
            }
        } else {
            store(a + 16 * s, low_dwords(x0[0], x0[1]));
            store(a + 16 * s + 8, low_dwords(x2[0], x2[1]));
            store(b + 16 * s, low_dwords(x1[0], x1[1]));
            store(b + 16 * s + 8, low_dwords(x3[0], x3[1]));
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
#elif defined(__AVX2__)
    philox_sets_avx2<S, O>(b0, c1, c2, c3, key, a, b);
#else
    philox_sets_portable<S, O>(b0, c1, c2, c3, key, a, b);
#endif
}

// A row is processed in chunks of `chunk_sets` sets (128 elements); the tail of a row takes the
// smallest number of sets that covers it, or its whole sets and one scalar block. Extra words
// past the row's end are computed and ignored (they belong to counters no element uses).
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
    if constexpr (O == Order::element) {
        // One block past the whole sets: a scalar call instead of a set of 8 blocks (a
        // 784-pixel masking row's 196 words end in 2 sets and a block, not 3 sets).
        const std::size_t whole = rest / set_words;
        if (rest % set_words != 0 && rest % set_words <= 4) {
            if (whole == 1) philox_sets<1, O>(b0, c1, c2, c3, key, a, b);
            else if (whole == 2) philox_sets<2, O>(b0, c1, c2, c3, key, a, b);
            else if (whole == 3) philox_sets<3, O>(b0, c1, c2, c3, key, a, b);
            const Words w = philox4x32_10({b0 + std::uint32_t(whole * set_blocks), c1, c2, c3}, key);
            std::copy(w.begin(), w.end(), a + whole * set_words);
            use(j, rest);
            return;
        }
    }
    if (rest <= set_words) philox_sets<1, O>(b0, c1, c2, c3, key, a, b);
    else if (rest <= 2 * set_words) philox_sets<2, O>(b0, c1, c2, c3, key, a, b);
    else if (rest <= 3 * set_words) philox_sets<3, O>(b0, c1, c2, c3, key, a, b);
    else philox_sets<4, O>(b0, c1, c2, c3, key, a, b);
    use(j, rest);
}

}  // namespace tg::random::detail
