// The bulk noise and the shuffle of tapegrad/random.hpp (its comment has the layout these
// functions implement bit for bit). The Philox kernels are in philox_kernels.hpp, Box-Muller
// in normal_kernels.hpp.
#include "tapegrad/random.hpp"

#include "normal_kernels.hpp"
#include "philox_kernels.hpp"
#include "tapegrad/parallel.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

// GCC 12 reports false "may be used uninitialized" positives inside its own AVX-512 intrinsics
// once xsimd's kernels are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tg::random {

namespace detail {

[[noreturn]] void throw_limit(const char* what, std::uint64_t value, const char* limit) {
    throw std::invalid_argument("tg::random: " + std::string(what) + " " + std::to_string(value) +
                                " does not fit the Philox counter: it must be below " + limit);
}

std::uint32_t checked_epoch(std::uint64_t epoch) {
    if (epoch >= counter_word_limit) throw_limit("epoch", epoch, "2^32 = 4294967296");
    return std::uint32_t(epoch);
}

void check_sample_id(std::uint64_t id, std::size_t row) {
    if (id >= counter_word_limit)
        throw std::invalid_argument("tg::random: sample id " + std::to_string(id) + " (row " + std::to_string(row) +
                                    ") does not fit the Philox counter: sample ids must be below 2^32 = 4294967296");
}

// Elements e < 2^34: their block e / 4 is one counter word.
constexpr std::uint64_t element_limit = counter_word_limit << 2;
void check_element(std::uint64_t e) {
    if (e >= element_limit)
        throw_limit("element index", e, "2^34 = 17179869184 (its Philox block e / 4 must be below 2^32)");
}
// Elements [first, first + n) all below 2^34 (names the first one that is not).
void check_elements(std::uint64_t first, std::uint64_t n) {
    if (n != 0 && (first >= element_limit || n > element_limit - first)) check_element(std::max(first, element_limit));
}

// Masking's 8-bit draws: element j takes byte j % 4 of word j / 4 (bits 8 (j % 4) and up).
// bytes_of gives the bytes of n words in element order: the words' own memory on a
// little-endian machine, else b filled.
std::uint8_t byte_of(std::uint32_t w, std::uint64_t j) { return std::uint8_t(w >> (8 * (j % 4))); }
const std::uint8_t* bytes_of(const std::uint32_t* w, std::uint8_t* b, std::size_t n) {
    if constexpr (std::endian::native == std::endian::little) {
        return reinterpret_cast<const std::uint8_t*>(w);  // the same bytes in the same order
    } else {
        for (std::size_t i = 0; i < 4 * n; ++i) b[i] = byte_of(w[i / 4], i);
        return b;
    }
}

void check_id_count(const char* fn, std::size_t ids, std::size_t rows) {
    if (ids != rows)
        throw std::invalid_argument(std::string("tg::random::") + fn + ": " + std::to_string(ids) +
                                    " sample ids for a batch of " + std::to_string(rows) + " rows");
}

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

namespace {

// The whole-batch form of a function of rows [r0, r1): every error raised before out changes,
// out shaped like x, the rows split over the worker pool (each element's draw is keyed by its
// sample and position, so the split does not change the numbers).
template <class T, class Rows>
void over_the_batch(const char* fn, const Matrix<T>& x, std::span<const std::uint64_t> sample_ids,
                    std::uint64_t epoch, Matrix<T>& out, Rows rows) {
    detail::check_rows(fn, x, sample_ids, x, 0, x.shape()[0]);
    detail::checked_epoch(epoch);
    detail::ensure_shape_of(x, out);
    parallel::for_rows(x.shape()[0], x.shape()[1], rows);
}

}  // namespace

/// The word that serves `element` in the stream (seed; stream, index, epoch): one scalar
/// Philox call. For tests and one-off draws; the batch functions below compute it in bulk.
std::uint32_t word(std::uint64_t seed, Stream stream, std::uint64_t index, std::uint64_t epoch,
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
void words(std::uint64_t seed, Stream stream, std::uint64_t index, std::uint64_t epoch, std::uint64_t first,
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
std::uint64_t drop_threshold(double p) {
    if (!(p >= 0 && p <= 1))
        throw std::invalid_argument("tg::random: the drop probability must lie in [0, 1], got " + std::to_string(p));
    return std::uint64_t(std::llround(p * 4294967296.0));
}

namespace {

// Masking's byte pass over a chunk: o[i] = in[i] where b[i] >= top, else 0 (o may be in), for
// i < n; and bit k of tie_masks[g] = (b[32 g + k] == top) for the 32-byte groups covering n
// (bits past n clear). b is 64-byte aligned and readable to the next multiple of 32.
// The portable loop ands with an all-ones or zero mask (GCC 12 made a select a masked load,
// slow on Zen 3); the AVX2 one does both jobs with the bytes in one register: 28 -> 24 us per
// 64 x 784 float batch with ~200 ties.
template <class T>
void keep_and_find_ties(const std::uint8_t* b, std::uint8_t top, const T* in, T* o, std::size_t n,
                        std::uint32_t* tie_masks) {
    std::size_t i = 0;
#if defined(__AVX2__)
    if constexpr (std::is_same_v<T, float>) {
        const __m256i t = _mm256_set1_epi8(char(top));
        for (; i + 32 <= n; i += 32) {
            const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + i));
            tie_masks[i / 32] = std::uint32_t(_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, t)));
            const __m256i keep = _mm256_cmpeq_epi8(_mm256_max_epu8(v, t), v);  // 0xFF where b >= top
            const __m128i lo = _mm256_castsi256_si128(keep), hi = _mm256_extracti128_si256(keep, 1);
            const __m128i eighths[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
            for (int q = 0; q < 4; ++q) {
                const __m256 m = _mm256_castsi256_ps(_mm256_cvtepi8_epi32(eighths[q]));  // 0xFF -> all ones
                _mm256_storeu_ps(o + i + 8 * q, _mm256_and_ps(m, _mm256_loadu_ps(in + i + 8 * q)));
            }
        }
    }
#endif
    using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    for (std::size_t k = i; k < n; ++k) {
        Bits v;
        std::memcpy(&v, in + k, sizeof v);
        v &= Bits(0) - Bits(b[k] >= top);
        std::memcpy(o + k, &v, sizeof v);
    }
    for (; i < n; i += 32) {
        std::uint32_t m = 0;
        for (std::size_t k = 0; k < 32; ++k) m |= std::uint32_t(b[i + k] == top) << k;
        tie_masks[i / 32] = m & (n - i >= 32 ? ~0u : (1u << (n - i)) - 1);
    }
}

// A row's tie words in order: word k of the tie stream for its k-th tie, one scalar Philox call
// per block of four (a row has ~3 ties).
struct TieWords {
    Counter counter;  // {block, index, epoch, stream}: the block is set per call
    Key key;
    std::size_t count = 0;  // ties drawn so far in this row
    Words block{};
    std::uint32_t next() {
        if (count % 4 == 0) {
            counter[0] = std::uint32_t(count / 4);
            block = philox4x32_10(counter, key);
        }
        return block[count++ % 4];
    }
};

// The ties of a chunk of n elements (see mask_rows_in): each is dropped from o when the low 24
// bits of its tie word are below `low`. Written to keep branches few: a group's first tie is
// listed without one, the drop is a select. Out of line: inlined, it slowed the chunk's Philox
// kernel beside it (31 against 28 us per 64 x 784 batch).
template <class T>
[[gnu::noinline]] void drop_ties(const std::uint32_t* tie_masks, std::size_t n, std::uint32_t low, TieWords& words, T* o) {
    std::uint16_t at[4 * detail::chunk_elements + 1];  // the ties' columns in the chunk, in order
    std::size_t count = 0;
    for (std::size_t g = 0; 32 * g < n; g += 2) {  // 64 columns at a time
        std::uint64_t m = tie_masks[g] | (32 * (g + 1) < n ? std::uint64_t(tie_masks[g + 1]) << 32 : 0);
        at[count] = std::uint16_t(32 * g + std::size_t(std::countr_zero(m)));  // kept only if m != 0
        count += m != 0;
        m &= m - 1;
        for (; m != 0; m &= m - 1) at[count++] = std::uint16_t(32 * g + std::size_t(std::countr_zero(m)));
    }
    for (std::size_t k = 0; k < count; ++k) {
        T& x = o[at[k]];
        x = (words.next() & 0xFFFFFFu) < low ? T(0) : x;
    }
}

// Masking with the stream pair (stream, stream + 1): Stream::masking or Stream::dropout.
template <class T>
void mask_rows_in(Stream stream, const Matrix<T>& x, std::span<const std::uint64_t> sample_ids, std::uint64_t seed,
                  std::uint64_t epoch, double drop_probability, Matrix<T>& out, std::size_t r0, std::size_t r1) {
    static_assert(std::is_floating_point_v<T>);
    const std::uint64_t threshold = drop_threshold(drop_probability);
    const std::uint32_t e = detail::checked_epoch(epoch);
    detail::check_rows("mask_rows", x, sample_ids, out, r0, r1);
    const std::size_t cols = x.shape()[1];
    alignas(64) std::uint32_t w[detail::chunk_elements] = {};  // bytes past a tail stay defined
    alignas(64) std::uint8_t b[4 * detail::chunk_elements] = {};  // (b: big-endian machines)
    std::uint32_t tie_masks[4 * detail::chunk_elements / 32];
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
        // Bytes first: drop below T = t >> 24. A byte equal to T (probability 2^-8, ~3 of a
        // 784-pixel row) is a tie: the row's k-th tie (in column order) is dropped if the low 24
        // bits of word k of the tie stream are below L = t mod 2^24. Numbering the ties, rather
        // than drawing the tie word of the element's own column, lets one Philox call serve four
        // ties (a call per tie, in its column's block, cost 13 us per 64 x 784 batch).
        const auto top = std::uint8_t(threshold >> 24);
        const std::uint32_t low = std::uint32_t(threshold) & 0xFFFFFFu;
        const std::uint32_t id = std::uint32_t(sample_ids[r]);
        TieWords tie_words{{0, id, e, std::uint32_t(stream) + 1}, key_of(seed)};
        detail::for_each_chunk<detail::Order::element>(
            (cols + 3) / 4, id, e, std::uint32_t(stream), key_of(seed), w, nullptr,
            [&](std::size_t jw, std::size_t nw) {
                const std::size_t j = 4 * jw, n = std::min(4 * nw, cols - j);
                keep_and_find_ties(detail::bytes_of(w, b, nw), top, in + j, o + j, n, tie_masks);
                if (low == 0) return;  // a tie is kept: its 24 bits are never below 0
                drop_ties(tie_masks, n, low, tie_words, o + j);
            });
    }
}

}  // namespace

