#pragma once
// Counter-based noise and shuffling. Every random number is a pure function of (seed, stream,
// index, epoch, element) through Philox4x32-10, so the noise a sample gets does not depend on its
// position in a batch, on the batch size, on the thread count or on how many processes share a
// batch, and a checkpoint needs no generator state: the epoch and the global sample ids say
// everything. It is core, not training: ops (dropout) draw from it as well as the models' noise.
// The vectorized kernels live in src/random.cpp and src/philox_kernels.hpp.
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
//                element  gaussian: the column j of the sample's row; masking: j / 4;
//                         masking_tie: the tie's number k in the sample's row
//                         shuffle: the Fisher-Yates step i
//                index    masking, gaussian: the global sample id (not the row in the batch)
//                         shuffle: the redraw number, 0 for the first draw
//                epoch    as given
//                stream   Stream::gaussian = 1, shuffle = 2, masking = 3, masking_tie = 4,
//                         dropout = 5, dropout_tie = 6
//              Every field must be < 2^32 (element < 2^34); otherwise std::invalid_argument.
//   words      one call returns {w0, w1, w2, w3}; element e uses word e % 4 of the call whose
//              counter holds e / 4 (four neighbouring elements share a call).
//   masking    with t = round(p 2^32) = 2^24 T + L (L < 2^24): b = byte j % 4 (bits 8 (j % 4) to
//              8 (j % 4) + 7) of the word of element j / 4; out(r, j) = 0 if b < T; if b = T (a
//              tie), numbering the row's ties k = 0, 1, ... in column order, out(r, j) = 0 if the
//              low 24 bits of the word of element k of Stream::masking_tie are below L; else
//              x(r, j). So P(drop) = t / 2^32 exactly (each tie's word is fresh and independent
//              of the bytes); p = 1 (t = 2^32) drops all, p = 0 none. (Layout 1 dropped when the element's own 32-bit word of Stream 0 was < t;
//              layout 2 drew 16-bit halves of the same two streams, with ties on 16 bits.)
//   dropout    the same as masking with the streams dropout and dropout_tie; kept elements are
//              1 / (1 - p) in the mask (all 0 for p = 1).
//   gaussian   elements 4b and 4b+1 come from the pair (w0, w1), 4b+2 and 4b+3 from (w2, w3):
//                u1 = ((wa >> 8) + 1) 2^-24  in (0, 1]      (wa = w0 or w2: the radius)
//                u2 = (wb >> 8) 2^-24        in [0, 1)      (wb = w1 or w3: the angle)
//                r = sqrt(-2 ln u1),  t = 2 pi u2 - pi/4
//                z(4b or 4b+2) = r cos t,  z(4b+1 or 4b+3) = r sin t
//              in float, as: q = wb >> 30 (the quadrant, exact), phi = fma(float((wb >> 8) mod 2^22),
//              float(pi/2 2^-22), float(-pi/4)), (s, c) = (sin phi, cos phi), (cos t, sin t) =
//              (c, s) turned by q quarter turns, r = sqrt(-2 ln u1), where ln, sin, cos and
//              sqrt are src/normal_kernels.hpp's polynomials and root, each within about one
//              float ulp (r cos t and r sin t within 4e-7 r of the exact value for every draw);
//              out(r, j) = fma(T(sigma), T(z), x(r, j)) in T.
//   shuffle    a = 0, 1, ..., n-1; for i = n-1 down to 1: j = draw(i + 1, i); swap(a[i], a[j]).
//              draw(m, i) (Lemire's unbiased bounded draw): w = the word of element i with
//              index 0; p = w m (64-bit); while (p mod 2^32) < (2^32 - m) mod m, redraw with
//              index 1, 2, ...; j = p >> 32.
//
// Masking and the permutation are integer functions: identical on every machine, compiler and
// standard library. Gaussian values go through float polynomials whose rounding depends on the
// vector width and the FMA contraction, so their last bits are fixed for one build (same
// binary and flags), not across instruction sets.
// ---------------------------------------------------------------------------------------------
//
// Rows are independent: the `r0, r1` overloads process rows [r0, r1) of an `out` that already
// has x's shape, so callers may split a batch over threads. The whole-batch overloads split the
// rows over the worker pool themselves. T is float or double.
#include "tapegrad/tensor.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace tg::random {

