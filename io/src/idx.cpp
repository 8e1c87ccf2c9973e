#include "tapegrad/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>

namespace tg::io {
namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;
constexpr std::uint32_t kLabelsMagic = 0x00000801;
constexpr std::uint8_t kUnsignedByte = 0x08;

std::string hex32(std::uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", v);
    return buf;
}

// Sequential reader over a gzip or plain file that tracks the decompressed offset, so every
// error can say where it happened.
class IdxReader {
public:
    explicit IdxReader(const std::string& path) : path_(path) {
        errno = 0;
        file_ = gzopen(path.c_str(), "rb");
        if (file_ == nullptr) {
            throw IoError(path + ": cannot open: " +
                          (errno != 0 ? std::strerror(errno) : "zlib could not allocate state"));
        }
        gzbuffer(file_, 1 << 17);
    }
    ~IdxReader() { gzclose(file_); }
    IdxReader(const IdxReader&) = delete;
    IdxReader& operator=(const IdxReader&) = delete;

    std::uint64_t offset() const { return offset_; }

    [[noreturn]] void fail(std::uint64_t at, const std::string& problem) const {
        throw FormatError(path_ + ": byte " + std::to_string(at) + ": " + problem);
    }

    // Reads up to n bytes; returns how many were read (fewer only at end of file).
    std::size_t read_some(std::uint8_t* dst, std::size_t n) {
        std::size_t done = 0;
        while (done < n) {
            const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - done, 1u << 20));
            const int got = gzread(file_, dst + done, chunk);
            if (got < 0) {
                int code = 0;
                const char* msg = gzerror(file_, &code);
                if (code == Z_ERRNO) throw IoError(path_ + ": read failed: " + std::strerror(errno));
                fail(offset_ + done, std::string("corrupt gzip stream: ") + msg);
            }
            if (got == 0) {
                // A gzip stream that ends early (no CRC32/ISIZE trailer, cut inside a block)
                // still yields its data; zlib reports it only here, as Z_BUF_ERROR.
                int code = Z_OK;
                const char* msg = gzerror(file_, &code);
                if (code != Z_OK) fail(offset_ + done, std::string("corrupt gzip stream: ") + msg);
                break;
            }
            done += static_cast<std::size_t>(got);
        }
        offset_ += done;
        return done;
    }

    std::uint32_t read_be32(const char* what) {
        std::array<std::uint8_t, 4> b{};
        const std::uint64_t at = offset_;
        const std::size_t got = read_some(b.data(), 4);
        if (got != 4) {
            fail(at, std::string("truncated header: file ends at byte ") + std::to_string(offset_) +
                         " while reading the " + what);
        }
        return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
               std::uint32_t{b[3]};
    }

    // Bytes left in a plain (not gzip'ed) file, or -1 when unknown. zlib only knows whether the
    // file is compressed after the first read, so call this after reading the header.
    long long plain_bytes_left() const {
        if (gzdirect(file_) != 1) return -1;
        struct stat st {};
        if (::stat(path_.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
        return static_cast<long long>(st.st_size) - static_cast<long long>(offset_);
    }

    // Reads exactly n bytes of payload, allocating only as data actually arrives.
    std::vector<std::uint8_t> read_payload(std::uint64_t n, const char* what) {
        const std::uint64_t start = offset_;
        const long long left = plain_bytes_left();
        if (left >= 0 && static_cast<unsigned long long>(left) < n) {
            throw FormatError(path_ + ": truncated: expected " + std::to_string(n) + " bytes of " + what +
                              " after byte " + std::to_string(start) + ", the file holds only " +
                              std::to_string(left));
        }
        std::vector<std::uint8_t> data;
        data.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(n, 1u << 22)));
        while (data.size() < n) {
            const std::size_t old = data.size();
            const std::size_t want = static_cast<std::size_t>(
                std::min<std::uint64_t>(n - old, std::max<std::size_t>(old, 1u << 22)));
            data.resize(old + want);
            const std::size_t got = read_some(data.data() + old, want);
            data.resize(old + got);
            if (got < want) {
                throw FormatError(path_ + ": truncated: expected " + std::to_string(n) + " bytes of " + what +
                                  " after byte " + std::to_string(start) + ", the file ends after " +
                                  std::to_string(data.size()) + " (at byte " + std::to_string(offset_) + ")");
            }
        }
        return data;
    }

    void expect_end() {
        std::uint8_t extra[64];
        const std::uint64_t at = offset_;
        const std::size_t got = read_some(extra, sizeof extra);
        if (got > 0) {
            fail(at, "trailing data after the last element (" +
                         std::string(got == sizeof extra ? "at least " : "") + std::to_string(got) +
                         " extra bytes)");
        }
    }

    // Checks the 4-byte magic: two zero bytes, element type, dimension count.
    void read_magic(std::uint32_t expected, const char* kind) {
        const std::uint32_t magic = read_be32("magic number");
        const std::string tail = " (magic " + hex32(magic) + ", expected " + hex32(expected) + ": " + kind + ")";
        if ((magic >> 16) != 0) fail(0, "not an IDX file" + tail);
        if (((magic >> 8) & 0xFF) != kUnsignedByte) {
            fail(2, "element type " + std::to_string((magic >> 8) & 0xFF) + " is not unsigned byte (8)" + tail);
        }
        if ((magic & 0xFF) != (expected & 0xFF)) {
            fail(3, "expected " + std::to_string(expected & 0xFF) + " dimension(s), found " +
                        std::to_string(magic & 0xFF) + tail);
        }
    }

    std::uint64_t read_dim(const char* name) {
        const std::uint64_t at = offset_;
        const std::uint32_t d = read_be32(name);
        if (d == 0) fail(at, std::string(name) + " is 0");
        return d;
    }

