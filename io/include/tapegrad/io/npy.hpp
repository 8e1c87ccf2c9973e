#pragma once
// NumPy .npy files for Matrix<float> and Matrix<double>.
//
// Loading validates everything xtensor's reader (xt::load_npy) trusts blindly before any data
// is read or allocated: magic, version (1.0, 2.0 and 3.0), header length, a strict parse of the
// header dictionary (exactly the keys descr / fortran_order / shape), dtype == T in
// little-endian ('<f4' / '<f8'), fortran_order False, rank 2 (a rank-1 shape (N,) is read as
// 1 x N; ranks 0 and >= 3 are rejected), no overflow in the element count, and a file size of
// exactly header + count * sizeof(T) (truncated data or trailing bytes are errors). Files that
// xtensor parses correctly are then read with xt::load_npy; the ones it would reject although
// valid (a header-length byte >= 0x80, version 3.0, keys in non-canonical order) are read
// directly. Errors throw tg::io::FormatError ("<path>: byte <offset>: <problem>") or
// tg::io::IoError.
//
// load_npy_as<T> accepts numpy's files as np.save writes them: float32 or float64, C or Fortran
// order, converted to a row-major Matrix<T> (the conversion is reported through NpyConversion so
// that a caller can say so once). load_npy_labels reads integer class labels. Both validate the
// header and sizes exactly as load_npy does.
//
// Saving writes xt::dump_npy's output through write_file_atomically: `path` is replaced
// atomically or left untouched.
#include "tapegrad/io/errors.hpp"
#include "tapegrad/tensor.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tg::io {

// Refuse npy headers longer than this (numpy writes < 200 bytes for any 2-D array).
inline constexpr std::size_t kMaxNpyHeaderBytes = 1 << 20;

template <class T>
Matrix<T> load_npy(const std::string& path);

/// What load_npy_as found in the file, against what it returns.
struct NpyConversion {
    std::string stored_dtype;   ///< "float32" or "float64"
    std::string target_dtype;   ///< the T it was read as
    bool fortran_order = false; ///< the file is column-major
    /// True when the values were converted or reordered.
    bool converted() const;
    /// "float64, Fortran order", "float32", ...
    std::string describe() const;
};

/// A float32 or float64 array in C or Fortran order (rank 2, or rank 1 as one row) as Matrix<T>.
template <class T>
Matrix<T> load_npy_as(const std::string& path, NpyConversion* conversion = nullptr);

/// Class labels: an integer array ('<i8', '<i4', '<i2', '|i1', or unsigned) of shape (N,), (N, 1)
/// or (1, N). A negative label or one above 2^31 - 1 is a FormatError naming its index and byte;
/// a float array is refused.
std::vector<std::int64_t> load_npy_labels(const std::string& path);

template <class T>
void save_npy(const std::string& path, const Matrix<T>& m);

extern template Matrix<float> load_npy<float>(const std::string&);
extern template Matrix<double> load_npy<double>(const std::string&);
extern template Matrix<float> load_npy_as<float>(const std::string&, NpyConversion*);
extern template Matrix<double> load_npy_as<double>(const std::string&, NpyConversion*);
extern template void save_npy<float>(const std::string&, const Matrix<float>&);
extern template void save_npy<double>(const std::string&, const Matrix<double>&);

}  // namespace tg::io
