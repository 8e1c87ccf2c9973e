#pragma once
// The Box-Muller kernels behind tg::random::add_gaussian_rows (private: random.cpp and the noise
// test include it). They implement the `gaussian` entry of the layout in tapegrad/random.hpp.
//
// Why not xsimd::log and xsimd::sincos: they handle every float (negative, zero, infinite,
// subnormal arguments, any angle) and cost 59 cycles per 16 pairs on AVX-512 (64 % of a
// Gaussian batch). Here the arguments are known: u1 = (a + 1) 2^-24 with a < 2^24, and an angle
// |phi| <= pi/4 after the quadrant is taken from the word's top bits. So ln u1 and sin/cos phi
// are short polynomials with no special cases, each within 2 float ulps of the true value
// (tests/test_noise.cpp sweeps every possible radius and angle against double).
// The coefficients were fitted by scripts/fit-normal-polynomials.py (least squares on Chebyshev
// nodes, weighted for relative error), which prints them and their measured float error.
#include "philox_kernels.hpp"

#include <xsimd/xsimd.hpp>

#include <cstddef>
#include <cstdint>

namespace tg::random::detail {

using FloatBatch = xsimd::batch<float>;
using WordBatch = xsimd::batch<std::uint32_t>;
using IntBatch = xsimd::batch<std::int32_t>;

// ln(1 + f) = f - f^2/2 + f^3 P(f) for f in [sqrt(1/2) - 1, sqrt(2) - 1].
inline constexpr float log_poly[] = {0.333333283662796f,   -0.2500084638595581f, 0.200014129281044f,
                                     -0.1662275195121765f, 0.14197877049446106f, -0.13161605596542358f,
                                     0.1278633028268814f,  -0.07660818845033646f};
// sin x = x + x^3 S(x^2), cos x = 1 - x^2/2 + x^4 C(x^2) for |x| <= pi/4.
inline constexpr float sin_poly[] = {-0.16666655242443085f, 0.008332204073667526f, -0.00019520212663337588f};
inline constexpr float cos_poly[] = {0.04166664555668831f, -0.0013887365348637104f, 2.4438233594992198e-05f};

template <std::size_t N>
inline FloatBatch horner(const float (&c)[N], FloatBatch x) {
    FloatBatch p(c[N - 1]);
    for (std::size_t i = N - 1; i-- > 0;) p = xsimd::fma(p, x, FloatBatch(c[i]));
    return p;
}

// ln u1 for u1 = (a + 1) 2^-24, a < 2^24: a + 1 = 2^e m exactly in float, with m in
// [sqrt(1/2), sqrt(2)) (adding 1 - sqrt(1/2) to the bits carries m >= sqrt(2) into the next
// exponent), so ln u1 = (e - 24) ln 2 + ln m, and ln m is the polynomial in f = m - 1 (exact).
inline FloatBatch log_u1(WordBatch a) {
    constexpr std::int32_t one = 0x3f800000, sqrt_half = 0x3f3504f3;  // the bits of 1.0f, of sqrt(1/2) rounded
    const IntBatch bits = xsimd::bitwise_cast<IntBatch>(xsimd::to_float(xsimd::bitwise_cast<IntBatch>(a + WordBatch(1))));
    const IntBatch shifted = bits + IntBatch(one - sqrt_half);
    const FloatBatch e = xsimd::to_float((shifted >> 23) - IntBatch(127 + 24));
    const FloatBatch f = xsimd::bitwise_cast<FloatBatch>((shifted & IntBatch(0x7fffff)) + IntBatch(sqrt_half)) - FloatBatch(1.0f);
    const FloatBatch f2 = f * f;
    const FloatBatch ln_m = xsimd::fma(f2 * f, horner(log_poly, f), xsimd::fnma(FloatBatch(0.5f), f2, f));
    // ln 2 as a float plus its remainder, so that (e - 24) ln 2 keeps float precision
    constexpr float ln2_hi = 0.693145751953125f, ln2_lo = 1.428606765330187e-06f;
    return xsimd::fma(e, FloatBatch(ln2_hi), xsimd::fma(e, FloatBatch(ln2_lo), ln_m));
}

// sin and cos of |phi| <= pi/4.
inline void sincos_quarter(FloatBatch phi, FloatBatch& s, FloatBatch& c) {
    const FloatBatch z = phi * phi;
    s = xsimd::fma(phi * z, horner(sin_poly, z), phi);
    c = xsimd::fma(z * z, horner(cos_poly, z), xsimd::fnma(FloatBatch(0.5f), z, FloatBatch(1.0f)));
}

// sqrt y for y >= 0. On AVX-512, vsqrtps on 16 floats takes 12 cycles of its unit and stalled
// the loop (a quarter of a Gaussian batch): the 14-bit reciprocal square root estimate and one
// Newton step give the root within ~1e-8 relative. Not on AVX: its 12-bit estimate (error up to
// 1.5 2^-12, vendor-dependent) leaves 1.5 e^2 = 2e-7 after the step, too much of the error
// budget; there the hardware root (8 floats) stays.
inline FloatBatch sqrt_nonnegative(FloatBatch y) {
#if defined(__AVX512F__)
    if constexpr (FloatBatch::size == 16) {
        const FloatBatch g = _mm512_rsqrt14_ps(y);
        const FloatBatch r0 = y * g;                                                                      // sqrt y (1 + e)
        const FloatBatch r = xsimd::fma(r0, xsimd::fnma(r0, FloatBatch(0.5f) * g, FloatBatch(0.5f)), r0);  // Newton
        return xsimd::select(y > FloatBatch(0.0f), r, FloatBatch(0.0f));                                  // y = 0: g is infinite
    }
#endif
    return xsimd::sqrt(y);
}

// Standard normals for Box-Muller pairs: a gives the radius, b the angle (see the layout). The
// angle's top two bits pick the quadrant, so the polynomials only ever see |phi| <= pi/4:
//   t = 2 pi u2 - pi/4 = q pi/2 + phi,  q = b >> 30,  phi = (((b >> 8) mod 2^22) 2^-22 - 1/2) pi/2
//   (cos t, sin t) = (c, s) rotated by q quarter turns (c, s = cos phi, sin phi).
// Writes r cos t to zc and r sin t to zs for one float batch of pairs.
inline void normal_pairs(const std::uint32_t* wa, const std::uint32_t* wb, float* zc, float* zs) {
    const WordBatch a = WordBatch::load_unaligned(wa) >> 8, b = WordBatch::load_unaligned(wb);
    const FloatBatch phi = xsimd::fma(xsimd::to_float(xsimd::bitwise_cast<IntBatch>((b >> 8) & WordBatch(0x3fffffu))),
                                      FloatBatch(float(1.5707963267948966 * 0x1p-22)), FloatBatch(float(-0.7853981633974483)));
    FloatBatch s, c;
    sincos_quarter(phi, s, c);
    const FloatBatch r = sqrt_nonnegative(FloatBatch(-2.0f) * log_u1(a));
    const WordBatch b1 = b << 1, sign(0x80000000u);
    const auto odd = xsimd::bool_cast(xsimd::bitwise_cast<IntBatch>(b1) < IntBatch(0));  // q = 1 or 3: swap
    const FloatBatch cos_sign = xsimd::bitwise_cast<FloatBatch>((b ^ b1) & sign);      // q = 1 or 2: cos < 0
    const FloatBatch sin_sign = xsimd::bitwise_cast<FloatBatch>(b & sign);             // q = 2 or 3: sin < 0
    (r * (xsimd::select(odd, s, c) ^ cos_sign)).store_unaligned(zc);
    (r * (xsimd::select(odd, c, s) ^ sin_sign)).store_unaligned(zs);
}

// n pairs (a multiple of the float batch size) from the words wa (radius) and wb (angle).
inline void box_muller(const std::uint32_t* wa, const std::uint32_t* wb, float* zc, float* zs, std::size_t n) {
    for (std::size_t k = 0; k < n; k += FloatBatch::size) normal_pairs(wa + k, wb + k, zc + k, zs + k);
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
#elif defined(__AVX2__)
    // Block l's four elements are a_l, b_l, c_l, d_l (a, c: zc's two halves; b, d: zs's). The
    // portable loop below stayed scalar: ~20 % of a Gaussian batch's time.
    for (std::size_t s = 0; s < sets; ++s) {
        const __m256 a = _mm256_loadu_ps(zc + 16 * s), c = _mm256_loadu_ps(zc + 16 * s + 8);
        const __m256 b = _mm256_loadu_ps(zs + 16 * s), d = _mm256_loadu_ps(zs + 16 * s + 8);
        const __m256 ab_lo = _mm256_unpacklo_ps(a, b), ab_hi = _mm256_unpackhi_ps(a, b);  // a0 b0 a1 b1 | a4 b4 a5 b5
        const __m256 cd_lo = _mm256_unpacklo_ps(c, d), cd_hi = _mm256_unpackhi_ps(c, d);
        const __m256 x0 = _mm256_shuffle_ps(ab_lo, cd_lo, 0x44), x1 = _mm256_shuffle_ps(ab_lo, cd_lo, 0xee);  // blocks 0|4, 1|5
        const __m256 x2 = _mm256_shuffle_ps(ab_hi, cd_hi, 0x44), x3 = _mm256_shuffle_ps(ab_hi, cd_hi, 0xee);  // 2|6, 3|7
        float* o = z + set_words * s;
        _mm256_storeu_ps(o, _mm256_permute2f128_ps(x0, x1, 0x20));
        _mm256_storeu_ps(o + 8, _mm256_permute2f128_ps(x2, x3, 0x20));
        _mm256_storeu_ps(o + 16, _mm256_permute2f128_ps(x0, x1, 0x31));
        _mm256_storeu_ps(o + 24, _mm256_permute2f128_ps(x2, x3, 0x31));
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

static_assert(chunk_elements / 2 % FloatBatch::size == 0 && 16 % FloatBatch::size == 0,
              "a set's 16 pairs must be whole float batches");

}  // namespace tg::random::detail
