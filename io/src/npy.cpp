#include "tapegrad/io/npy.hpp"

#include "tapegrad/io/atomic_file.hpp"

// xnpy.hpp pulls in <regex>, which trips a GCC 12 -Wmaybe-uninitialized false positive in
// sanitizer builds.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <xtensor/xnpy.hpp>
#pragma GCC diagnostic pop

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <type_traits>
#include <vector>

namespace tg::io {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;

struct Header {
    unsigned major = 0, minor = 0;
    std::uint64_t data_offset = 0;     // first byte after the header
    std::string descr;
    bool fortran_order = false;
    std::vector<std::uint64_t> shape;
    bool xtensor_compatible = false;   // xt::load_npy would parse it correctly
};

std::string shape_str(const std::vector<std::uint64_t>& s) {
    std::string out = "(";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + (s.size() == 1 ? ",)" : ")");
}

// Strict parser for the Python dict literal numpy writes, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// It also records whether the text stays inside what xtensor's ad-hoc parser handles (single
// quotes, spaces as the only whitespace, keys in numpy's order).
class HeaderParser {
public:
    HeaderParser(const std::string& path, const std::string& text, std::uint64_t base)
        : path_(path), s_(text), base_(base) {}

    void parse(Header& h) {
        skip_ws();
        expect('{');
        std::vector<std::string> keys;
        bool have_descr = false, have_fortran = false, have_shape = false;
        for (;;) {
            skip_ws();
            if (peek() == '}') break;
            const std::size_t key_at = pos_;
            const std::string key = parse_string("a dictionary key");
            skip_ws();
            expect(':');
            skip_ws();
            if (key == "descr") {
                check_unique(have_descr, key, key_at);
                if (peek() == '[') fail(pos_, "descr is a structured dtype; expected a plain float dtype");
                h.descr = parse_string("the descr value");
            } else if (key == "fortran_order") {
                check_unique(have_fortran, key, key_at);
                h.fortran_order = parse_bool();
            } else if (key == "shape") {
                check_unique(have_shape, key, key_at);
                h.shape = parse_tuple();
            } else {
                fail(key_at, "unexpected header key '" + key + "' (expected descr, fortran_order, shape)");
            }
            keys.push_back(key);
            skip_ws();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() != '}') fail(pos_, std::string("expected ',' or '}' in the header dictionary, found ") + found());
        }
        ++pos_;
        if (!have_descr) fail(0, "header has no 'descr' key");
        if (!have_fortran) fail(0, "header has no 'fortran_order' key");
        if (!have_shape) fail(0, "header has no 'shape' key");
        skip_ws();
        if (pos_ != s_.size()) fail(pos_, std::string("unexpected ") + found() + " after the header dictionary");
        canonical_ = canonical_ && keys == std::vector<std::string>{"descr", "fortran_order", "shape"} &&
                     !s_.empty() && s_.back() == '\n' && std::count(s_.begin(), s_.end(), '\n') == 1;
        h.xtensor_compatible = canonical_;
    }

private:
    [[noreturn]] void fail(std::size_t at, const std::string& problem) const {
        throw FormatError(path_ + ": byte " + std::to_string(base_ + at) + ": " + problem);
    }
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    std::string found() const {
        if (pos_ >= s_.size()) return "the end of the header";
        const unsigned char c = static_cast<unsigned char>(s_[pos_]);
        return c >= 0x20 && c < 0x7F ? "'" + std::string(1, s_[pos_]) + "'" : "byte value " + std::to_string(c);
    }
    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
            if (s_[pos_] == '\t' || s_[pos_] == '\r') canonical_ = false;
            ++pos_;
        }
    }
    void expect(char c) {
        if (peek() != c) fail(pos_, std::string("expected '") + c + "' in the header, found " + found());
        ++pos_;
    }
    void check_unique(bool& seen, const std::string& key, std::size_t at) const {
        if (seen) fail(at, "duplicate header key '" + key + "'");
        seen = true;
    }
    std::string parse_string(const char* what) {
        const char q = peek();
        if (q != '\'' && q != '"') fail(pos_, std::string("expected a quoted string for ") + what + ", found " + found());
        if (q == '"') canonical_ = false;
        const std::size_t start = ++pos_;
        while (pos_ < s_.size() && s_[pos_] != q) {
            if (s_[pos_] == '\\' || s_[pos_] == '\n') fail(pos_, "unsupported character in a header string");
            ++pos_;
        }
        if (pos_ >= s_.size()) fail(start - 1, "unterminated string in the header");
        return s_.substr(start, pos_++ - start);
    }
    bool parse_bool() {
        if (s_.compare(pos_, 4, "True") == 0) {
            pos_ += 4;
            return true;
        }
        if (s_.compare(pos_, 5, "False") == 0) {
            pos_ += 5;
            return false;
        }
        fail(pos_, "fortran_order must be True or False, found " + found());
    }
    std::vector<std::uint64_t> parse_tuple() {
        if (peek() != '(') fail(pos_, "shape must be a tuple, found " + found());
        ++pos_;
        std::vector<std::uint64_t> dims;
        bool trailing_comma = false;
        for (;;) {
            skip_ws();
            if (peek() == ')') break;
            if (!std::isdigit(static_cast<unsigned char>(peek()))) fail(pos_, "expected a dimension in shape, found " + found());
            const std::size_t at = pos_;
            std::uint64_t v = 0;
            while (std::isdigit(static_cast<unsigned char>(peek()))) {
                const unsigned digit = static_cast<unsigned>(s_[pos_++] - '0');
                if (v > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) fail(at, "shape dimension does not fit in 64 bits");
                v = v * 10 + digit;
            }
            dims.push_back(v);
            skip_ws();
            trailing_comma = peek() == ',';
            if (trailing_comma) ++pos_;
            else if (peek() != ')') fail(pos_, "expected ',' or ')' in shape, found " + found());
        }
        ++pos_;
        // In Python "(3)" is the integer 3, not a tuple.
        if (dims.size() == 1 && !trailing_comma) fail(pos_ - 1, "shape (N) is not a tuple; numpy writes (N,)");
        return dims;
    }

    const std::string& path_;
    const std::string& s_;
    std::uint64_t base_;
    std::size_t pos_ = 0;
    bool canonical_ = true;
};