/// Which use a draw serves: the counter's fourth word, so that uses never share counters.
/// Value 0 served masking until it took 16-bit draws (layout 2); it is not reused. Layout 3
/// (8-bit draws) kept the values 3 and 4, the version telling the two apart.
enum class Stream : std::uint32_t { gaussian = 1, shuffle = 2, masking = 3, masking_tie = 4, dropout = 5, dropout_tie = 6 };

/// The masking layout's version, recorded by checkpoints: 1 drew a 32-bit word per element
/// (Stream 0), 2 drew 16 bits, 3 draws 8 bits (Stream::masking, Stream::masking_tie), all with
/// the same probability. A masking run saved with another layout is refused on resume.
inline constexpr int masking_layout = 3;

/// What masking layout `layout` drew per element, for messages ("8 bits per element"); empty for
/// a layout that never existed.
inline const char* masking_layout_draws(int layout) {
    return layout == 1 ? "one 32-bit word per element" : layout == 2 ? "16 bits per element" : layout == 3 ? "8 bits per element" : "";
}

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

/// The word that serves `element` in the stream (seed; stream, index, epoch): one scalar
/// Philox call. For tests and one-off draws; the batch functions below compute it in bulk.
std::uint32_t word(std::uint64_t seed, Stream stream, std::uint64_t index, std::uint64_t epoch,
                   std::uint64_t element);

/// The words for elements [first, first + n) of the stream (seed; stream, index, epoch), the
/// vectorized bulk form of `word`.
void words(std::uint64_t seed, Stream stream, std::uint64_t index, std::uint64_t epoch, std::uint64_t first,
           std::size_t n, std::uint32_t* out);

/// round(p 2^32): an element is dropped when its word is below this (2^32 for p = 1).
std::uint64_t drop_threshold(double p);

/// Masking noise for rows [r0, r1): out(r, j) = 0 with probability p, else x(r, j); row r is the
/// sample `sample_ids[r]`. `out` must already have x's shape (it may be x itself).
template <class T>
void mask_rows(const Matrix<T>& x, std::span<const std::uint64_t> sample_ids, std::uint64_t seed,
               std::uint64_t epoch, double drop_probability, Matrix<T>& out, std::size_t r0, std::size_t r1);

/// Masking noise for the whole batch; resizes `out` to x's shape if needed (no allocation when
/// it already has it).
template <class T>
void mask_rows(const Matrix<T>& x, std::span<const std::uint64_t> sample_ids, std::uint64_t seed,
               std::uint64_t epoch, double drop_probability, Matrix<T>& out);

/// Dropout's mask, rows x cols (out is resized): 0 with probability p, else 1 / (1 - p) (all 0
/// for p = 1), keyed by (seed, epoch, sample id, column) in the dropout streams.
template <class T>
void dropout_mask_rows(std::span<const std::uint64_t> sample_ids, std::uint64_t seed, std::uint64_t epoch,
                       double drop_probability, std::size_t cols, Matrix<T>& out);

/// Gaussian noise for rows [r0, r1): out = x + sigma N(0, 1), Box-Muller in float (SIMD).
/// `out` must already have x's shape (it may be x itself).
template <class T>
void add_gaussian_rows(const Matrix<T>& x, std::span<const std::uint64_t> sample_ids, std::uint64_t seed,
                       std::uint64_t epoch, double sigma, Matrix<T>& out, std::size_t r0, std::size_t r1);

/// Gaussian noise for the whole batch; resizes `out` to x's shape if needed.
template <class T>
void add_gaussian_rows(const Matrix<T>& x, std::span<const std::uint64_t> sample_ids, std::uint64_t seed,
                       std::uint64_t epoch, double sigma, Matrix<T>& out);

/// Standard normal draws, rows x cols (out is resized): the noise add_gaussian_rows adds at
/// sigma 1, keyed by (seed, epoch, sample id, column). A VAE's ε, prior samples, random directions.
template <class T>
void standard_normal_rows(std::span<const std::uint64_t> sample_ids, std::uint64_t seed, std::uint64_t epoch,
                          std::size_t cols, Matrix<T>& out);

/// The epoch's order of n samples: a Fisher-Yates shuffle driven by Philox (layout above), the
/// same with every standard library. Reuses out's capacity. n must not exceed 2^32.
void permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch, std::vector<std::size_t>& out);

/// The epoch's order of n samples (see the overload that fills a vector).
inline std::vector<std::size_t> permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch) {
    std::vector<std::size_t> out;
    permutation(n, seed, epoch, out);
    return out;
}

}  // namespace tg::random
