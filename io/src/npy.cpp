#include "tapegrad/io/npy.hpp"

#include "npy_header.hpp"
#include "tapegrad/io/atomic_file.hpp"

// xnpy.hpp pulls in <regex>, which trips a GCC 12 -Wmaybe-uninitialized false positive in
// sanitizer builds.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <xtensor/xnpy.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

namespace tg::io {
namespace {

using detail::fail_at;
using detail::NpyFile;
using detail::shape_str;

template <class T>
constexpr const char* dtype_name() { return std::is_same_v<T, float> ? "float32" : "float64"; }

template <class T>
std::string expected_descr() { return std::is_same_v<T, float> ? "<f4" : "<f8"; }

void refuse_big_endian(const NpyFile& f, const std::string& supported) {
    const std::string& d = f.header.descr;
    if (d.size() >= 2 && d[0] == '>')
        fail_at(f.path, f.header_at, "dtype '" + d + "' is big-endian; only little-endian " + supported + " is supported");
}

// A matrix is stored as rank 2, or rank 1 read as one row.
std::pair<std::size_t, std::size_t> matrix_shape(const NpyFile& f) {
    const std::vector<std::uint64_t>& s = f.header.shape;
    if (s.size() != 1 && s.size() != 2) {
        fail_at(f.path, f.header_at, "shape " + shape_str(s) + " has rank " + std::to_string(s.size()) +
                                         "; expected rank 2 (or rank 1, read as 1 x N)");
    }
    return {s.size() == 2 ? s[0] : 1, s.back()};
}

// Reads the data of `f` (Source elements, C or Fortran order) into a row-major Matrix<T>.
template <class T, class Source>
Matrix<T> read_converted(NpyFile& f, std::size_t rows, std::size_t cols, std::uint64_t count) {
    std::vector<Source> raw(count);
    detail::read_data(f, raw.data(), count * sizeof(Source));
    Matrix<T> m = make_matrix<T>(rows, cols);
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j)
            m(i, j) = static_cast<T>(f.header.fortran_order ? raw[j * rows + i] : raw[i * cols + j]);
    return m;
}

}  // namespace

bool NpyConversion::converted() const { return fortran_order || (!stored_dtype.empty() && stored_dtype != target_dtype); }

std::string NpyConversion::describe() const {
    return stored_dtype + (fortran_order ? ", Fortran order" : "");
}

template <class T>
Matrix<T> load_npy(const std::string& path) {
    NpyFile f = detail::open_npy(path);
    const std::string want = expected_descr<T>();
    refuse_big_endian(f, "'" + want + "'");
    if (f.header.descr != want) {
        fail_at(path, f.header_at, "dtype '" + f.header.descr + "' does not match the requested " + dtype_name<T>() + " ('" +
                                       want + "')");
    }
    if (f.header.fortran_order) {
        fail_at(path, f.header_at, "fortran_order is True (column-major data); only C order is supported");
    }
    const auto [rows, cols] = matrix_shape(f);
    const std::uint64_t count = detail::check_data_size(f, sizeof(T));

    Matrix<T> m = make_matrix<T>(rows, cols);
    if (f.header.xtensor_compatible) {
        f.in.seekg(0);
        auto a = [&] {
            try {
                return xt::load_npy<T>(f.in);
            } catch (const std::runtime_error& e) {
                // Means our compatibility test let through something xtensor cannot parse.
                throw FormatError(path + ": xtensor's npy reader rejected a validated header: " + e.what());
            }
        }();
        if (!f.in || a.dimension() != f.header.shape.size() || a.size() != count) {
            throw FormatError(path + ": read failed, or the file changed while being read");
        }
        std::copy(a.data(), a.data() + count, m.data());
    } else {
        detail::read_data(f, m.data(), count * sizeof(T));
    }
    return m;
}

template <class T>
Matrix<T> load_npy_as(const std::string& path, NpyConversion* conversion) {
    NpyFile f = detail::open_npy(path);
    refuse_big_endian(f, "'<f4' or '<f8'");
    const std::string& descr = f.header.descr;
    if (descr != "<f4" && descr != "<f8") {
        fail_at(path, f.header_at, "dtype '" + descr + "' is not a float array; expected float32 ('<f4') or float64 ('<f8')" +
                                       " to read as " + dtype_name<T>());
    }
    const auto [rows, cols] = matrix_shape(f);
    const bool is_float = descr == "<f4";
    const std::uint64_t count = detail::check_data_size(f, is_float ? sizeof(float) : sizeof(double));
    if (conversion) *conversion = NpyConversion{is_float ? "float32" : "float64", dtype_name<T>(), f.header.fortran_order};
    if (descr == expected_descr<T>() && !f.header.fortran_order) return load_npy<T>(path);  // the strict path, as before
    return is_float ? read_converted<T, float>(f, rows, cols, count) : read_converted<T, double>(f, rows, cols, count);
}

