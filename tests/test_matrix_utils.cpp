// The training library's batch gathering: from the byte levels of pixel data (a quarter of the
// memory traffic) it must give the very values a gather from the matrix gives, bit for bit, and
// data that are not exactly such levels must keep the plain path.
#include "train_runner.hpp"

#include <boost/test/unit_test.hpp>

#include <tapegrad/train/data.hpp>
#include <tapegrad/train/matrix_utils.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace tt = tg::train;

namespace {

template <class T>
bool same_bits(const tg::Matrix<T>& a, const tg::Matrix<T>& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Gathers scattered rows both ways and compares the bits.
template <class T>
void expect_same_gathers(const tg::Matrix<T>& m) {
    const tt::ByteLevels levels = tt::byte_levels_of(m);
    BOOST_REQUIRE(levels.size() == m.size());
    std::mt19937_64 rng(7);
    std::vector<std::size_t> rows(std::min<std::size_t>(m.shape()[0], 97));
    for (std::size_t& r : rows) r = rng() % m.shape()[0];
    tg::Matrix<T> plain, from_levels;
    tt::gather_rows(m, rows, plain);
    tt::gather_level_rows(levels, m.shape()[1], rows, from_levels);
    BOOST_TEST(same_bits(plain, from_levels));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(matrix_utils)

BOOST_AUTO_TEST_CASE(byte_levels_gather_the_same_bits_as_the_matrix) {
    // Every level, as tg::io's idx loader computes it (float(k) / 255.0f), in float and widened.
    tg::Matrix<float> f = tg::make_matrix<float>(300, 257);
    for (std::size_t i = 0; i < f.size(); ++i) f.data()[i] = float(i % 256) / 255.0f;
    expect_same_gathers(f);
    expect_same_gathers(tt::converted<double>(f));
    // Fashion-MNIST itself, as the loader gives it: 3,000 rows are 2.35 MB of bytes, so the
    // levels take HugePageAllocator's 2 MiB path (the sanitizer build checks its bounds).
    BOOST_REQUIRE_MESSAGE(tg_test::have_fashion_mnist(), "needs dataset-fashion-mnist (scripts/install-deps.sh)");
    tt::DataSource source;
    source.limit = 3000;
    expect_same_gathers(tt::load_data(source).train);
}

BOOST_AUTO_TEST_CASE(values_that_are_not_byte_levels_keep_the_plain_gather) {
    tg::Matrix<float> f = tg::make_matrix<float>(4, 5);
    for (std::size_t i = 0; i < f.size(); ++i) f.data()[i] = float(i) / 255.0f;
    BOOST_TEST(tt::byte_levels_of(f).size() == f.size());
    for (const float bad : {0.5f, std::nextafter(1.0f / 255.0f, 1.0f), -0.0f, 256.0f / 255.0f, -1.0f / 255.0f,
                            std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
        tg::Matrix<float> g = f;
        g(3, 4) = bad;
        BOOST_TEST(tt::byte_levels_of(g).empty(), "accepted " << bad);
    }
    // A double that is not a widened float level.
    tg::Matrix<double> d = tt::converted<double>(f);
    d(0, 1) = 1.0 / 255.0;
    BOOST_TEST(tt::byte_levels_of(d).empty());
}

BOOST_AUTO_TEST_SUITE_END()