private:
    std::string path_;
    gzFile file_ = nullptr;
    std::uint64_t offset_ = 0;
};

}  // namespace

Matrix<float> load_idx_images(const std::string& path, std::size_t* rows_out, std::size_t* cols_out) {
    IdxReader in(path);
    in.read_magic(kImagesMagic, "IDX unsigned-byte images, 3 dimensions");
    const std::uint64_t n = in.read_dim("image count");
    const std::uint64_t rows = in.read_dim("image rows");
    const std::uint64_t cols = in.read_dim("image columns");
    // Each factor is < 2^32, so rows*cols cannot overflow; the second product is checked by
    // division before it is formed.
    const std::uint64_t per_image = rows * cols;
    if (per_image > kMaxIdxBytes || n > kMaxIdxBytes / per_image) {
        in.fail(4, "dimensions " + std::to_string(n) + " x " + std::to_string(rows) + " x " +
                       std::to_string(cols) + " claim more than the " + std::to_string(kMaxIdxBytes) +
                       "-byte limit");
    }
    const std::vector<std::uint8_t> pixels = in.read_payload(n * per_image, "pixel data");
    in.expect_end();

    std::array<float, 256> scale{};
    for (std::size_t v = 0; v < 256; ++v) scale[v] = static_cast<float>(v) / 255.0f;
    Matrix<float> images = make_matrix<float>(static_cast<std::size_t>(n), static_cast<std::size_t>(per_image));
    float* dst = images.data();
    for (std::size_t i = 0; i < pixels.size(); ++i) dst[i] = scale[pixels[i]];
    if (rows_out != nullptr) *rows_out = static_cast<std::size_t>(rows);
    if (cols_out != nullptr) *cols_out = static_cast<std::size_t>(cols);
    return images;
}

std::vector<std::uint8_t> load_idx_labels(const std::string& path) {
    IdxReader in(path);
    in.read_magic(kLabelsMagic, "IDX unsigned-byte labels, 1 dimension");
    const std::uint64_t n = in.read_dim("label count");
    if (n > kMaxIdxBytes) {
        in.fail(4, "label count " + std::to_string(n) + " exceeds the " + std::to_string(kMaxIdxBytes) +
                       "-byte limit");
    }
    std::vector<std::uint8_t> labels = in.read_payload(n, "label data");
    in.expect_end();
    return labels;
}

namespace {

std::string pick_existing(const std::string& dir, const std::string& base) {
    const std::filesystem::path gz = std::filesystem::path(dir) / (base + ".gz");
    const std::filesystem::path plain = std::filesystem::path(dir) / base;
    std::error_code ec;
    if (!std::filesystem::exists(gz, ec) && std::filesystem::exists(plain, ec)) return plain.string();
    return gz.string();  // also the name reported if neither exists
}

}  // namespace

Dataset load_fashion_mnist(const std::string& dir, const std::string& split) {
    if (split != "train" && split != "t10k") {
        throw std::invalid_argument("load_fashion_mnist: split must be \"train\" or \"t10k\", got \"" + split + "\"");
    }
    const std::string images_path = pick_existing(dir, split + "-images-idx3-ubyte");
    const std::string labels_path = pick_existing(dir, split + "-labels-idx1-ubyte");
    Dataset ds;
    ds.images = load_idx_images(images_path, &ds.rows, &ds.cols);
    ds.labels = load_idx_labels(labels_path);
    if (ds.labels.size() != ds.images.shape()[0]) {
        throw FormatError(labels_path + ": byte 4: holds " + std::to_string(ds.labels.size()) +
                          " labels but " + images_path + " holds " + std::to_string(ds.images.shape()[0]) +
                          " images");
    }
    for (std::size_t i = 0; i < ds.labels.size(); ++i) {
        if (ds.labels[i] > 9) {
            throw FormatError(labels_path + ": byte " + std::to_string(8 + i) + ": label " +
                              std::to_string(ds.labels[i]) + " is outside the 10 Fashion-MNIST classes 0..9");
        }
    }
    return ds;
}

Dataset load_fashion_mnist(const std::string& split) { return load_fashion_mnist(kFashionMnistDir, split); }

}  // namespace tg::io
