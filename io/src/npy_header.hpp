#pragma once
// Internal to tapegrad_io: the npy preamble and header dictionary, read and validated before any
// data is read or allocated, shared by the float loaders and the label loader (npy.cpp).
#include "tapegrad/io/errors.hpp"

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace tg::io::detail {

struct Header {
    unsigned major = 0, minor = 0;
    std::uint64_t data_offset = 0;     // first byte after the header
    std::string descr;
    bool fortran_order = false;
    std::vector<std::uint64_t> shape;
    bool xtensor_compatible = false;   // xt::load_npy would parse it correctly
};

/// Reads and strictly parses the preamble and dictionary of an open file of `file_size` bytes.
Header read_header(std::ifstream& in, const std::string& path, std::uint64_t file_size);

/// "(2, 3)", "(6,)": the shape as numpy prints it.
std::string shape_str(const std::vector<std::uint64_t>& shape);

/// Throws FormatError("<path>: byte <at>: <problem>").
[[noreturn]] void fail_at(const std::string& path, std::uint64_t at, const std::string& problem);

/// An npy file, open, with its header read.
struct NpyFile {
    std::string path;
    std::ifstream in;
    std::uint64_t file_size = 0;
    Header header;
    std::uint64_t header_at = 0;  // byte where the dictionary starts (errors about it point here)
};

NpyFile open_npy(const std::string& path);

/// Checks that the data part holds exactly the shape's elements of `element_size` bytes (no
/// dimension beyond numpy's 2^63 - 1, no overflow, no truncation, no trailing bytes); returns the
/// element count.
std::uint64_t check_data_size(const NpyFile& f, std::size_t element_size);

/// Reads `bytes` bytes of data from the data offset into `out`.
void read_data(NpyFile& f, void* out, std::uint64_t bytes);

}  // namespace tg::io::detail
