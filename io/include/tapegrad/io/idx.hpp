#pragma once
// Reader for the IDX format of MNIST and Fashion-MNIST (gzip'ed or plain; zlib detects which).
//
// Every check runs before the pixel matrix is allocated: magic number, dimension count, zero
// or absurd dimensions (more than kMaxIdxBytes of data, or more than a plain file holds),
// truncated data and trailing bytes. gzip input is decompressed incrementally, so a header
// claiming far more data than the stream holds costs no more memory than the stream itself.
// Failures throw tg::io::FormatError ("<path>: byte <offset>: <problem>"; offsets count
// decompressed bytes) or tg::io::IoError (file cannot be opened or read).
#include "tapegrad/io/errors.hpp"
#include "tapegrad/tensor.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tg::io {

// Refuse files whose header claims more than this much data (1 GiB; Fashion-MNIST's training
// images are 47 MB): a corrupt header must not make us allocate the machine's memory.
inline constexpr std::uint64_t kMaxIdxBytes = std::uint64_t{1} << 30;

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct Dataset {
    Matrix<float> images;              // N x (rows*cols), row-major pixels scaled to [0, 1]
    std::vector<std::uint8_t> labels;  // N class indices, each < 10
    std::size_t rows = 0, cols = 0;    // size of one image
};

// IDX magic 0x00000803: unsigned-byte images N x rows x cols. Returns N x (rows*cols) floats
// p/255. The image size is stored in *rows / *cols when those are non-null.
Matrix<float> load_idx_images(const std::string& path, std::size_t* rows = nullptr,
                              std::size_t* cols = nullptr);

// IDX magic 0x00000801: N unsigned-byte labels.
std::vector<std::uint8_t> load_idx_labels(const std::string& path);

// Loads <dir>/<split>-images-idx3-ubyte[.gz] and <dir>/<split>-labels-idx1-ubyte[.gz] (the .gz
// name is preferred when both exist) and checks that the counts agree and labels are < 10.
// split is "train" or "t10k"; anything else throws std::invalid_argument.
Dataset load_fashion_mnist(const std::string& dir, const std::string& split);
// Same, from kFashionMnistDir.
Dataset load_fashion_mnist(const std::string& split);

}  // namespace tg::io