template <class T>
void mask_rows(const Matrix<T>& x, std::span<const std::uint64_t> sample_ids, std::uint64_t seed,
               std::uint64_t epoch, double drop_probability, Matrix<T>& out, std::size_t r0, std::size_t r1) {
    mask_rows_in(Stream::masking, x, sample_ids, seed, epoch, drop_probability, out, r0, r1);
}

/// Masking noise for the whole batch; resizes `out` to x's shape if needed (no allocation when
/// it already has it).
template <class T>
void mask_rows(const Matrix<T>& x, std::span<const std::uint64_t> sample_ids, std::uint64_t seed,
               std::uint64_t epoch, double drop_probability, Matrix<T>& out) {
    drop_threshold(drop_probability);
    over_the_batch("mask_rows", x, sample_ids, epoch, out, [&](std::size_t r0, std::size_t r1) {
        mask_rows(x, sample_ids, seed, epoch, drop_probability, out, r0, r1);
    });
}

template <class T>
void dropout_mask_rows(std::span<const std::uint64_t> sample_ids, std::uint64_t seed, std::uint64_t epoch,
                       double drop_probability, std::size_t cols, Matrix<T>& out) {
    drop_threshold(drop_probability);
    detail::checked_epoch(epoch);
    detail::check_elements(0, cols);
    for (std::size_t r = 0; r < sample_ids.size(); ++r) detail::check_sample_id(sample_ids[r], r);
    if (out.shape()[0] != sample_ids.size() || out.shape()[1] != cols) out.resize({sample_ids.size(), cols});
    std::fill(out.begin(), out.end(), drop_probability < 1 ? T(1 / (1 - drop_probability)) : T(0));
    parallel::for_rows(out.shape()[0], cols, [&](std::size_t r0, std::size_t r1) {
        mask_rows_in(Stream::dropout, out, sample_ids, seed, epoch, drop_probability, out, r0, r1);
    });
}

