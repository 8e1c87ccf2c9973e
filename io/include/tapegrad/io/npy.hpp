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
// Saving writes xt::dump_npy's output through write_file_atomically: `path` is replaced
// atomically or left untouched.
#include "tapegrad/io/errors.hpp"
#include "tapegrad/tensor.hpp"

#include <string>

namespace tg::io {

// Refuse npy headers longer than this (numpy writes < 200 bytes for any 2-D array).
inline constexpr std::size_t kMaxNpyHeaderBytes = 1 << 20;

template <class T>
Matrix<T> load_npy(const std::string& path);

template <class T>
void save_npy(const std::string& path, const Matrix<T>& m);

extern template Matrix<float> load_npy<float>(const std::string&);
extern template Matrix<double> load_npy<double>(const std::string&);
extern template void save_npy<float>(const std::string&, const Matrix<float>&);
extern template void save_npy<double>(const std::string&, const Matrix<double>&);

}  // namespace tg::io
