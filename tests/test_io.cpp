#include <boost/test/unit_test.hpp>

#include "io_test_helpers.hpp"
#include "temp_dir.hpp"
#include "tapegrad/io/atomic_file.hpp"
#include "tapegrad/io/idx.hpp"
#include "tapegrad/io/npy.hpp"
#include "tapegrad/io/plot.hpp"
#include "tapegrad/io/png.hpp"

#include <png.h>
#include <zlib.h>
// xnpy.hpp pulls in <regex>, which trips a GCC 12 -Wmaybe-uninitialized false positive in
// sanitizer builds.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <xtensor/xnpy.hpp>
#pragma GCC diagnostic pop

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <sys/resource.h>

namespace fs = std::filesystem;
using tg::Matrix;
using tg_test::Bytes;
using tg_test::check_error;
using tg_test::float_bytes;
using tg_test::format_error_check;
using tg_test::npy;
using tg_test::write_bytes;

namespace {

using tg_test::TempDir;

std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// IDX header: two zero bytes, type 0x08, dimension count, big-endian dimensions.
Bytes idx(std::uint32_t magic, const std::vector<std::uint32_t>& dims, std::size_t payload, std::uint8_t fill = 7) {
    Bytes b;
    auto be32 = [&](std::uint32_t v) { for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s)); };
    be32(magic);
    for (auto d : dims) be32(d);
    b.insert(b.end(), payload, fill);
    return b;
}


long max_rss_kib() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    return r.ru_maxrss;
}


const std::string kF4_2x3 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
const std::vector<float> kSix = {1.5f, -2.0f, 3.25f, 0.0f, 1e-30f, -7.0f};

struct Png {
    unsigned width = 0, height = 0;
    Bytes pixels;
};