template <class T>
constexpr const char* dtype_name() { return std::is_same_v<T, float> ? "float32" : "float64"; }

template <class T>
std::string expected_descr() { return std::is_same_v<T, float> ? "<f4" : "<f8"; }

[[noreturn]] void fail_at(const std::string& path, std::uint64_t at, const std::string& problem) {
    throw FormatError(path + ": byte " + std::to_string(at) + ": " + problem);
}

Header read_header(std::ifstream& in, const std::string& path, std::uint64_t file_size) {
    Header h;
    unsigned char pre[12] = {};
    if (file_size < 10) fail_at(path, file_size, "truncated: " + std::to_string(file_size) + "-byte file is shorter than the npy preamble");
    in.read(reinterpret_cast<char*>(pre), 10);
    if (!in) throw IoError(path + ": read failed");
    if (std::memcmp(pre, kMagic, kMagicLen) != 0) fail_at(path, 0, "not an npy file (missing the \\x93NUMPY magic)");
    h.major = pre[6];
    h.minor = pre[7];
    if (h.major < 1 || h.major > 3 || h.minor != 0) {
        fail_at(path, 6, "unsupported npy format version " + std::to_string(h.major) + "." + std::to_string(h.minor) +
                             " (supported: 1.0, 2.0, 3.0)");
    }
    std::uint64_t header_len = 0;
    std::size_t len_bytes = h.major == 1 ? 2 : 4;
    if (len_bytes == 4) {
        if (file_size < 12) fail_at(path, file_size, "truncated: file ends inside the header length");
        in.read(reinterpret_cast<char*>(pre + 10), 2);
        if (!in) throw IoError(path + ": read failed");
    }
    // Assembled from unsigned bytes: xtensor sign-extends plain chars here, which is why it
    // rejects valid headers whose length has a byte >= 0x80.
    bool high_byte = false;
    for (std::size_t i = 0; i < len_bytes; ++i) {
        header_len |= std::uint64_t{pre[8 + i]} << (8 * i);
        high_byte = high_byte || pre[8 + i] >= 0x80;
    }
    h.data_offset = 8 + len_bytes + header_len;
    if (header_len > kMaxNpyHeaderBytes) {
        fail_at(path, 8, "header length " + std::to_string(header_len) + " exceeds the limit of " +
                             std::to_string(kMaxNpyHeaderBytes) + " bytes");
    }
    if (h.data_offset > file_size) {
        fail_at(path, 8, "truncated: header length " + std::to_string(header_len) + " runs past the end of the " +
                             std::to_string(file_size) + "-byte file");
    }
    std::string text(static_cast<std::size_t>(header_len), '\0');
    in.read(text.data(), static_cast<std::streamsize>(header_len));
    if (!in) throw IoError(path + ": read failed");
    HeaderParser(path, text, 8 + len_bytes).parse(h);
    h.xtensor_compatible = h.xtensor_compatible && h.major <= 2 && !high_byte;
    return h;
}

}  // namespace

