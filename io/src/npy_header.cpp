// The npy header: preamble, length field and a strict parse of the dictionary (see npy.hpp).
#include "npy_header.hpp"

#include "tapegrad/io/npy.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <cerrno>
#include <limits>

namespace tg::io::detail {
namespace {


constexpr char kMagic[] = "\x93NUMPY";
constexpr std::size_t kMagicLen = 6;


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

}  // namespace

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


std::string shape_str(const std::vector<std::uint64_t>& s) {
    std::string out = "(";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + (s.size() == 1 ? ",)" : ")");
}


void fail_at(const std::string& path, std::uint64_t at, const std::string& problem) {
    throw FormatError(path + ": byte " + std::to_string(at) + ": " + problem);
}

NpyFile open_npy(const std::string& path) {
    NpyFile f;
    f.path = path;
    f.in.open(path, std::ios::binary);
    if (!f.in) throw IoError(path + ": cannot open: " + std::strerror(errno));
    f.in.seekg(0, std::ios::end);
    const std::streamoff end = f.in.tellg();
    f.in.seekg(0);
    if (end < 0 || !f.in) throw IoError(path + ": cannot determine the file size");
    f.file_size = static_cast<std::uint64_t>(end);
    f.header = read_header(f.in, path, f.file_size);
    f.header_at = f.header.major == 1 ? 10 : 12;
    return f;
}

std::uint64_t check_data_size(const NpyFile& f, std::size_t element_size) {
    const Header& h = f.header;
    // numpy's dimensions are npy_intp (signed 64-bit): a larger one is not a numpy file, and a
    // zero in another dimension would otherwise let it through the byte-count checks below.
    for (const std::uint64_t dim : h.shape) {
        if (dim > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            fail_at(f.path, f.header_at, "shape " + shape_str(h.shape) + ": dimension " + std::to_string(dim) +
                                             " exceeds 2^63 - 1, numpy's limit");
    }
    const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    std::uint64_t count = 1;
    bool overflow = false;
    for (const std::uint64_t dim : h.shape) {
        overflow = overflow || (dim != 0 && count > max / dim);
        count *= dim;
    }
    if (overflow || count > (max - h.data_offset) / element_size)
        fail_at(f.path, f.header_at, "shape " + shape_str(h.shape) + " overflows: its byte count does not fit in 64 bits");
    const std::uint64_t bytes = count * element_size;
    const std::uint64_t present = f.file_size - h.data_offset;
    if (present < bytes) {
        throw FormatError(f.path + ": truncated: shape " + shape_str(h.shape) + " needs " + std::to_string(bytes) +
                          " bytes of data after byte " + std::to_string(h.data_offset) + ", the file holds only " +
                          std::to_string(present));
    }
    if (present > bytes) {
        fail_at(f.path, h.data_offset + bytes,
                std::to_string(present - bytes) + " trailing bytes after the data of shape " + shape_str(h.shape));
    }
    return count;
}

void read_data(NpyFile& f, void* out, std::uint64_t bytes) {
    f.in.seekg(static_cast<std::streamoff>(f.header.data_offset));
    f.in.read(static_cast<char*>(out), static_cast<std::streamsize>(bytes));
    if (!f.in) throw FormatError(f.path + ": read failed, or the file changed while being read");
}

}  // namespace tg::io::detail