namespace {

// One integer dtype numpy writes: its descr and how to read an element as int64 (unsigned
// 64-bit values above 2^63 - 1 are returned as -1, which the range check refuses).
struct IntegerDtype {
    const char* descr;
    std::size_t size;
    bool is_signed;
};
constexpr IntegerDtype kLabelDtypes[] = {{"<i8", 8, true}, {"<i4", 4, true}, {"<i2", 2, true}, {"|i1", 1, true},
                                         {"<u8", 8, false}, {"<u4", 4, false}, {"<u2", 2, false}, {"|u1", 1, false}};

std::int64_t read_integer(const unsigned char* p, const IntegerDtype& t) {
    std::uint64_t v = 0;
    for (std::size_t b = 0; b < t.size; ++b) v |= std::uint64_t{p[b]} << (8 * b);
    if (t.is_signed && t.size < 8 && (v >> (8 * t.size - 1)) != 0) v |= ~std::uint64_t{0} << (8 * t.size);  // sign-extend
    if (!t.is_signed && v > std::uint64_t(std::numeric_limits<std::int64_t>::max())) return -1;
    return static_cast<std::int64_t>(v);
}

}  // namespace

std::vector<std::int64_t> load_npy_labels(const std::string& path) {
    NpyFile f = detail::open_npy(path);
    refuse_big_endian(f, "integer labels");
    const std::string& descr = f.header.descr;
    const IntegerDtype* type = nullptr;
    for (const IntegerDtype& t : kLabelDtypes)
        if (descr == t.descr || (t.size == 1 && descr == std::string("<") + (t.descr + 1))) type = &t;
    if (!type) {
        fail_at(path, f.header_at, "dtype '" + descr + "' is not an integer array; labels must be int64, int32, int16, " +
                                       "int8 or unsigned ('<i8', '<i4', '|u1', ...)");
    }
    const std::vector<std::uint64_t>& s = f.header.shape;
    // (N,), (N, 1) and (1, N) hold the same bytes in C and Fortran order.
    if (!(s.size() == 1 || (s.size() == 2 && (s[0] == 1 || s[1] == 1)))) {
        fail_at(path, f.header_at, "shape " + shape_str(s) + " is not a vector of labels; expected (N,), (N, 1) or (1, N)");
    }
    const std::uint64_t count = detail::check_data_size(f, type->size);
    std::vector<unsigned char> raw(count * type->size);
    detail::read_data(f, raw.data(), raw.size());
    std::vector<std::int64_t> labels(count);
    constexpr std::int64_t kMaxLabel = std::numeric_limits<std::int32_t>::max();
    for (std::size_t i = 0; i < count; ++i) {
        const std::int64_t v = read_integer(raw.data() + i * type->size, *type);
        if (v < 0 || v > kMaxLabel) {
            fail_at(path, f.header.data_offset + i * type->size,
                    "label at index " + std::to_string(i) + " is " +
                        (v < 0 && !type->is_signed ? std::string("above 2^63 - 1") : std::to_string(v)) +
                        "; labels are class indices in 0..2^31 - 1");
        }
        labels[i] = v;
    }
    return labels;
}

template <class T>
void save_npy(const std::string& path, const Matrix<T>& m) {
    // dump_npy's in-memory form is used because the file form cannot write through our
    // atomic stream; the copy is the size of the matrix.
    const std::string bytes = xt::dump_npy(m);
    write_file_atomically(path, [&](std::ostream& os) { os.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

template Matrix<float> load_npy<float>(const std::string&);
template Matrix<double> load_npy<double>(const std::string&);
template Matrix<float> load_npy_as<float>(const std::string&, NpyConversion*);
template Matrix<double> load_npy_as<double>(const std::string&, NpyConversion*);
template void save_npy<float>(const std::string&, const Matrix<float>&);
template void save_npy<double>(const std::string&, const Matrix<double>&);

}  // namespace tg::io