template <class T>
Matrix<T> load_npy(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path + ": cannot open: " + std::strerror(errno));
    in.seekg(0, std::ios::end);
    const std::streamoff end = in.tellg();
    in.seekg(0);
    if (end < 0 || !in) throw IoError(path + ": cannot determine the file size");
    const auto file_size = static_cast<std::uint64_t>(end);
    const Header h = read_header(in, path, file_size);
    const std::uint64_t hdr_start = h.major == 1 ? 10 : 12;

    const std::string want = expected_descr<T>();
    if (h.descr.size() >= 2 && h.descr[0] == '>') {
        fail_at(path, hdr_start, "dtype '" + h.descr + "' is big-endian; only little-endian '" + want + "' is supported");
    }
    if (h.descr != want) {
        fail_at(path, hdr_start, "dtype '" + h.descr + "' does not match the requested " + dtype_name<T>() + " ('" + want + "')");
    }
    if (h.fortran_order) {
        fail_at(path, hdr_start, "fortran_order is True (column-major data); only C order is supported");
    }
    if (h.shape.size() != 1 && h.shape.size() != 2) {
        fail_at(path, hdr_start, "shape " + shape_str(h.shape) + " has rank " + std::to_string(h.shape.size()) +
                                     "; expected rank 2 (or rank 1, read as 1 x N)");
    }
    const std::uint64_t rows = h.shape.size() == 2 ? h.shape[0] : 1;
    const std::uint64_t cols = h.shape.back();
    // numpy's dimensions are npy_intp (signed 64-bit): a larger one is not a numpy file, and a
    // zero in the other dimension would otherwise let it through the byte-count checks below.
    for (const std::uint64_t dim : h.shape) {
        if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            fail_at(path, hdr_start, "shape " + shape_str(h.shape) + ": dimension " + std::to_string(dim) +
                                         " exceeds 2^63 - 1, numpy's limit");
    }
    const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    if ((cols != 0 && rows > max / cols) || rows * cols > (max - h.data_offset) / sizeof(T)) {
        fail_at(path, hdr_start, "shape " + shape_str(h.shape) + " overflows: its byte count does not fit in 64 bits");
    }
    const std::uint64_t count = rows * cols;
    const std::uint64_t bytes = count * sizeof(T);
    if (file_size - h.data_offset < bytes) {
        throw FormatError(path + ": truncated: shape " + shape_str(h.shape) + " needs " + std::to_string(bytes) +
                          " bytes of data after byte " + std::to_string(h.data_offset) + ", the file holds only " +
                          std::to_string(file_size - h.data_offset));
    }
    if (file_size - h.data_offset > bytes) {
        fail_at(path, h.data_offset + bytes, std::to_string(file_size - h.data_offset - bytes) +
                                                 " trailing bytes after the data of shape " + shape_str(h.shape));
    }

    Matrix<T> m = make_matrix<T>(static_cast<std::size_t>(rows), static_cast<std::size_t>(cols));
    if (h.xtensor_compatible) {
        in.seekg(0);
        auto a = [&] {
            try {
                return xt::load_npy<T>(in);
            } catch (const std::runtime_error& e) {
                // Means our compatibility test let through something xtensor cannot parse.
                throw FormatError(path + ": xtensor's npy reader rejected a validated header: " + e.what());
            }
        }();
        if (!in || a.dimension() != h.shape.size() || a.size() != count) {
            throw FormatError(path + ": read failed, or the file changed while being read");
        }
        std::copy(a.data(), a.data() + count, m.data());
    } else {
        in.seekg(static_cast<std::streamoff>(h.data_offset));
        in.read(reinterpret_cast<char*>(m.data()), static_cast<std::streamsize>(bytes));
        if (!in) throw FormatError(path + ": read failed, or the file changed while being read");
    }
    return m;
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
template void save_npy<float>(const std::string&, const Matrix<float>&);
template void save_npy<double>(const std::string&, const Matrix<double>&);

}  // namespace tg::io
