// numpy's files as np.save writes them: float64 by default, Fortran order for a transposed or
// np.asfortranarray array, and integer labels. load_npy_as converts them (and says so);
// load_npy_labels reads labels; the hostile headers load_npy refuses stay refused.
#include "io_test_helpers.hpp"
#include "temp_dir.hpp"
#include "tapegrad/io/npy.hpp"

#include <cstdint>
#include <limits>

using tg::Matrix;
using namespace tg_test;

namespace {

std::string dict(const std::string& descr, bool fortran, const std::string& shape) {
    return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape + ", }";
}

// The 2 x 3 matrix [[1, 2, 3], [4, 5, 6]] in C order and in Fortran (column-major) order.
const std::vector<double> kRowMajor = {1, 2, 3, 4, 5, 6};
const std::vector<double> kColumnMajor = {1, 4, 2, 5, 3, 6};

}  // namespace

BOOST_AUTO_TEST_SUITE(npy_as_numpy_writes)

BOOST_AUTO_TEST_CASE(float64_and_fortran_order_are_converted_and_reported) {
    TempDir t;
    const std::string p = t.file("a.npy");
    const Matrix<float> want{{1, 2, 3}, {4, 5, 6}};
    struct Case {
        std::string descr;
        bool fortran;
        Bytes data;
        bool converted;
        std::string describe;
    };
    const std::vector<Case> cases{
        {"<f4", false, raw_bytes(std::vector<float>(kRowMajor.begin(), kRowMajor.end())), false, "float32"},
        {"<f8", false, raw_bytes(kRowMajor), true, "float64"},
        {"<f4", true, raw_bytes(std::vector<float>(kColumnMajor.begin(), kColumnMajor.end())), true, "float32, Fortran order"},
        {"<f8", true, raw_bytes(kColumnMajor), true, "float64, Fortran order"},
    };
    for (const Case& c : cases) {
        write_bytes(p, npy(dict(c.descr, c.fortran, "(2, 3)"), c.data));
        tg::io::NpyConversion conversion;
        BOOST_TEST(tg::io::load_npy_as<float>(p, &conversion) == want, c.describe);
        BOOST_TEST(conversion.converted() == c.converted, c.describe);
        BOOST_TEST(conversion.describe() == c.describe);
        BOOST_TEST(tg::io::load_npy_as<double>(p) == Matrix<double>(xt::cast<double>(want)), c.describe);
    }
    // A rank-1 Fortran-order array is one row, as in C order.
    write_bytes(p, npy(dict("<f8", true, "(3,)"), raw_bytes(std::vector<double>{7, 8, 9})));
    BOOST_TEST(tg::io::load_npy_as<float>(p) == (Matrix<float>{{7, 8, 9}}));
    // The strict loader still refuses what it refused.
    check_error<tg::io::FormatError>([&] { tg::io::load_npy<float>(p); }, {"dtype '<f8'"});
}

BOOST_AUTO_TEST_CASE(converting_loads_refuse_what_the_strict_one_refuses) {
    TempDir t;
    const std::string p = t.file("bad.npy");
    const auto err = format_error_check(p, [](const std::string& path) { tg::io::load_npy_as<float>(path); });
    const Bytes f8 = raw_bytes(kRowMajor);
    err(npy(dict("<i8", false, "(2, 3)"), f8), {"byte 10", "dtype '<i8' is not a float array"});
    err(npy(dict(">f8", false, "(2, 3)"), f8), {"'>f8' is big-endian"});
    err(npy(dict("<f8", true, "(2, 3, 1)"), f8), {"rank 3"});
    err(npy(dict("<f8", false, "(2, 3)"), Bytes(f8.begin(), f8.end() - 1)), {"truncated", "needs 48 bytes"});
    err(npy(dict("<f8", true, "(2, 3)"), raw_bytes(std::vector<float>(6))), {"truncated", "needs 48 bytes", "holds only 24"});
    Bytes longer = f8;
    longer.push_back(0);
    err(npy(dict("<f8", true, "(2, 3)"), longer), {"byte 176", "1 trailing bytes"});
    err(npy(dict("<f8", true, "(4294967296, 4294967296)"), f8), {"overflows"});
    err(npy(dict("<f8", false, "(0, 18446744073709551615)"), Bytes{}), {"exceeds 2^63 - 1"});
}

BOOST_AUTO_TEST_CASE(labels_in_every_integer_dtype_and_vector_shape) {
    TempDir t;
    const std::string p = t.file("labels.npy");
    const std::vector<std::int64_t> want{0, 9, 3, 1};
    const std::vector<std::pair<std::string, Bytes>> dtypes{
        {"<i8", raw_bytes(want)},
        {"<i4", raw_bytes(std::vector<std::int32_t>(want.begin(), want.end()))},
        {"<i2", raw_bytes(std::vector<std::int16_t>(want.begin(), want.end()))},
        {"|i1", raw_bytes(std::vector<std::int8_t>(want.begin(), want.end()))},
        {"|u1", raw_bytes(std::vector<std::uint8_t>(want.begin(), want.end()))},
        {"<u8", raw_bytes(std::vector<std::uint64_t>(want.begin(), want.end()))},
    };
    for (const auto& [descr, data] : dtypes)
        for (const std::string shape : {"(4,)", "(4, 1)", "(1, 4)"})
            for (const bool fortran : {false, true}) {
                write_bytes(p, npy(dict(descr, fortran, shape), data));
                BOOST_TEST(tg::io::load_npy_labels(p) == want, descr << " " << shape << (fortran ? " Fortran" : ""));
            }
}

BOOST_AUTO_TEST_CASE(labels_that_are_not_class_indices_are_refused_naming_index_and_byte) {
    TempDir t;
    const std::string p = t.file("labels.npy");
    const auto err = format_error_check(p, [](const std::string& path) { tg::io::load_npy_labels(path); });
    err(npy(dict("<i4", false, "(3,)"), raw_bytes(std::vector<std::int32_t>{0, -1, 2})),
        {"byte 132", "label at index 1 is -1"});
    err(npy(dict("|i1", false, "(3,)"), raw_bytes(std::vector<std::int8_t>{0, 1, -128})), {"index 2 is -128"});
    err(npy(dict("<i8", false, "(2,)"), raw_bytes(std::vector<std::int64_t>{std::int64_t(1) << 31, 0})),
        {"byte 128", "index 0 is 2147483648", "0..2^31 - 1"});
    err(npy(dict("<u8", false, "(2,)"), raw_bytes(std::vector<std::uint64_t>{1, ~std::uint64_t{0}})),
        {"index 1 is above 2^63 - 1"});
    err(npy(dict("<f4", false, "(2,)"), float_bytes({0, 1})), {"byte 10", "dtype '<f4' is not an integer array"});
    err(npy(dict(">i8", false, "(2,)"), raw_bytes(std::vector<std::int64_t>{0, 1})), {"big-endian"});
    err(npy(dict("<i8", false, "(2, 2)"), raw_bytes(std::vector<std::int64_t>{0, 1, 2, 3})), {"not a vector of labels"});
    err(npy(dict("<i8", false, "(3,)"), raw_bytes(std::vector<std::int64_t>{0, 1})), {"truncated", "needs 24 bytes"});
    err(npy(dict("<i4", false, "(1, 2)"), raw_bytes(std::vector<std::int64_t>{0, 1})), {"8 trailing bytes"});
    // Headers stay parsed strictly.
    err(npy("{'descr': '<i8', 'shape': (2,)}", raw_bytes(std::vector<std::int64_t>{0, 1})), {"no 'fortran_order' key"});
}

BOOST_AUTO_TEST_SUITE_END()