Png read_png(const std::string& path, bool rgb) {
    png_image img;
    std::memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    BOOST_REQUIRE_MESSAGE(png_image_begin_read_from_file(&img, path.c_str()), img.message);
    img.format = rgb ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    Png out{img.width, img.height, Bytes(PNG_IMAGE_SIZE(img))};
    BOOST_REQUIRE_MESSAGE(png_image_finish_read(&img, nullptr, out.pixels.data(), 0, nullptr), img.message);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(io)

BOOST_AUTO_TEST_CASE(fashion_mnist_t10k) {
    const tg::io::Dataset ds = tg::io::load_fashion_mnist("t10k");
    BOOST_TEST(ds.images.shape()[0] == 10000u);
    BOOST_TEST(ds.images.shape()[1] == 784u);
    BOOST_TEST(ds.rows == 28u);
    BOOST_TEST(ds.cols == 28u);
    BOOST_REQUIRE(ds.labels.size() == 10000u);
    std::vector<int> per_class(10, 0);
    for (auto l : ds.labels) per_class.at(l) += 1;
    for (int c : per_class) BOOST_TEST(c == 1000);  // t10k is balanced
    BOOST_TEST(int(ds.labels[0]) == 9);  // ankle boot, the first test image
    const auto [mn, mx] = std::minmax_element(ds.images.begin(), ds.images.end());
    BOOST_TEST(*mn == 0.0f);
    BOOST_TEST(*mx == 1.0f);
    BOOST_CHECK_THROW(tg::io::load_fashion_mnist("validation"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(idx_valid_plain_and_gzip) {
    TempDir t;
    Bytes b = idx(0x803, {3, 2, 2}, 0);
    for (int i = 0; i < 12; ++i) b.push_back(static_cast<std::uint8_t>(i == 0 ? 255 : i * 10));
    for (bool gz : {false, true}) {
        const std::string p = t.file(gz ? "img.gz" : "img");
        write_bytes(p, b, gz);
        std::size_t rows = 0, cols = 0;
        const Matrix<float> m = tg::io::load_idx_images(p, &rows, &cols);
        BOOST_TEST(m.shape()[0] == 3u);
        BOOST_TEST(m.shape()[1] == 4u);
        BOOST_TEST(rows == 2u);
        BOOST_TEST(m(0, 0) == 1.0f);
        BOOST_TEST(m(2, 3) == 110.0f / 255.0f);
    }
}

BOOST_AUTO_TEST_CASE(idx_corrupt_files) {
    TempDir t;
    const std::string p = t.file("train-images-idx3-ubyte");
    auto load = [&] { tg::io::load_idx_images(p); };
    write_bytes(p, idx(0x12345678, {}, 0));
    check_error<tg::io::FormatError>(load, {p, "byte 0", "not an IDX file", "0x12345678"});
    write_bytes(p, idx(0x801, {5}, 5));
    check_error<tg::io::FormatError>(load, {p, "byte 3", "expected 3 dimension(s), found 1"});
    write_bytes(p, idx(0x80D03, {}, 0));
    check_error<tg::io::FormatError>(load, {p, "byte 0", "not an IDX file"});
    write_bytes(p, idx(0xD03, {}, 0));
    check_error<tg::io::FormatError>(load, {p, "byte 2", "element type 13"});
    write_bytes(p, Bytes{0, 0, 8, 3, 0, 0});
    check_error<tg::io::FormatError>(load, {p, "truncated header", "image count"});
    write_bytes(p, idx(0x803, {10, 0, 28}, 0));
    check_error<tg::io::FormatError>(load, {p, "byte 8", "image rows is 0"});
    for (bool gz : {false, true}) {  // plain files are checked against their size, gzip while streaming
        write_bytes(p, idx(0x803, {10, 28, 28}, 1000), gz);
        check_error<tg::io::FormatError>(load, {p, "truncated: expected 7840 bytes of pixel data after byte 16", "1000"});
        write_bytes(p, idx(0x803, {1, 2, 2}, 4 + 3), gz);
        check_error<tg::io::FormatError>(load, {p, "byte 20", "trailing data", "3 extra bytes"});
    }
    const std::string lp = t.file("labels");
    write_bytes(lp, Bytes{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6});
    check_error<tg::io::FormatError>([&] { tg::io::load_idx_labels(lp); }, {lp, "corrupt gzip"});
    // A gzip stream cut before its CRC32/ISIZE trailer: the deflate data still decodes in full,
    // so only zlib's end-of-stream status tells (a fuzzing finding, fixed).
    write_bytes(lp, idx(0x801, {2}, 2, 9), true);
    Bytes gz;
    {
        std::ifstream in(lp, std::ios::binary);
        gz.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    BOOST_REQUIRE(gz.size() > 8);
    BOOST_REQUIRE(tg::io::load_idx_labels(lp) == (std::vector<std::uint8_t>{9, 9}));
    gz.erase(gz.end() - 8, gz.end());  // the 8-byte trailer
    write_bytes(lp, gz);
    check_error<tg::io::FormatError>([&] { tg::io::load_idx_labels(lp); }, {lp, "corrupt gzip stream", "unexpected end of file"});
    check_error<tg::io::IoError>([&] { tg::io::load_idx_labels(t.file("missing")); }, {"missing", "cannot open"});
}

BOOST_AUTO_TEST_CASE(idx_huge_dims_fail_fast) {
    TempDir t;
    const std::string p = t.file("huge.gz");
    const long rss_before = max_rss_kib();
    const auto start = std::chrono::steady_clock::now();
    write_bytes(p, idx(0x803, {0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF}, 100), true);
    check_error<tg::io::FormatError>([&] { tg::io::load_idx_images(p); }, {p, "byte 4", "limit"});
    // 784 MB claimed, just under the limit: gzip input is only discovered to be short while
    // streaming, which must not reserve the claimed size.
    for (bool gz : {false, true}) {
        write_bytes(p, idx(0x803, {1000000, 28, 28}, 100), gz);
        check_error<tg::io::FormatError>([&] { tg::io::load_idx_images(p); }, {p, "truncated: expected 784000000 bytes"});
    }
    write_bytes(p, idx(0x801, {1000000000}, 10), true);
    check_error<tg::io::FormatError>([&] { tg::io::load_idx_labels(p); }, {p, "truncated: expected 1000000000 bytes", "10"});
    BOOST_CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
    BOOST_TEST(max_rss_kib() - rss_before < 64 * 1024);
}

BOOST_AUTO_TEST_CASE(fashion_mnist_dir_checks) {
    TempDir t;
    write_bytes(t.file("t10k-images-idx3-ubyte.gz"), idx(0x803, {3, 2, 2}, 12), true);
    write_bytes(t.file("t10k-labels-idx1-ubyte"), idx(0x801, {2}, 2, 1));  // plain name is found too
    check_error<tg::io::FormatError>([&] { tg::io::load_fashion_mnist(t.dir.string(), "t10k"); },
                                     {"t10k-labels-idx1-ubyte", "holds 2 labels", "3 images"});
    write_bytes(t.file("t10k-labels-idx1-ubyte"), Bytes{0, 0, 8, 1, 0, 0, 0, 3, 1, 12, 2});
    check_error<tg::io::FormatError>([&] { tg::io::load_fashion_mnist(t.dir.string(), "t10k"); },
                                     {"t10k-labels-idx1-ubyte", "byte 9", "label 12"});
    write_bytes(t.file("t10k-labels-idx1-ubyte"), Bytes{0, 0, 8, 1, 0, 0, 0, 3, 1, 9, 2});
    const auto ds = tg::io::load_fashion_mnist(t.dir.string(), "t10k");
    BOOST_TEST(ds.labels == (std::vector<std::uint8_t>{1, 9, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(npy_round_trip) {
    TempDir t;
    std::mt19937 rng(3);
    std::normal_distribution<double> nd;
    Matrix<float> f = tg::make_matrix<float>(7, 5);
    Matrix<double> d = tg::make_matrix<double>(3, 11);
    for (auto& v : f) v = static_cast<float>(nd(rng));
    for (auto& v : d) v = nd(rng);
    tg::io::save_npy(t.file("f.npy"), f);
    tg::io::save_npy(t.file("d.npy"), d);
    BOOST_TEST(tg::io::load_npy<float>(t.file("f.npy")) == f);
    BOOST_TEST(tg::io::load_npy<double>(t.file("d.npy")) == d);
    const std::string raw = read_text(t.file("f.npy"));
    BOOST_TEST(raw.compare(0, 8, std::string("\x93NUMPY\x01\x00", 8)) == 0);
    BOOST_TEST((raw.size() - 7 * 5 * 4) % 64 == 0u);  // numpy aligns the data to 64 bytes
    const Matrix<float> empty = tg::make_matrix<float>(0, 4);
    tg::io::save_npy(t.file("e.npy"), empty);
    BOOST_TEST(tg::io::load_npy<float>(t.file("e.npy")).shape()[1] == 4u);
    BOOST_TEST(t.count_entries() == 3u);  // no temporary files left behind
    // Rank 1 reads as a single row.
    write_bytes(t.file("r1.npy"), npy("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", float_bytes(kSix)));
    const Matrix<float> r1 = tg::io::load_npy<float>(t.file("r1.npy"));
    BOOST_TEST(r1.shape()[0] == 1u);
    BOOST_TEST(r1(0, 5) == -7.0f);
}

BOOST_AUTO_TEST_CASE(npy_headers_xtensor_rejects_still_load) {
    TempDir t;
    const std::string p = t.file("a.npy");
    auto expect_loads = [&](const Bytes& file) {
        write_bytes(p, file);
        const Matrix<float> m = tg::io::load_npy<float>(p);
        BOOST_REQUIRE(m.shape()[0] == 2u && m.shape()[1] == 3u);
        BOOST_TEST(std::vector<float>(m.begin(), m.end()) == kSix, boost::test_tools::per_element());
    };
    // Header length 182 = 0xB6: xtensor sign-extends that byte and rejects the valid file.
    expect_loads(npy(kF4_2x3, float_bytes(kSix), 1, 192));
    BOOST_CHECK_THROW(xt::load_npy<float>(p), std::runtime_error);
    expect_loads(npy(kF4_2x3, float_bytes(kSix), 2, 192));
    expect_loads(npy(kF4_2x3, float_bytes(kSix), 3, 128));
    expect_loads(npy("{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}", float_bytes(kSix)));
    expect_loads(npy("{\"descr\":\"<f4\",\t\"fortran_order\":False,\"shape\":(2,3)}", float_bytes(kSix)));
    expect_loads(npy(kF4_2x3, float_bytes(kSix), 2, 128));  // canonical v2: xtensor's path
}

BOOST_AUTO_TEST_CASE(npy_errors) {
    TempDir t;
    const std::string p = t.file("bad.npy");
    const auto err = format_error_check(p, [](const std::string& path) { tg::io::load_npy<float>(path); });
    const Bytes six = float_bytes(kSix);
    auto dict = [](const std::string& descr, const std::string& fortran, const std::string& shape) {
        return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
    };
    err(npy(dict("<i8", "False", "(2, 3)"), Bytes(48)), {"dtype '<i8'", "float32 ('<f4')"});
    err(npy(dict(">f4", "False", "(2, 3)"), six), {"'>f4' is big-endian"});
    err(npy(dict("<f4", "True", "(2, 3)"), six), {"fortran_order is True"});
    err(npy(dict("<f4", "False", "(1, 2, 3)"), six), {"byte 10", "rank 3"});
    err(npy(dict("<f4", "False", "()"), Bytes(4)), {"rank 0"});
    err(npy(dict("<f4", "False", "(4294967296, 4294967296)"), six), {"overflows"});
    err(npy(dict("<f4", "False", "(18446744073709551616, 1)"), six), {"64 bits"});
    // A zero dimension must not let the other one be anything (numpy's limit is 2^63 - 1).
    err(npy(dict("<f4", "False", "(0, 18446744073709551615)"), Bytes{}), {"byte 10", "exceeds 2^63 - 1"});
    err(npy(dict("<f4", "False", "(9223372036854775808, 0)"), Bytes{}), {"exceeds 2^63 - 1"});
    err(npy(kF4_2x3, Bytes(six.begin(), six.end() - 1)), {"truncated", "needs 24 bytes of data after byte 128", "holds only 23"});
    Bytes longer = six;
    longer.insert(longer.end(), 5, 0);
    err(npy(kF4_2x3, longer), {"byte 152", "5 trailing bytes"});
    err(npy(dict("<f4", "False", "(6)"), six), {"not a tuple"});
    err(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", six), {"unexpected header key 'x'"});
    err(npy("{'descr': '<f4', 'shape': (2, 3)}", six), {"no 'fortran_order' key"});
    err(npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", six), {"structured dtype"});
    Bytes v4 = npy(kF4_2x3, six);
    v4[6] = 4;
    err(v4, {"byte 6", "version 4.0"});
    Bytes nomagic = npy(kF4_2x3, six);
    nomagic[1] = 'X';
    err(nomagic, {"byte 0", "not an npy file"});
    Bytes short_file = npy(kF4_2x3, six);
    short_file.resize(60);
    err(short_file, {"byte 8", "runs past the end"});
    err(Bytes{0x93, 'N', 'U'}, {"truncated"});
    // A float file is not silently read as double.
    write_bytes(p, npy(kF4_2x3, six));
    check_error<tg::io::FormatError>([&] { tg::io::load_npy<double>(p); }, {"dtype '<f4'", "float64 ('<f8')"});
}

BOOST_AUTO_TEST_CASE(atomic_writes) {
    TempDir t;
    const std::string p = t.file("ckpt.json");
    tg::io::write_file_atomically(p, [](std::ostream& os) { os << "old"; });
    struct Boom {};
    BOOST_CHECK_THROW(tg::io::write_file_atomically(p, [](std::ostream& os) { os << "half written"; throw Boom{}; }), Boom);
    BOOST_TEST(read_text(p) == "old");
    check_error<tg::io::IoError>([&] { tg::io::write_file_atomically(p, [](std::ostream& os) { os.setstate(std::ios::failbit); }); },
                                 {p, "writing"});
    BOOST_TEST(read_text(p) == "old");
    BOOST_TEST(t.count_entries() == 1u);
    tg::io::save_npy(p, Matrix<double>{{1.0, 2.0}});
    BOOST_TEST(tg::io::load_npy<double>(p)(0, 1) == 2.0);
    BOOST_TEST(t.count_entries() == 1u);
    check_error<tg::io::IoError>([&] { tg::io::save_npy(t.file("no/such/dir/x.npy"), Matrix<float>{{1.0f}}); }, {"no/such/dir/x.npy"});
}

BOOST_AUTO_TEST_CASE(png_gray_and_rgb) {
    TempDir t;
    const Matrix<float> g = {{0.0f, 1.0f, 0.5f, -1.0f, 2.0f}, {NAN, 0.2f, 0.2f, 0.2f, 0.2f}, {1, 1, 1, 1, 1}};
    tg::io::write_png_gray(t.file("g.png"), g);
    const Png pg = read_png(t.file("g.png"), false);
    BOOST_TEST(pg.width == 5u);
    BOOST_TEST(pg.height == 3u);
    BOOST_TEST(pg.pixels == (Bytes{0, 255, 128, 0, 255, 0, 51, 51, 51, 51, 255, 255, 255, 255, 255}), boost::test_tools::per_element());
    const Bytes rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 1, 2, 3, 4, 5, 6, 7, 8, 9, 200, 100, 50};
    tg::io::write_png_rgb(t.file("c.png"), 4, 2, rgb);
    const Png pc = read_png(t.file("c.png"), true);
    BOOST_TEST(pc.width == 4u);
    BOOST_TEST(pc.height == 2u);
    BOOST_TEST(pc.pixels == rgb, boost::test_tools::per_element());
    BOOST_CHECK_THROW(tg::io::write_png_rgb(t.file("x.png"), 4, 3, rgb), std::invalid_argument);
    BOOST_CHECK_THROW(tg::io::write_png_gray(t.file("x.png"), tg::make_matrix<float>(0, 3)), std::invalid_argument);
    BOOST_TEST(t.count_entries() == 2u);
}

BOOST_AUTO_TEST_CASE(tile_grid_layout) {
    // Five 2x3 tiles, 2 per grid row, padding 1: 3 grid rows -> (3*3+1) x (2*4+1).
    Matrix<float> tiles = tg::make_matrix<float>(5, 6);
    for (std::size_t i = 0; i < 5; ++i)
        for (std::size_t j = 0; j < 6; ++j) tiles(i, j) = 0.1f * static_cast<float>(i) + 0.01f * static_cast<float>(j);
    const Matrix<float> g = tg::io::tile_grid(tiles, 2, 3, 2, false, 1, 0.5f);
    BOOST_REQUIRE(g.shape()[0] == 10u && g.shape()[1] == 9u);
    BOOST_TEST(g(1, 1) == tiles(0, 0));
    BOOST_TEST(g(2, 3) == tiles(0, 5));   // tile 0, row 1, col 2
    BOOST_TEST(g(1, 5) == tiles(1, 0));   // tile 1 starts after 1 + 3 + 1 columns
    BOOST_TEST(g(8, 3) == tiles(4, 5));   // tile 4, row 1, col 2
    BOOST_TEST(g(7, 1) == tiles(4, 0));   // tile 4 is grid row 2
    BOOST_TEST(g(7, 5) == 0.5f);          // empty cell
    BOOST_TEST(g(0, 0) == 0.5f);
    BOOST_TEST(g(3, 2) == 0.5f);          // padding between grid rows
    Matrix<float> f = {{2, 3, 4, 5, 6, 7}, {1, 1, 1, 1, 1, 1}};
    const Matrix<float> n = tg::io::tile_grid(f, 2, 3, 5, true, 0);
    BOOST_REQUIRE(n.shape()[0] == 2u && n.shape()[1] == 6u);  // only 2 columns used
    BOOST_TEST(n(0, 0) == 0.0f);
    BOOST_TEST(n(1, 2) == 1.0f);
    BOOST_TEST(n(0, 1) == 0.2f, boost::test_tools::tolerance(1e-6f));
    BOOST_TEST(n(1, 4) == 0.5f);  // a constant tile
    BOOST_CHECK_THROW(tg::io::tile_grid(f, 2, 2, 5, true), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(gnuplot_plots) {
    TempDir t;
    std::vector<double> x, y1, y2;
    for (int i = 1; i <= 50; ++i) {
        x.push_back(i);
        y1.push_back(std::exp(-0.05 * i));
        y2.push_back(i == 10 ? NAN : 0.5 * std::exp(-0.03 * i));
    }
    const std::vector<tg::io::Series> s = {{"train_loss 'it'", x, y1}, {"test", x, y2, tg::io::Style::Points}};
    const std::string p = t.file("loss.png");
    try {
        tg::io::plot_lines(p, "Loss_1", "epoch", "loss", s, true);
    } catch (const tg::io::IoError& e) {
        // Without gnuplot the error must say how to get it, and the test fails all the same: the
        // suite needs gnuplot (scripts/install-deps.sh installs it), it does not skip.
        BOOST_TEST(std::string(e.what()).find("apt-get install gnuplot-nox") != std::string::npos, e.what());
        BOOST_FAIL("gnuplot is not installed, so the plots cannot be checked: " << e.what());
    }
    BOOST_TEST(read_png(p, false).width == 640u);
    const std::vector<tg::io::Panel> panels = {
        {"a", "x", "y", s}, {"b", "x", "y", {s[1]}, true}, {"c", "u", "v", {{"", {1, 2, 3}, {3, 1, 2}, tg::io::Style::LinesPoints}}}};
    tg::io::plot_panels(t.file("three.png"), panels, 0, 400, 300);
    const Png three = read_png(t.file("three.png"), false);
    BOOST_TEST(three.width == 1200u);
    BOOST_TEST(three.height == 300u);
    BOOST_TEST(t.count_entries() == 2u);
    BOOST_CHECK_THROW(tg::io::plot_lines(p, "t", "x", "y", {{"bad", {1, 2}, {1}}}), std::invalid_argument);
    BOOST_CHECK_THROW(tg::io::plot_lines(p, "t", "x", "y", {{"neg", {1, 2}, {-1, 0}}}, true), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