/// Gaussian noise for rows [r0, r1): out = x + sigma N(0, 1), Box-Muller in float (SIMD).
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
    detail::check_sigma(sigma);
    over_the_batch("add_gaussian_rows", x, sample_ids, epoch, out, [&](std::size_t r0, std::size_t r1) {
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
void permutation(std::size_t n, std::uint64_t seed, std::uint64_t epoch, std::vector<std::size_t>& out) {
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

#define TG_RANDOM_INSTANCES(T)                                                                              \
    template void mask_rows<T>(const Matrix<T>&, std::span<const std::uint64_t>, std::uint64_t, std::uint64_t,  \
                               double, Matrix<T>&, std::size_t, std::size_t);                                    \
    template void mask_rows<T>(const Matrix<T>&, std::span<const std::uint64_t>, std::uint64_t, std::uint64_t,  \
                               double, Matrix<T>&);                                                              \
    template void add_gaussian_rows<T>(const Matrix<T>&, std::span<const std::uint64_t>, std::uint64_t,         \
                                       std::uint64_t, double, Matrix<T>&, std::size_t, std::size_t);             \
    template void add_gaussian_rows<T>(const Matrix<T>&, std::span<const std::uint64_t>, std::uint64_t,         \
                                       std::uint64_t, double, Matrix<T>&);                                       \
    template void standard_normal_rows<T>(std::span<const std::uint64_t>, std::uint64_t, std::uint64_t,         \
                                          std::size_t, Matrix<T>&);                                              \
    template void dropout_mask_rows<T>(std::span<const std::uint64_t>, std::uint64_t, std::uint64_t, double,    \
                                       std::size_t, Matrix<T>&);
TG_RANDOM_INSTANCES(float)
TG_RANDOM_INSTANCES(double)
#undef TG_RANDOM_INSTANCES

}  // namespace tg::random
